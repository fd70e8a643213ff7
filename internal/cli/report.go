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
	"github.com/keysweep/keysweep/internal/report"
	"github.com/keysweep/keysweep/internal/wiring"
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

// actedWindow is how far back the report's "acted on" figure looks: its
// history covers at least that much.
const actedWindow = 30 * 24 * time.Hour

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
// (one inventory each), and reads the recent runs and actions.
func (o *reportOptions) gather(ctx context.Context, s *streams, d *wiring.Deps, now, at time.Time) (report.Input, error) {
	in := report.Input{GeneratedAt: now, At: at,
		Capabilities: map[domain.Provider]domain.Capabilities{}, Notes: map[domain.Provider][]string{}}
	ts := o.targets(d, s)
	if o.target != "" {
		t, err := o.pick(ts)
		if err != nil {
			return in, err
		}
		ts = []engine.Target{t}
	}
	weeks := report.ForecastDates(at, (o.days+6)/7)
	in.Forecast = make([]report.Week, len(weeks))
	for i, w := range weeks {
		in.Forecast[i].At = w
	}
	for _, t := range ts {
		if err := o.judge(ctx, s, d, t, &in); err != nil {
			if o.target != "" || t.Name == domain.DefaultTarget {
				return in, err
			}
			// One unreachable store does not hide the others; the
			// report and stderr say it is missing.
			fmt.Fprintf(s.err, "warning: target %s left out of the report: %v\n", t.Name, err)
			in.Notes[domain.ProviderAWS] = append(in.Notes[domain.ProviderAWS], fmt.Sprintf("target %s is not in this report: %v", t.Name, err))
		}
	}
	if o.auditTable == "" {
		return in, nil
	}
	since := at
	if now.Before(since) {
		since = now
	}
	since = since.Add(-max(time.Duration(o.days)*24*time.Hour, actedWindow))
	runs, recs, err := d.Journal.Activity(ctx, since)
	if err != nil {
		return in, fmt.Errorf("recent runs and actions: %w", err)
	}
	in.Runs, in.Records = ofTargets(in.Targets, runs, recs)
	return in, nil
}

// judge adds one target's keys, forecast, capabilities and notes.
func (o *reportOptions) judge(ctx context.Context, s *streams, d *wiring.Deps, t engine.Target, in *report.Input) error {
	e, err := o.planEngine(ctx, t, o.all)
	if err != nil {
		return err
	}
	p, _, err := planPolicy(ctx, s, &o.common, o.policyFile, t, d.Journal)
	if err != nil {
		return err
	}
	dates := []time.Time{in.At}
	for _, w := range in.Forecast {
		dates = append(dates, w.At)
	}
	plans, err := e.Forecast(ctx, p, dates, nil)
	if err != nil {
		return fmt.Errorf("target %s: %w", t.Name, err)
	}
	prov := e.Store.Provider()
	in.Targets = append(in.Targets, domain.Target{Name: t.Name, Provider: prov, Account: plans[0].Account})
	in.Decisions = append(in.Decisions, plans[0].Decisions...)
	for i := range in.Forecast {
		in.Forecast[i].Decisions = append(in.Forecast[i].Decisions, plans[i+1].Decisions...)
	}
	in.Capabilities[prov] = e.Store.Capabilities()
	notes := plans[0].Notes
	if plans[0].Fallback != "" {
		notes = append(notes, "inventory by listing instead of the credential report: "+plans[0].Fallback)
	}
	in.Notes[prov] = append(in.Notes[prov], notes...)
	if in.Policy == nil {
		in.Policy = p
	}
	return nil
}

// ofTargets keeps the runs and records of the report's key stores.
func ofTargets(ts []domain.Target, runs []domain.Run, recs []domain.Record) ([]domain.Run, []domain.Record) {
	scopes := map[string]bool{}
	for _, t := range ts {
		scopes[domain.Scope(t.Provider, t.Account)] = true
	}
	var outRuns []domain.Run
	for _, r := range runs {
		if scopes[r.Scope()] {
			outRuns = append(outRuns, r)
		}
	}
	var outRecs []domain.Record
	for _, r := range recs {
		if scopes[domain.Scope(r.Provider, r.Account)] {
			outRecs = append(outRecs, r)
		}
	}
	return outRuns, outRecs
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
