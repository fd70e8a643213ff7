// Package cli is keysweep's command line: plan, sweep, manage the policy,
// read and verify the audit trail, revoke or inspect a key, run the Lambda
// handlers in-process, serve the API on loopback, write the posture report,
// and a local demo. One file per command, each with its options and a run
// function that tests call directly; github.com/spf13/cobra parses the
// command line. AWS configuration comes from the standard chain (profiles,
// environment, AWS_ENDPOINT_URL for an emulator); everything else is built
// by internal/wiring.
package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"syscall"

	"github.com/spf13/cobra"
)

// Exit codes scripts can rely on.
const (
	ExitOK       = 0
	ExitFailure  = 1 // a key store or journal call failed, or the run failed
	ExitUsage    = 2 // bad flags, arguments or input files; nothing changed
	ExitBlocked  = 3 // the blast-radius cap or an invalid stored policy stopped the run; nothing changed
	ExitPartial  = 4 // the run stopped at its deadline; the next run continues
	ExitNotFound = 5 // the key, run or policy asked for does not exist
)

const topUsage = `keysweep: keep cloud accounts free of stale long-lived access keys.

Usage: keysweep COMMAND [flags]

Commands:
  plan                 judge every key now (or --at a date) and print the decisions; changes nothing
  sweep                run one sweep exactly as the scheduled Lambda does
  policy get|put|validate
                       read, store or check the policy document
  audit                read the audit trail (--key ID | --run ID | --user NAME),
                       or check its hash chain (--verify)
  revoke KEY           deactivate or delete one key now, with an audit record
  key KEY              show one key: owner, status, dates, decision, history
  report               write the posture report: one self-contained HTML page
  invoke sweeper|api --event FILE
                       run a Lambda handler in-process on an event file (the
                       Docker-free counterpart of 'sam local invoke')
  serve                serve the API over plain HTTP on loopback (no auth)
  tables create        create the policy and audit tables (local emulator)
  demo                 start the local emulator, seed a sample account, sweep it
  help                 this text

Table names come from --policy-table/--audit-table or the POLICY_TABLE and
AUDIT_TABLE environment variables the Lambda reads. --target NAME picks a key
store: aws (the default) or one named in KEYSWEEP_TARGETS. Run
'keysweep COMMAND --help' for a command's flags.

Exit codes: 0 ok, 1 failure, 2 bad usage or input, 3 blocked (cap or invalid
policy: nothing changed), 4 partial run (continues next run), 5 not found.
`

// Execute runs keysweep on the process's arguments and returns its exit
// code: cmd/keysweep is os.Exit(cli.Execute()).
func Execute() int {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	return Run(ctx, os.Args[1:], os.Stdout, os.Stderr)
}

// Run runs keysweep on args with the given output streams and returns its
// exit code.
func Run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	s := &streams{out: stdout, err: stderr, log: newLogger(stderr)}
	root := newRoot(s)
	root.SetArgs(args)
	root.SetOut(stdout)
	root.SetErr(stderr)
	cmd, err := root.ExecuteContextC(ctx)
	return s.exitCode(cmd, err)
}

// streams are where a command writes: results on out, everything else
// (notes, progress, logs) on err.
type streams struct {
	out, err io.Writer
	log      *slog.Logger
}

func newLogger(w io.Writer) *slog.Logger {
	level := slog.LevelWarn
	if os.Getenv("KEYSWEEP_DEBUG") != "" {
		level = slog.LevelDebug
	}
	return slog.New(slog.NewTextHandler(w, &slog.HandlerOptions{Level: level}))
}

// quiet is the logger of a handler whose every failure the CLI prints
// itself (the sweeper's, the organization fan-out's): it logs only when
// KEYSWEEP_DEBUG asks, so that each error is printed once.
func (s *streams) quiet() *slog.Logger {
	if os.Getenv("KEYSWEEP_DEBUG") != "" {
		return s.log
	}
	return slog.New(slog.DiscardHandler)
}

