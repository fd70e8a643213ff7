package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/keysweep/keysweep/app"
	"github.com/keysweep/keysweep/policy"
	"github.com/keysweep/keysweep/store"
)

func cmdPlan(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("plan", "plan [--at DATE] [--output table|json|csv] [--policy FILE] [--users a,b]", stdout)
	var c common
	c.register(fs)
	at := fs.String("at", "", "judge as of this date (YYYY-MM-DD or RFC 3339) instead of now, to see what will become stale")
	output := fs.String("output", "table", "table, json or csv")
	file := fs.String("policy", "", "judge with this policy file (JSON or YAML) instead of the stored policy")
	users := fs.String("users", "", "only these users (comma separated)")
	all := fs.Bool("all", false, "list every key with its id, kept ones too (reads each user's keys: one IAM call per user)")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if err := checkOutput(*output); err != nil {
		return err
	}
	when := time.Now().UTC()
	if *at != "" {
		t, err := parseDate(*at)
		if err != nil {
			return usagef("--at: %v", err)
		}
		when = t
	}
	var p *policy.Policy
	source := app.SourceFile
	if *file != "" {
		var err error
		if p, err = readPolicyFile(*file); err != nil {
			return err
		}
	}
	if p == nil && c.policyTable == "" {
		// Trying keysweep on an account before deploying it: no tables.
		p, source = policy.Default(), app.SourceDefault
		fmt.Fprintln(stderr, "no policy table configured: judging with the built-in default policy (give --policy FILE to use yours)")
	}
	d, err := c.deps(ctx, false)
	if err != nil {
		return err
	}
	if p == nil {
		p, source, err = app.LoadPolicy(ctx, d.Store, c.policyID)
		if err != nil {
			return exitError{exitBlocked, fmt.Errorf("stored policy: %w", err)}
		}
	}
	// A plan reads the audit table for keysweep's own state when it can.
	eng := engineFor(d, stderr)
	eng.ResolveAll = *all
	if c.auditTable == "" {
		eng.Journal = store.NewMem()
	}
	pl, err := eng.Plan(ctx, p, when, splitList(*users))
	if err != nil {
		return err
	}
	if *output == "json" {
		return writeJSON(stdout, map[string]any{"policyVersion": p.Version, "policySource": source, "mode": p.Mode, "plan": pl})
	}
	ds := pl.Decisions
	if *output == "table" && !*all {
		ds = ds[:0:0]
		for _, x := range pl.Decisions {
			if x.Verdict != policy.Keep {
				ds = append(ds, x)
			}
		}
	}
	if err := writeDecisions(stdout, *output, ds, when); err != nil {
		return err
	}
	if *output == "table" {
		fmt.Fprintf(stderr, "\nplan at %s: %d keys, %d would be acted on; policy %s (%s, mode %s); inventory %s",
			when.Format(time.RFC3339), pl.TotalKeys, pl.Actions, p.Version, source, p.Mode, pl.Inventory)
		if pl.Fallback != "" {
			fmt.Fprintf(stderr, " (fallback: %s)", pl.Fallback)
		}
		fmt.Fprintln(stderr)
		if pl.CapExceeded != "" {
			fmt.Fprintf(stderr, "a sweep would be BLOCKED by the blast-radius cap: %s\n", pl.CapExceeded)
		}
		if p.Mode == policy.ModeAudit {
			fmt.Fprintln(stderr, "the policy is in audit mode: a sweep records these decisions and changes nothing")
		}
	}
	return nil
}

func parseDate(s string) (time.Time, error) {
	if t, err := time.Parse(time.RFC3339, s); err == nil {
		return t.UTC(), nil
	}
	t, err := time.Parse(time.DateOnly, s)
	if err != nil {
		return time.Time{}, fmt.Errorf("%q is neither YYYY-MM-DD nor RFC 3339", s)
	}
	return t.UTC(), nil
}

func cmdSweep(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("sweep", "sweep [--audit] [--users a,b] [--event-id ID] [--output table|json|csv] [--org [--role NAME] [--external-id ID] [--concurrency N]]", stdout)
	var c common
	c.register(fs)
	audit := fs.Bool("audit", false, "audit only for this run, whatever the policy's mode")
	users := fs.String("users", "", "only these users (comma separated)")
	eventID := fs.String("event-id", "", "de-duplication id: a second sweep with the same id does nothing")
	output := fs.String("output", "table", "table, json or csv")
	orgf := registerOrgFlags(fs)
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if err := checkOutput(*output); err != nil {
		return err
	}
	payload := app.ManualPayload{EventID: *eventID, Users: splitList(*users)}
	if *audit {
		payload.Mode = "audit"
	}
	raw, _ := jsonMarshal(payload)
	ev, err := app.ParseSweepEvent(raw)
	if err != nil {
		return usageError{err}
	}
	if orgf.enabled {
		return sweepOrg(ctx, &c, orgf, ev, *output, stdout, stderr)
	}
	d, err := c.deps(ctx, true)
	if err != nil {
		return err
	}
	h := &app.Sweeper{Engine: engineFor(d, stderr), Policies: d.Store, PolicyID: c.policyID, ManualKind: "cli"}
	sum, err := h.Run(ctx, ev)
	if sum != nil {
		printSummary(stdout, stderr, *output, sum)
	}
	return runExit(sum, err)
}

