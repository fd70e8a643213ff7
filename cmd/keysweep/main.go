// Command keysweep is the command-line face of the keysweep engine: plan,
// sweep, manage the policy, read the audit trail, revoke a key, run the
// Lambda handlers in-process, serve the API on loopback, and a local demo.
// AWS configuration comes from the standard chain (profiles, environment,
// AWS_ENDPOINT_URL for an emulator).
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"syscall"
)

// Exit codes scripts can rely on.
const (
	exitOK       = 0
	exitFailure  = 1 // an AWS or DynamoDB call failed, or the run failed
	exitUsage    = 2 // bad flags, arguments or input files; nothing changed
	exitBlocked  = 3 // the blast-radius cap or an invalid stored policy stopped the run; nothing changed
	exitPartial  = 4 // the run stopped before its deadline; the next run continues
	exitNotFound = 5 // the key, run or policy asked for does not exist
)

// usageError marks errors that are the caller's input.
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

const topUsage = `keysweep: keep AWS accounts free of stale IAM access keys.

Usage: keysweep COMMAND [flags]

Commands:
  plan                 judge every key now (or --at a date) and print the decisions; changes nothing
  sweep                run one sweep exactly as the scheduled Lambda does
  policy get|put|validate
                       read, store or check the policy document
  audit                read the audit trail (--key ID | --run ID | --user NAME)
  revoke KEY           deactivate or delete one key now, with an audit record
  key KEY              show one key: owner, status, dates, decision, history
  invoke sweeper|api --event FILE
                       run a Lambda handler in-process on an event file (the
                       Docker-free counterpart of 'sam local invoke')
  serve                serve the API over plain HTTP on loopback (no auth)
  tables create        create the policy and audit tables (local emulator)
  demo                 start the local emulator, seed a sample account, sweep it
  help                 this text

Table names come from --policy-table/--audit-table or the POLICY_TABLE and
AUDIT_TABLE environment variables the Lambda reads. Run 'keysweep COMMAND -h'
for a command's flags.

Exit codes: 0 ok, 1 failure, 2 bad usage or input, 3 blocked (cap or invalid
policy: nothing changed), 4 partial run (continues next run), 5 not found.
`

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	os.Exit(run(ctx, os.Args[1:], os.Stdout, os.Stderr))
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	slog.SetDefault(slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: logLevel()})))
	if len(args) == 0 {
		fmt.Fprint(stderr, topUsage)
		return exitUsage
	}
	cmd, rest := args[0], args[1:]
	var err error
	switch cmd {
	case "help", "-h", "--help":
		fmt.Fprint(stdout, topUsage)
		return exitOK
	case "plan":
		err = cmdPlan(ctx, rest, stdout, stderr)
	case "sweep":
		err = cmdSweep(ctx, rest, stdout, stderr)
	case "policy":
		err = cmdPolicy(ctx, rest, stdout, stderr)
	case "audit":
		err = cmdAudit(ctx, rest, stdout, stderr)
	case "invoke":
		err = cmdInvoke(ctx, rest, stdout, stderr)
	case "tables":
		err = cmdTables(ctx, rest, stdout, stderr)
	case "demo":
		err = cmdDemo(ctx, rest, stdout, stderr)
	default:
		if f, ok := extraCommands[cmd]; ok {
			err = f(ctx, rest, stdout, stderr)
			break
		}
		fmt.Fprintf(stderr, "keysweep: unknown command %q\n\n%s", cmd, topUsage)
		return exitUsage
	}
	return exitCode(err, stderr)
}

// extraCommands lets other files register commands (revoke, key, serve).
var extraCommands = map[string]func(context.Context, []string, io.Writer, io.Writer) error{}

func exitCode(err error, stderr io.Writer) int {
	if err == nil {
		return exitOK
	}
	if errors.Is(err, errHelp) {
		return exitOK
	}
	fmt.Fprintf(stderr, "keysweep: %v\n", err)
	var ue usageError
	var ee exitError
	switch {
	case errors.As(err, &ee):
		return ee.code
	case errors.As(err, &ue):
		return exitUsage
	}
	return exitFailure
}

func logLevel() slog.Level {
	if os.Getenv("KEYSWEEP_DEBUG") != "" {
		return slog.LevelDebug
	}
	return slog.LevelWarn
}
