package cli

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/keysweep/keysweep/internal/domain"
	"github.com/keysweep/keysweep/internal/engine"
	"github.com/keysweep/keysweep/internal/fanout"
	"github.com/keysweep/keysweep/internal/lambda"
	"github.com/keysweep/keysweep/internal/trigger"
	"github.com/keysweep/keysweep/policy"
)

// DefaultSweepTimeout is the sweep's overall deadline: the template's
// SweeperTimeout default, as the scheduled Lambda has it.
const DefaultSweepTimeout = 900 * time.Second

// sweepOptions are `keysweep sweep`'s flags.
type sweepOptions struct {
	common
	audit   bool
	users   string
	eventID string
	output  string
	timeout time.Duration
	org     orgOptions
}

func newSweepCmd(s *streams) *cobra.Command {
	o := &sweepOptions{}
	cmd := &cobra.Command{
		Use: "sweep [--audit] [--users a,b] [--event-id ID] [--output table|json|csv] [--target NAME] [--timeout 900s]" +
			" [--org [--role NAME] [--external-id ID] [--concurrency N]]",
		Short: "run one sweep exactly as the scheduled Lambda does",
		Args:  exactArgs(0, "no arguments"),
		RunE: func(cmd *cobra.Command, _ []string) error {
			return ran(runSweep(cmd.Context(), s, o))
		},
	}
	fs := cmd.Flags()
	o.register(fs)
	o.registerTarget(fs, "every target, as the schedule does")
	fs.BoolVar(&o.audit, "audit", false, "audit only for this run, whatever the policy's mode")
	fs.StringVar(&o.users, "users", "", "only these users (comma separated)")
	fs.StringVar(&o.eventID, "event-id", "", "de-duplication id: a second sweep with the same id does nothing")
	fs.StringVar(&o.output, "output", formatTable, "table, json or csv")
	fs.DurationVar(&o.timeout, "timeout", DefaultSweepTimeout, "overall deadline, as the Lambda's timeout: key store calls stop "+
		"a margin before it (20s, or a quarter of a shorter timeout) and the run ends partial; the next run continues")
	o.org.register(fs)
	return cmd
}

// margin is how long before the deadline a run stops calling the key
// store: the engine's default, or a quarter of a shorter timeout.
func margin(timeout time.Duration) time.Duration {
	return min(engine.DefaultMargin, timeout/4)
}

func runSweep(ctx context.Context, s *streams, o *sweepOptions) error {
	if err := checkOutput(o.output); err != nil {
		return err
	}
	if o.timeout <= 0 {
		return usagef("--timeout: want a positive duration such as 900s or 15m, got %s", o.timeout)
	}
	payload := trigger.ManualPayload{EventID: o.eventID, Users: splitList(o.users), Target: o.target}
	if o.audit {
		payload.Mode = string(policy.ModeAudit)
	}
	raw, err := json.Marshal(payload)
	if err != nil {
		return err
	}
	ev, err := trigger.Parse(raw)
	if err != nil {
		return usageError{err}
	}
	if o.org.enabled {
		return runSweepOrg(ctx, s, o, ev)
	}
	ctx, cancel := context.WithTimeout(ctx, o.timeout)
	defer cancel()
	d, err := o.deps(ctx, s, true)
	if err != nil {
		return err
	}
	m := margin(o.timeout)
	h := &lambda.Sweeper{
		Targets:  o.targets(d, s, func(e *engine.Engine) { e.Margin = m }),
		Policies: d.Journal, Logger: s.quiet(), ManualKind: domain.TriggerCLI,
	}
	sum, err := h.Run(ctx, ev)
	var sums []*engine.Summary
	if sum != nil {
		sums = append([]*engine.Summary{&sum.Summary}, sum.Targets...)
		printSummary(s, o.output, sum, sums)
	}
	return sweepExit(sums, err, ctx.Err() == context.DeadlineExceeded, o.timeout)
}