func printSummary(stdout, stderr io.Writer, format string, sum *app.Summary) {
	if format == "json" {
		_ = writeJSON(stdout, sum)
		return
	}
	_ = writeDecisions(stdout, format, sum.Actions, time.Now().UTC())
	if format == "table" {
		fmt.Fprintf(stderr, "\nrun %s: %s, mode %s, policy %s (%s), %s\n", sum.RunID, sum.Outcome, sum.Mode, sum.PolicyVersion, sum.PolicySource, countsLine(sum.Counts))
		for _, n := range sum.Notes {
			fmt.Fprintf(stderr, "note: %s\n", n)
		}
		for _, e := range sum.Errors {
			fmt.Fprintf(stderr, "error: %s\n", e)
		}
	}
}

func cmdPolicy(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	const synopsis = "policy get | put FILE | validate FILE"
	if len(args) == 0 || args[0] == "-h" || args[0] == "--help" {
		fs := newFlagSet("policy", synopsis, stdout)
		var c common
		c.register(fs)
		fs.Usage()
		if len(args) == 0 {
			return usagef("policy: missing subcommand (get, put or validate)")
		}
		return errHelp
	}
	sub, rest := args[0], args[1:]
	fs := newFlagSet("policy "+sub, synopsis, stdout)
	var c common
	c.register(fs)
	output := fs.String("output", "yaml", "get: yaml or json")
	by := fs.String("by", os.Getenv("USER"), "put: who is storing the policy (recorded as updatedBy)")
	if err := parseFlags(fs, rest); err != nil {
		return err
	}
	switch sub {
	case "validate":
		if fs.NArg() != 1 {
			return usagef("policy validate: want one FILE")
		}
		p, err := readPolicyFile(fs.Arg(0))
		if err != nil {
			return err
		}
		fmt.Fprintf(stdout, "%s: valid (version %s, mode %s)\n", fs.Arg(0), p.Version, p.Mode)
		return nil
	case "put":
		if fs.NArg() != 1 {
			return usagef("policy put: want one FILE")
		}
		p, err := readPolicyFile(fs.Arg(0))
		if err != nil {
			return err
		}
		d, err := c.deps(ctx, true)
		if err != nil {
			return err
		}
		if err := d.Store.PutPolicy(ctx, c.policyID, p, *by); err != nil {
			return fmt.Errorf("put policy: %w", err)
		}
		fmt.Fprintf(stdout, "stored policy %q version %s (mode %s) in %s\n", c.policyID, p.Version, p.Mode, c.policyTable)
		return nil
	case "get":
		d, err := c.deps(ctx, true)
		if err != nil {
			return err
		}
		p, updated, err := d.Store.GetPolicy(ctx, c.policyID)
		if errors.Is(err, store.ErrNotFound) {
			fmt.Fprintf(stderr, "no policy %q stored: sweeps run the built-in default in audit mode:\n", c.policyID)
			p, err = policy.Default(), nil
		}
		if err != nil {
			return exitError{exitBlocked, fmt.Errorf("stored policy: %w", err)}
		}
		if !updated.IsZero() {
			fmt.Fprintf(stderr, "policy %q, updated %s\n", c.policyID, updated.Format(time.RFC3339))
		}
		if *output == "json" {
			return writeJSON(stdout, p)
		}
		return writeYAML(stdout, p)
	}
	return usagef("policy: unknown subcommand %q (get, put or validate)", sub)
}

