package cli

import (
	"context"
	"fmt"
	"time"

	"github.com/spf13/cobra"

	"github.com/keysweep/keysweep/internal/engine"
	"github.com/keysweep/keysweep/internal/journal/mem"
	"github.com/keysweep/keysweep/policy"
)

// planOptions are `keysweep plan`'s flags.
type planOptions struct {
	common
	at         string
	output     string
	policyFile string
	users      string
	all        bool
	notices    bool
}

func newPlanCmd(s *streams) *cobra.Command {
	o := &planOptions{}
	cmd := &cobra.Command{
		Use:   "plan [--at DATE] [--output table|json|csv] [--policy FILE] [--users a,b] [--all] [--notices] [--target NAME]",
		Short: "judge every key now (or --at a date) and print the decisions; changes nothing",
		Args:  exactArgs(0, "no arguments"),
		RunE: func(cmd *cobra.Command, _ []string) error {
			return ran(runPlan(cmd.Context(), s, o))
		},
	}
	fs := cmd.Flags()
	o.register(fs)
	o.registerTarget(fs, "aws")
	fs.StringVar(&o.at, "at", "", "judge as of this date (YYYY-MM-DD or RFC 3339) instead of now, to see what will become stale")
	fs.StringVar(&o.output, "output", formatTable, "table, json or csv")
	fs.StringVar(&o.policyFile, "policy", "", "judge with this policy file (JSON or YAML) instead of the stored policy")
	fs.StringVar(&o.users, "users", "", "only these users (comma separated)")
	fs.BoolVar(&o.all, "all", false, "list every key with its id, kept ones too (reads each user's keys: one call per user)")
	fs.BoolVar(&o.notices, "notices", false, "list the notices a sweep would send instead: each channel (e-mail, the team topic, Security Hub), to whom, and the subject; sends nothing")
	return cmd
}

// planPolicy is the policy a plan or report judges with: the file, else
// the built-in default when no policy table is configured, else the
// target's stored one (an invalid stored policy blocks: exit 3).
func planPolicy(ctx context.Context, s *streams, c *common, file string, t engine.Target, ps engine.PolicyStore) (*policy.Policy, string, error) {
	if file != "" {
		p, err := readPolicyFile(file)
		return p, engine.SourceFile, err
	}
	if c.policyTable == "" {
		// Trying keysweep on an account before deploying it: no tables.
		fmt.Fprintln(s.err, "no policy table configured: judging with the built-in default policy (give --policy FILE to use yours)")
		return policy.Default(), engine.SourceDefault, nil
	}
	p, source, err := engine.LoadPolicy(ctx, ps, policyIDOf(t))
	if err != nil {
		return nil, source, exitError{ExitBlocked, fmt.Errorf("stored policy of target %s: %w", t.Name, err)}
	}
	return p, source, nil
}

// planEngine is the target's engine for a plan: it reads keysweep's own
// state from the audit table when one is configured, else from nothing.
func (c *common) planEngine(ctx context.Context, t engine.Target, all bool) (*engine.Engine, error) {
	e, err := open(ctx, t)
	if err != nil {
		return nil, err
	}
	cp := *e
	cp.ResolveAll = all
	if c.auditTable == "" {
		cp.Journal = mem.New()
	}
	return &cp, nil
}

func runPlan(ctx context.Context, s *streams, o *planOptions) error {
	if err := checkOutput(o.output); err != nil {
		return err
	}
	when := time.Now().UTC()
	if o.at != "" {
		t, err := parseDate(o.at)
		if err != nil {
			return usagef("--at: %v", err)
		}
		when = t
	}
	d, err := o.deps(ctx, s, false)
	if err != nil {
		return err
	}
	t, err := o.pick(o.targets(d, s))
	if err != nil {
		return err
	}
	p, source, err := planPolicy(ctx, s, &o.common, o.policyFile, t, d.Journal)
	if err != nil {
		return err
	}
	eng, err := o.planEngine(ctx, t, o.all)
	if err != nil {
		return err
	}
	if o.notices {
		return runPlanNotices(ctx, s, o, eng, p, source, when, d.Config.Notices)
	}
	pl, err := eng.Plan(ctx, p, when, splitList(o.users))
	if err != nil {
		return err
	}
	if o.output == formatJSON {
		return writeJSON(s.out, map[string]any{"target": t.Name, "policyVersion": p.Version, "policySource": source, "mode": p.Mode, "plan": pl})
	}
	ds := pl.Decisions
	if o.output == formatTable && !o.all {
		ds = ds[:0:0]
		for _, x := range pl.Decisions {
			if x.Verdict != policy.Keep {
				ds = append(ds, x)
			}
		}
	}
	if err := writeDecisions(s.out, o.output, ds, when); err != nil {
		return err
	}
	if o.output == formatTable {
		printPlanFooter(s, pl, p, source)
	}
	return nil
}

func printPlanFooter(s *streams, pl *engine.Plan, p *policy.Policy, source string) {
	fmt.Fprintf(s.err, "\nplan at %s: %d keys, %d would be acted on; policy %s (%s, mode %s); inventory %s",
		pl.At.Format(time.RFC3339), pl.TotalKeys, pl.Actions, p.Version, source, p.Mode, pl.Inventory)
	if pl.Target != "" {
		fmt.Fprintf(s.err, "; target %s", pl.Target)
	}
	if pl.Fallback != "" {
		fmt.Fprintf(s.err, " (fallback: %s)", pl.Fallback)
	}
	fmt.Fprintln(s.err)
	for _, n := range pl.Notes {
		fmt.Fprintf(s.err, "note: %s\n", n)
	}
	if pl.CapExceeded != "" {
		fmt.Fprintf(s.err, "a sweep would be BLOCKED by the blast-radius cap: %s\n", pl.CapExceeded)
	}
	if p.Mode == policy.ModeAudit {
		fmt.Fprintln(s.err, "the policy is in audit mode: a sweep records these decisions and changes nothing")
	}
}
