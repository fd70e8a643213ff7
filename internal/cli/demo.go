package cli

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/spf13/cobra"

	"github.com/keysweep/keysweep/internal/domain"
	"github.com/keysweep/keysweep/internal/engine"
	"github.com/keysweep/keysweep/internal/journal/dynamo"
	"github.com/keysweep/keysweep/internal/keystore/awsiam"
	"github.com/keysweep/keysweep/internal/lambda"
	"github.com/keysweep/keysweep/internal/testenv"
	"github.com/keysweep/keysweep/internal/wiring"
	"github.com/keysweep/keysweep/policy"
)

// demoOptions are `keysweep demo`'s flags.
type demoOptions struct {
	keep   bool
	report string
}

func newDemoCmd(s *streams) *cobra.Command {
	o := &demoOptions{}
	cmd := &cobra.Command{
		Use:   "demo [--keep] [--report FILE]",
		Short: "start the local emulator and stand-ins, seed sample key stores, sweep them, write their posture report",
		Args:  exactArgs(0, "no arguments"),
		RunE: func(cmd *cobra.Command, _ []string) error {
			return ran(runDemo(cmd.Context(), s, o))
		},
	}
	cmd.Flags().BoolVar(&o.keep, "keep", false, "leave the emulator running at the end and print how to reach it (Ctrl-C stops it)")
	cmd.Flags().StringVar(&o.report, "report", filepath.Join(os.TempDir(), "keysweep-demo-report.html"), "where to write the demo's posture report")
	return cmd
}

// demo is one run of the demo: its emulator, tables and clients.
type demo struct {
	s   *streams
	url string
	cfg wiring.Config
	d   *wiring.Deps
	now time.Time
}

func runDemo(ctx context.Context, s *streams, o *demoOptions) error {
	python, err := testenv.FindPython()
	if err != nil {
		return err
	}
	fmt.Fprintln(s.out, "== Starting the local AWS emulator (moto) on loopback")
	url, stop, err := testenv.StartLauncher(ctx, python)
	if err != nil {
		return err
	}
	defer stop()
	for k, v := range map[string]string{
		"AWS_ENDPOINT_URL": url, "AWS_REGION": "us-east-1", "AWS_ACCESS_KEY_ID": "testing",
		"AWS_SECRET_ACCESS_KEY": "testing", "AWS_EC2_METADATA_DISABLED": "true",
	} {
		os.Setenv(k, v)
	}
	os.Unsetenv("AWS_PROFILE")
	os.Unsetenv("AWS_SESSION_TOKEN")
	dm := &demo{s: s, url: url, now: time.Now().UTC(), cfg: wiring.Config{
		PolicyTable: "keysweep-policy", AuditTable: "keysweep-audit", PolicyID: domain.DefaultPolicyID,
		Retention: wiring.DefaultRetentionDays * 24 * time.Hour,
	}}
	fmt.Fprintln(s.out, "\n== Starting local stand-ins for the other clouds, on 127.0.0.1")
	si, err := startStandIns(dm.now, s.out)
	if err != nil {
		return err
	}
	defer si.close()
	// The targets as the CLI reads them, from KEYSWEEP_TARGETS.
	if dm.cfg.Targets, err = wiring.TargetsFromEnv(); err != nil {
		return err
	}
	if dm.d, err = wiring.NewDeps(ctx, dm.cfg, awsiam.Options{PollInterval: 200 * time.Millisecond, Logger: s.log}); err != nil {
		return err
	}
	fmt.Fprintf(s.out, "\n== AWS: emulator at %s; tables %s and %s\n", url, dm.cfg.PolicyTable, dm.cfg.AuditTable)
	if err := dynamo.CreateTables(ctx, dm.d.DynamoDB, dm.cfg.PolicyTable, dm.cfg.AuditTable); err != nil {
		return err
	}
	fmt.Fprintln(s.out, "\n== Seeding a sample AWS account")
	if err := seedDemo(ctx, dm.d.IAM, url, dm.now, s.out); err != nil {
		return err
	}
	later, err := dm.sweeps(ctx)
	if err != nil {
		return err
	}
	path, err := dm.report(ctx, o.report, later)
	if err != nil {
		return err
	}
	if o.keep {
		envFile, err := writeStandInEnv()
		if err != nil {
			return err
		}
		fmt.Fprintf(s.out, "\nThe emulator and the stand-ins keep running. In another shell:\n  export AWS_ENDPOINT_URL=%s AWS_REGION=us-east-1 AWS_ACCESS_KEY_ID=testing "+
			"AWS_SECRET_ACCESS_KEY=testing POLICY_TABLE=%s AUDIT_TABLE=%s\n  . %s   # %s and the stand-ins' demo credentials\n"+
			"  go run ./cmd/keysweep plan --all\n  go run ./cmd/keysweep plan --all --target %s\nCtrl-C stops them.\n",
			url, dm.cfg.PolicyTable, dm.cfg.AuditTable, envFile, wiring.EnvTargets, demoGMI)
		<-ctx.Done()
	}
	fmt.Fprintln(s.out, "\nDone: the emulator and the stand-ins stop now; nothing outside this machine was touched.")
	fmt.Fprintf(s.out, "The posture report: %s\n", path)
	return nil
}

