package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"golang.org/x/term"

	"github.com/keysweep/keysweep/app"
	"github.com/keysweep/keysweep/awsiam"
	"github.com/keysweep/keysweep/policy"
	"github.com/keysweep/keysweep/store"
	"github.com/keysweep/keysweep/sweep"
)

var errHelp = errors.New("help shown")

// common holds the flags every AWS-facing command shares.
type common struct {
	policyTable string
	auditTable  string
	policyID    string
	noReport    bool
	reportWait  time.Duration
}

func (c *common) register(fs *flag.FlagSet) {
	fs.StringVar(&c.policyTable, "policy-table", os.Getenv(app.EnvPolicyTable), "policy table name (env "+app.EnvPolicyTable+")")
	fs.StringVar(&c.auditTable, "audit-table", os.Getenv(app.EnvAuditTable), "audit table name (env "+app.EnvAuditTable+")")
	id := os.Getenv(app.EnvPolicyID)
	if id == "" {
		id = store.DefaultPolicyID
	}
	fs.StringVar(&c.policyID, "policy-id", id, "policy item id in the policy table (env "+app.EnvPolicyID+")")
	fs.BoolVar(&c.noReport, "no-report", false, "skip the credential report and list users and keys instead")
	fs.DurationVar(&c.reportWait, "report-wait", 60*time.Second, "how long to wait for the credential report before listing instead")
}

func (c *common) config(needTables bool) (app.Config, error) {
	cfg := app.Config{PolicyTable: c.policyTable, AuditTable: c.auditTable, PolicyID: c.policyID, Retention: app.DefaultRetentionDays * 24 * time.Hour}
	if v := os.Getenv(app.EnvRetentionDays); v != "" {
		env, err := app.ConfigFromEnv()
		if err == nil || env.Retention > 0 {
			cfg.Retention = env.Retention
		}
	}
	if needTables {
		if err := cfg.Validate(); err != nil {
			return cfg, usageError{err}
		}
	}
	return cfg, nil
}

func (c *common) deps(ctx context.Context, needTables bool) (*app.Deps, error) {
	cfg, err := c.config(needTables)
	if err != nil {
		return nil, err
	}
	return app.NewDeps(ctx, cfg, awsiam.Options{NoReport: c.noReport, ReportWait: c.reportWait})
}

// newFlagSet returns a flag set whose -h prints the usage to stdout and
// whose parse errors are usage errors.
func newFlagSet(name, synopsis string, stdout io.Writer) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(stdout)
	fs.Usage = func() {
		fmt.Fprintf(stdout, "Usage: keysweep %s\n\nFlags:\n", synopsis)
		fs.PrintDefaults()
	}
	return fs
}

// parseFlags parses flags given before or after the positional arguments
// (`policy put FILE --by me` as well as `policy put --by me FILE`).
func parseFlags(fs *flag.FlagSet, args []string) error {
	if err := fs.Parse(interspersed(fs, args)); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return errHelp
		}
		return usageError{err}
	}
	return nil
}

// interspersed moves flags (and their values) ahead of positional
// arguments; "--" ends the flags as usual.
func interspersed(fs *flag.FlagSet, args []string) []string {
	var flags, pos []string
	for i := 0; i < len(args); i++ {
		a := args[i]
		if a == "--" {
			pos = append(pos, args[i+1:]...)
			break
		}
		if !strings.HasPrefix(a, "-") || a == "-" {
			pos = append(pos, a)
			continue
		}
		flags = append(flags, a)
		name := strings.TrimLeft(a, "-")
		if strings.Contains(name, "=") {
			continue
		}
		f := fs.Lookup(name)
		if f == nil {
			continue // Parse reports it
		}
		if b, ok := f.Value.(interface{ IsBoolFlag() bool }); ok && b.IsBoolFlag() {
			continue
		}
		if i+1 < len(args) {
			flags = append(flags, args[i+1])
			i++
		}
	}
	return append(append(flags, "--"), pos...)
}

func splitList(s string) []string {
	if s == "" {
		return nil
	}
	var out []string
	for _, p := range strings.Split(s, ",") {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, p)
		}
	}
	return out
}

// progressFunc draws a one-line progress display on stderr when it is a
// terminal, and nothing otherwise.
func progressFunc(stderr io.Writer) func(stage string, done, total int) {
	f, ok := stderr.(*os.File)
	if !ok || !term.IsTerminal(int(f.Fd())) {
		return nil
	}
	last := time.Time{}
	return func(stage string, done, total int) {
		if done != total && time.Since(last) < 100*time.Millisecond {
			return
		}
		last = time.Now()
		fmt.Fprintf(f, "\r\033[K%s %d/%d", stage, done, total)
		if done == total && stage != "inventory" {
			fmt.Fprint(f, "\r\033[K")
		}
	}
}

func readPolicyFile(path string) (*policy.Policy, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, usageError{fmt.Errorf("policy file: %w", err)}
	}
	p, err := policy.Parse(data)
	if err != nil {
		return nil, usageError{fmt.Errorf("policy file %s: %w", path, err)}
	}
	return p, nil
}

func engineFor(d *app.Deps, stderr io.Writer) *sweep.Engine {
	return &sweep.Engine{Provider: d.Provider, Journal: d.Store, Progress: progressFunc(stderr)}
}

// runExit maps a sweep summary to an exit code error.
func runExit(sum *app.Summary, err error) error {
	if err == nil {
		if sum != nil && sum.Outcome == store.OutcomePartial {
			return exitError{exitPartial, fmt.Errorf("run %s stopped before its deadline; the next run continues after %q", sum.RunID, sum.ResumeAfter)}
		}
		return nil
	}
	switch {
	case errors.Is(err, app.ErrBadEvent):
		return usageError{err}
	case errors.Is(err, sweep.ErrBlocked), errors.Is(err, sweep.ErrPolicy), errors.Is(err, policy.ErrInvalid):
		return exitError{exitBlocked, err}
	}
	return err
}
