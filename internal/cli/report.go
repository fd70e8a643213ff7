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
	"github.com/keysweep/keysweep/internal/posture"
	"github.com/keysweep/keysweep/internal/report"
	"github.com/keysweep/keysweep/internal/wiring"
	"github.com/keysweep/keysweep/policy"
)

// reportOptions are `keysweep report`'s flags.
type reportOptions struct {
	common
	at         string
	days       int
	file       string
	policyFile string
	all        bool
	// now is the report's time; time.Now when zero (the demo sets it).
	now time.Time
}

func newReportCmd(s *streams) *cobra.Command {
	o := &reportOptions{}
	cmd := &cobra.Command{
		Use:   "report [--target NAME] [--at DATE] [--days 90] [-o report.html]",
		Short: "write the posture report: one self-contained HTML page of every key, what is due, and what was done",
		Args:  exactArgs(0, "no arguments"),
		RunE: func(cmd *cobra.Command, _ []string) error {
			return ran(runReport(cmd.Context(), s, o))
		},
	}
	fs := cmd.Flags()
	o.register(fs)
	o.registerTarget(fs, "every target")
	fs.StringVar(&o.at, "at", "", "judge as of this date (YYYY-MM-DD or RFC 3339) instead of now")
	fs.IntVar(&o.days, "days", 90, "the window: the forecast's weeks ahead, and the runs and actions shown back (at least 30 days back)")
	fs.StringVarP(&o.file, "output", "o", "report.html", "the HTML file to write")
	fs.StringVar(&o.policyFile, "policy", "", "judge with this policy file (JSON or YAML) instead of the stored policy")
	fs.BoolVar(&o.all, "all", false, "read every user's keys for their ids, kept ones too (one call per user)")
	return cmd
}

func runReport(ctx context.Context, s *streams, o *reportOptions) error {
	if o.days < 1 || o.days > 3650 {
		return usagef("--days: want 1 to 3650, got %d", o.days)
	}
	if o.file == "" {
		return usagef("-o: name the HTML file to write")
	}
	now := o.now
	if now.IsZero() {
		now = time.Now().UTC()
	}
	at := now
	if o.at != "" {
		t, err := parseDate(o.at)
		if err != nil {
			return usagef("--at: %v", err)
		}
		at = t
	}
	d, err := o.deps(ctx, s, false)
	if err != nil {
		return err
	}
	in, err := o.gather(ctx, s, d, now, at)
	if err != nil {
		return err
	}
	path, err := writeReport(o.file, in)
	if err != nil {
		return err
	}
	fmt.Fprintf(s.err, "report of %d keys in %d key store(s) at %s, %d weeks ahead, %d runs and %d actions back\n",
		len(in.Decisions), len(in.Targets), at.Format(time.RFC3339), len(in.Forecast), len(in.Runs), len(in.Records))
	fmt.Fprintln(s.out, path)
	return nil
}

// gather judges each target's keys now and at the end of each coming week
// (one inventory each), and reads the recent runs and actions, as the
// sweeper does after a scheduled run (internal/posture).
func (o *reportOptions) gather(ctx context.Context, s *streams, d *wiring.Deps, now, at time.Time) (report.Input, error) {
	ts := o.targets(d, s)
	if o.target != "" {
		t, err := o.pick(ts)
		if err != nil {
			return report.Input{}, err
		}
		ts = []engine.Target{t}
	}
	po := posture.Options{
		Now: now, At: at, Days: o.days,
		Engine: func(ctx context.Context, t engine.Target) (*engine.Engine, error) { return o.planEngine(ctx, t, o.all) },
		Policy: func(ctx context.Context, t engine.Target) (*policy.Policy, error) {
			p, _, err := planPolicy(ctx, s, &o.common, o.policyFile, t, d.Journal)
			return p, err
		},
		// The target asked for, and the deployment's own account, must be
		// in the report; another unreachable store is left out, said so.
		Required: func(t engine.Target) bool { return o.target != "" || t.Name == domain.DefaultTarget },
		LeftOut: func(t engine.Target, err error) {
			fmt.Fprintf(s.err, "warning: target %s left out of the report: %v\n", t.Name, err)
		},
	}
	if o.auditTable != "" {
		po.Activity = d.Journal
	}
	return posture.Gather(ctx, ts, po)
}

// writeReport renders the page to a file next to path, then moves it in
// place: a failed render never leaves half a page under the name.
func writeReport(path string, in report.Input) (string, error) {
	abs, err := filepath.Abs(path)
	if err != nil {
		return "", usagef("-o: %v", err)
	}
	f, err := os.CreateTemp(filepath.Dir(abs), ".keysweep-report-*.html")
	if err != nil {
		return "", fmt.Errorf("write report: %w", err)
	}
	defer os.Remove(f.Name())
	if err := report.Render(f, in); err != nil {
		f.Close()
		return "", fmt.Errorf("render report: %w", err)
	}
	if err := f.Chmod(0o644); err != nil {
		f.Close()
		return "", fmt.Errorf("write report: %w", err)
	}
	if err := f.Close(); err != nil {
		return "", fmt.Errorf("write report: %w", err)
	}
	if err := os.Rename(f.Name(), abs); err != nil {
		return "", fmt.Errorf("write report: %w", err)
	}
	return abs, nil
}