// sweeper is the sweeper handler on the demo's targets (the AWS account
// and those KEYSWEEP_TARGETS names, opened with the credentials in the
// environment, as the CLI opens them), every engine on the clock given.
func (dm *demo) sweeper(clock func() time.Time) *lambda.Sweeper {
	c := &common{}
	targets := c.targets(dm.d, dm.s, func(e *engine.Engine) { e.Now = clock })
	return &lambda.Sweeper{Targets: targets, Policies: dm.d.Journal, Logger: dm.s.log}
}

func (dm *demo) invoke(ctx context.Context, title string, h *lambda.Sweeper, event []byte) (*lambda.Summary, error) {
	fmt.Fprintf(dm.s.out, "\n== %s\n", title)
	ctx, cancel := lambdaContext(ctx)
	defer cancel()
	sum, err := h.Handle(ctx, event)
	if sum == nil {
		return nil, err
	}
	for _, t := range append([]*engine.Summary{&sum.Summary}, sum.Targets...) {
		counts := ""
		if len(t.Counts) > 0 {
			counts = "; " + countsLine(t.Counts)
		}
		fmt.Fprintf(dm.s.out, "\n[%s] run %s: %s, mode %s, policy %s (%s)%s\n", orDash(t.Target), t.RunID, t.Outcome, t.Mode, t.PolicyVersion, t.PolicySource, counts)
		for _, n := range t.Notes {
			fmt.Fprintf(dm.s.out, "note: %s\n", n)
		}
		for _, e := range t.Errors {
			fmt.Fprintf(dm.s.out, "error: %s\n", e)
		}
		if len(t.Actions) > 0 {
			_ = writeDecisions(dm.s.out, formatTable, t.Actions, dm.now)
		}
	}
	return sum, err
}