func cmdAudit(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("audit", "audit --key ID | --run ID | --user NAME [--account ID] [--output table|json|csv]", stdout)
	var c common
	c.register(fs)
	key := fs.String("key", "", "records of this access key id")
	runID := fs.String("run", "", "the run record and its records")
	user := fs.String("user", "", "records of this IAM user")
	account := fs.String("account", "", "--user: the account id (default: the current account)")
	output := fs.String("output", "table", "table, json or csv")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if err := checkOutput(*output); err != nil {
		return err
	}
	n := 0
	for _, s := range []string{*key, *runID, *user} {
		if s != "" {
			n++
		}
	}
	if n != 1 {
		return usagef("audit: give exactly one of --key, --run or --user")
	}
	d, err := c.deps(ctx, true)
	if err != nil {
		return err
	}
	var recs []store.Record
	switch {
	case *key != "":
		recs, err = d.Store.ByKey(ctx, *key)
		if err == nil {
			if st, serr := d.Store.KeyState(ctx, *key); serr == nil && st != nil && *output == "table" {
				fmt.Fprintf(stderr, "key %s of %s: stage %s", st.AccessKeyID, st.UserName, orDash(st.Stage))
				if st.DeactivatedAt != nil {
					fmt.Fprintf(stderr, ", inactive since %s", st.DeactivatedAt.Format(time.RFC3339))
				}
				if st.Intent != nil {
					fmt.Fprintf(stderr, ", UNSETTLED intent %s by run %s", st.Intent.Action, st.Intent.RunID)
				}
				fmt.Fprintln(stderr)
			}
		}
	case *runID != "":
		r, rerr := d.Store.GetRun(ctx, *runID)
		if errors.Is(rerr, store.ErrNotFound) {
			return exitError{exitNotFound, fmt.Errorf("run %s: not found", *runID)}
		}
		if rerr != nil {
			return rerr
		}
		if *output == "json" {
			recs, err = d.Store.ByRun(ctx, *runID)
			if err != nil {
				return err
			}
			if recs == nil {
				recs = []store.Record{}
			}
			return writeJSON(stdout, map[string]any{"run": r, "records": recs})
		}
		writeRun(stderr, r)
		recs, err = d.Store.ByRun(ctx, *runID)
	case *user != "":
		acct := *account
		if acct == "" {
			if acct, err = d.Provider.AccountID(ctx); err != nil {
				return err
			}
		}
		recs, err = d.Store.ByUser(ctx, acct, *user)
	}
	if err != nil {
		return err
	}
	if len(recs) == 0 && *output == "table" {
		fmt.Fprintln(stderr, "no records")
		if *key != "" || *user != "" {
			return exitError{exitNotFound, errors.New("no audit records found")}
		}
		return nil
	}
	return writeRecords(stdout, *output, recs)
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

func cmdInvoke(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	const synopsis = "invoke sweeper|api --event FILE"
	if len(args) == 0 || strings.HasPrefix(args[0], "-") {
		fs := newFlagSet("invoke", synopsis, stdout)
		fs.Usage()
		if len(args) == 0 {
			return usagef("invoke: name the function: sweeper or api")
		}
		return errHelp
	}
	fn, rest := args[0], args[1:]
	fs := newFlagSet("invoke "+fn, synopsis, stdout)
	var c common
	c.register(fs)
	event := fs.String("event", "", "event file (JSON), e.g. events/schedule.json; - reads stdin")
	if err := parseFlags(fs, rest); err != nil {
		return err
	}
	if *event == "" {
		return usagef("invoke %s: --event FILE is required", fn)
	}
	var raw []byte
	var err error
	if *event == "-" {
		raw, err = io.ReadAll(io.LimitReader(os.Stdin, app.MaxEventBytes+1))
	} else {
		raw, err = os.ReadFile(*event)
	}
	if err != nil {
		return usagef("event file: %v", err)
	}
	switch fn {
	case "sweeper":
		d, err := c.deps(ctx, true)
		if err != nil {
			return err
		}
		h := &app.Sweeper{Engine: engineFor(d, stderr), Policies: d.Store, PolicyID: c.policyID, Metrics: stderr}
		ctx, cancel := lambdaContext(ctx)
		defer cancel()
		sum, err := h.Handle(ctx, raw)
		if sum != nil {
			_ = writeJSON(stdout, sum)
		}
		return runExit(sum, err)
	default:
		if f, ok := invokers[fn]; ok {
			return f(ctx, &c, raw, stdout, stderr)
		}
	}
	return usagef("invoke: unknown function %q (sweeper or api)", fn)
}

// invokers lets other files add functions to `keysweep invoke`.
var invokers = map[string]func(context.Context, *common, []byte, io.Writer, io.Writer) error{}

func cmdTables(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 || args[0] != "create" {
		fs := newFlagSet("tables", "tables create [--policy-table NAME] [--audit-table NAME]", stdout)
		var c common
		c.register(fs)
		fs.Usage()
		if len(args) > 0 && (args[0] == "-h" || args[0] == "--help") {
			return errHelp
		}
		return usagef("tables: the only subcommand is create")
	}
	fs := newFlagSet("tables create", "tables create [--policy-table NAME] [--audit-table NAME]", stdout)
	var c common
	c.register(fs)
	if err := parseFlags(fs, args[1:]); err != nil {
		return err
	}
	d, err := c.deps(ctx, true)
	if err != nil {
		return err
	}
	if err := store.CreateTables(ctx, d.DynamoDB, c.policyTable, c.auditTable); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "tables ready: %s, %s\n", c.policyTable, c.auditTable)
	return nil
}