func newRoot(s *streams) *cobra.Command {
	root := &cobra.Command{
		Use:           "keysweep",
		Short:         "keep cloud accounts free of stale long-lived access keys",
		SilenceErrors: true,
		SilenceUsage:  true,
		RunE: func(*cobra.Command, []string) error {
			fmt.Fprint(s.err, topUsage)
			return ran(usagef("no command given"))
		},
	}
	root.CompletionOptions.DisableDefaultCmd = true
	def := root.HelpFunc()
	root.SetHelpFunc(func(c *cobra.Command, args []string) {
		if c == root {
			fmt.Fprint(c.OutOrStdout(), topUsage)
			return
		}
		def(c, args)
	})
	root.AddCommand(
		newPlanCmd(s), newSweepCmd(s), newPolicyCmd(s), newAuditCmd(s), newRevokeCmd(s),
		newKeyCmd(s), newReportCmd(s), newInvokeCmd(s), newServeCmd(s), newTablesCmd(s), newDemoCmd(s),
	)
	var plain func(*cobra.Command)
	plain = func(c *cobra.Command) {
		c.DisableFlagsInUseLine = true
		for _, sub := range c.Commands() {
			plain(sub)
		}
	}
	plain(root)
	return root
}

// usageError marks an error in the caller's input: exit 2.
type usageError struct{ err error }

func (u usageError) Error() string { return u.err.Error() }
func (u usageError) Unwrap() error { return u.err }

func usagef(format string, args ...any) error {
	return usageError{fmt.Errorf(format, args...)}
}

// exitError carries a specific exit code.
type exitError struct {
	code int
	err  error
}

func (e exitError) Error() string { return e.err.Error() }
func (e exitError) Unwrap() error { return e.err }

// ranError marks an error a command's run function returned, as opposed
// to cobra's own (an unknown command or flag, a wrong number of
// arguments), which are usage errors.
type ranError struct{ err error }

func (r ranError) Error() string { return r.err.Error() }
func (r ranError) Unwrap() error { return r.err }

func ran(err error) error {
	if err == nil {
		return nil
	}
	return ranError{err}
}

// code maps a run function's error to its exit code.
func code(err error) int {
	var ee exitError
	var ue usageError
	switch {
	case err == nil:
		return ExitOK
	case errors.As(err, &ee):
		return ee.code
	case errors.As(err, &ue):
		return ExitUsage
	}
	return ExitFailure
}

// exitCode prints err and returns the exit code for it.
func (s *streams) exitCode(cmd *cobra.Command, err error) int {
	if err == nil {
		return ExitOK
	}
	fmt.Fprintf(s.err, "keysweep: %v\n", err)
	var r ranError
	if errors.As(err, &r) {
		return code(r.err)
	}
	name := "keysweep"
	if cmd != nil {
		name = cmd.CommandPath()
	}
	fmt.Fprintf(s.err, "Run '%s --help' for usage.\n", name)
	return ExitUsage
}

// exactArgs accepts exactly n positional arguments, naming them in the
// error.
func exactArgs(n int, what string) cobra.PositionalArgs {
	return func(cmd *cobra.Command, args []string) error {
		if len(args) != n {
			return fmt.Errorf("%s: want %s, got %d argument(s)", cmd.CommandPath(), what, len(args))
		}
		return nil
	}
}

// group is a command that only holds subcommands: without one, or with an
// unknown one, it is a usage error.
func group(s *streams, use, short, subs string) *cobra.Command {
	return &cobra.Command{
		Use:   use,
		Short: short,
		Args:  cobra.ArbitraryArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if len(args) == 0 {
				_ = cmd.Usage()
				return ran(usagef("%s: missing subcommand (%s)", cmd.Name(), subs))
			}
			return ran(usagef("%s: unknown subcommand %q (%s)", cmd.Name(), args[0], subs))
		},
	}
}