// sweeps runs the demo's story through the sweeper handler and returns
// the demo's last clock.
func (dm *demo) sweeps(ctx context.Context) (time.Time, error) {
	if _, err := dm.invoke(ctx, "Sweep 1: scheduled event, no policy stored yet (safe default: audit only), every target side by side", dm.sweeper(nil), scheduledEvent(dm.now)); err != nil {
		return time.Time{}, err
	}
	p, err := policy.Parse([]byte(demoPolicy))
	if err != nil {
		return time.Time{}, err
	}
	if err := dm.d.Journal.PutPolicy(ctx, dm.cfg.PolicyID, p, "keysweep demo"); err != nil {
		return time.Time{}, err
	}
	fmt.Fprintf(dm.s.out, "\n== Stored enforce-mode policies: for aws (version %s): limits 90 days old / 45 days unused, "+
		"/service/ users 30 days unused, delete 7 days after deactivation\n", p.Version)
	if err := dm.storeTargetPolicies(ctx); err != nil {
		return time.Time{}, err
	}
	ev2 := scheduledEvent(dm.now.Add(time.Minute))
	sum2, err := dm.invoke(ctx, "Sweep 2: next scheduled event, the policies enforced through the Lambda handler", dm.sweeper(nil), ev2)
	if err != nil {
		return time.Time{}, err
	}
	if _, err := dm.invoke(ctx, "Sweep 2 again: EventBridge delivers the same event twice", dm.sweeper(nil), ev2); err != nil {
		return time.Time{}, err
	}
	later := dm.now.Add(8 * 24 * time.Hour)
	if _, err := dm.invoke(ctx, "Sweep 3: eight days later, the deactivated keys and the GMI keys marked due are deleted", dm.sweeper(func() time.Time { return later }), scheduledEvent(later)); err != nil {
		return time.Time{}, err
	}
	if err := dm.auditTrail(ctx, sum2); err != nil {
		return time.Time{}, err
	}
	return later, nil
}

// auditTrail prints each target's records of sweep 2, and the history of
// a key of each kind of store across the sweeps.
func (dm *demo) auditTrail(ctx context.Context, sum2 *lambda.Summary) error {
	for _, t := range append([]*engine.Summary{&sum2.Summary}, sum2.Targets...) {
		target := ""
		if t.Target != domain.DefaultTarget {
			target = " --target " + t.Target
		}
		fmt.Fprintf(dm.s.out, "\n== Audit trail of sweep 2 on %s (keysweep audit --run %s%s)\n", t.Target, t.RunID, target)
		recs, err := dm.d.Journal.ByRun(ctx, t.RunID)
		if err != nil {
			return err
		}
		_ = writeRecords(dm.s.out, formatTable, recs)
	}
	for _, t := range append([]*engine.Summary{&sum2.Summary}, sum2.Targets...) {
		for _, a := range t.Actions {
			what := followed(t.Target, a)
			if what == "" {
				continue
			}
			target := ""
			if t.Target != domain.DefaultTarget {
				target = " --target " + t.Target
			}
			fmt.Fprintf(dm.s.out, "\n== History of %s (keysweep audit --key %s%s)\n", what, a.AccessKeyID, target)
			recs, err := dm.d.Journal.ByKey(ctx, a.AccessKeyID)
			if err != nil {
				return err
			}
			_ = writeRecords(dm.s.out, formatTable, recs)
		}
	}
	return nil
}

// followed names the key of each kind of store whose history the demo
// prints after its sweeps; "" for the others.
func followed(target string, a domain.KeyDecision) string {
	switch {
	case target == domain.DefaultTarget && a.UserName == "bob":
		return "bob's key"
	case target == demoOTC && a.UserName == "ci-runner":
		return "ci-runner's key in the OTC domain: deactivated, then deleted"
	case target == demoGMI && a.KeyName == "training-job":
		return "the GMI key training-job: marked due, deleted after the notice period"
	}
	return ""
}

// report writes the posture report of every target as of the demo's last
// clock, through `keysweep report`'s own code (which reads the targets from
// KEYSWEEP_TARGETS, as it does for a user).
func (dm *demo) report(ctx context.Context, file string, at time.Time) (string, error) {
	fmt.Fprintf(dm.s.out, "\n== Posture report of the three targets as of sweep 3 (keysweep report --all -o %s)\n", file)
	o := &reportOptions{common: common{policyTable: dm.cfg.PolicyTable, auditTable: dm.cfg.AuditTable}, days: 90, file: file, all: true, now: at}
	if err := runReport(ctx, dm.s, o); err != nil {
		return "", fmt.Errorf("report: %w", err)
	}
	return filepath.Abs(file)
}