// printSummary prints a sweep's summary: every target's actions, then each
// run's line, notes and errors.
func printSummary(s *streams, format string, sum *lambda.Summary, sums []*engine.Summary) {
	if format == formatJSON {
		_ = writeJSON(s.out, sum)
		return
	}
	var actions []domain.KeyDecision
	for _, x := range sums {
		actions = append(actions, x.Actions...)
	}
	_ = writeDecisions(s.out, format, actions, time.Now().UTC())
	if format != formatTable {
		return
	}
	fmt.Fprintln(s.err)
	for _, x := range sums {
		writeSummary(s.err, x, len(sums) > 1)
	}
}

// writeSummary says what one target's run did.
func writeSummary(w io.Writer, x *engine.Summary, many bool) {
	target := ""
	if many || (x.Target != "" && x.Target != domain.DefaultTarget) {
		target = " (target " + x.Target + ")"
	}
	if x.RunID == "" {
		fmt.Fprintf(w, "target %s: %s, no run recorded\n", x.Target, x.Outcome)
	} else {
		fmt.Fprintf(w, "run %s%s: %s, mode %s, policy %s (%s)", x.RunID, target, x.Outcome, x.Mode, x.PolicyVersion, x.PolicySource)
		if c := countsLine(x.Counts); c != "" {
			fmt.Fprintf(w, ", %s", c)
		}
		fmt.Fprintln(w)
	}
	for _, n := range x.Notes {
		fmt.Fprintf(w, "note: %s\n", n)
	}
	for _, e := range x.Errors {
		fmt.Fprintf(w, "error: %s\n", e)
	}
}

// sweepExit maps a sweep's runs and error to an exit code: a refused event
// 2; a failed run 1 (4 when the deadline stopped it, 3 when its policy is
// invalid); a run blocked by the cap 3; a partial run 4.
func sweepExit(sums []*engine.Summary, err error, timedOut bool, timeout time.Duration) error {
	if errors.Is(err, trigger.ErrBadEvent) {
		return usageError{err}
	}
	// The engine stops its calls a margin before the deadline, so a call
	// cut short by --timeout fails before the sweep's own context expires.
	timedOut = timedOut || errors.Is(err, context.DeadlineExceeded)
	outcomes := map[domain.RunOutcome]*engine.Summary{}
	for _, x := range sums {
		if _, ok := outcomes[x.Outcome]; !ok {
			outcomes[x.Outcome] = x
		}
	}
	policyErr := errors.Is(err, engine.ErrPolicy) || errors.Is(err, policy.ErrInvalid)
	switch {
	case outcomes[domain.RunFailed] != nil || (err != nil && len(sums) == 0):
		switch {
		case timedOut:
			return exitError{ExitPartial, fmt.Errorf("stopped at its deadline (--timeout %s): %w; the next run continues", timeout, err)}
		case policyErr:
			return exitError{ExitBlocked, err}
		}
		if err == nil {
			err = errors.New("the run failed")
		}
		return err
	case outcomes[domain.RunBlocked] != nil:
		if err == nil {
			err = engine.ErrBlocked
		}
		return exitError{ExitBlocked, err}
	case outcomes[domain.RunPartial] != nil:
		x := outcomes[domain.RunPartial]
		return exitError{ExitPartial, fmt.Errorf("run %s stopped before its deadline; the next run continues after %q", x.RunID, x.ResumeAfter)}
	}
	return err
}

// orgOptions are the flags of `keysweep sweep --org`.
type orgOptions struct {
	enabled     bool
	role        string
	externalID  string
	concurrency int
}

func (o *orgOptions) register(fs *pflag.FlagSet) {
	fs.BoolVar(&o.enabled, "org", false, "sweep every account the policy's organization section selects, in-process: "+
		"the organization mode's dispatcher and workers, without SQS")
	fs.StringVar(&o.role, "role", "", "--org: the member role's name (default: env MEMBER_ROLE_NAME, else keysweep-member)")
	fs.StringVar(&o.externalID, "external-id", "", "--org: the member role's external id, required (default: env MEMBER_EXTERNAL_ID)")
	fs.IntVar(&o.concurrency, "concurrency", fanout.DefaultLocalConcurrency, "--org: member accounts swept at once (1-100)")
}
