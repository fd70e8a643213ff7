// Package posture gathers the facts of a posture report from keysweep's
// engine and journal: every target's keys judged now and at the end of
// each coming week (one inventory per target), what each store can and
// cannot judge, and the recent runs and actions. `keysweep report` and the
// sweeper after a scheduled run both build their report.Input here, so
// the page a person writes by hand and the one the schedule puts in S3
// show the same things.
//
// It sits between the engine and internal/report: the report package is
// an adapter that knows no engine (internal/architecture holds that), and
// the CLI and the Lambda handlers are entry points that should not import
// each other.
package posture

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/keysweep/keysweep/internal/domain"
	"github.com/keysweep/keysweep/internal/engine"
	"github.com/keysweep/keysweep/internal/report"
	"github.com/keysweep/keysweep/policy"
)

// DefaultDays is the report's default window: the forecast's horizon and
// the history shown, in days.
const DefaultDays = 90

// ActedWindow is how far back the report's "acted on" figure looks: the
// history read covers at least that much, whatever the window.
const ActedWindow = 30 * 24 * time.Hour

// Activity is what Gather reads of the audit trail: the runs begun and the
// intents and outcomes written since a time. Both journals have it.
type Activity interface {
	Activity(ctx context.Context, since time.Time) ([]domain.Run, []domain.Record, error)
}

// Options say how to judge the targets and what history to read.
type Options struct {
	// Now is when the report is made (report.Input.GeneratedAt); time.Now
	// when zero.
	Now time.Time
	// At is when the keys are judged; Now when zero.
	At time.Time
	// Days is the window: the forecast's weeks ahead ((Days+6)/7) and the
	// runs and actions shown back (at least ActedWindow); DefaultDays when
	// zero.
	Days int
	// Policy gives the policy a target's keys are judged with (required).
	Policy func(ctx context.Context, t engine.Target) (*policy.Policy, error)
	// Engine gives the engine a target is planned with; t.Resolve when nil.
	Engine func(ctx context.Context, t engine.Target) (*engine.Engine, error)
	// Activity reads the recent runs and actions; nil shows none.
	Activity Activity
	// Required says whether a target that cannot be judged fails Gather.
	// nil: none does; each such target is left out, with a note on the
	// page and a call to LeftOut.
	Required func(t engine.Target) bool
	// LeftOut, when set, is told of each target left out.
	LeftOut func(t engine.Target, err error)
}

// ErrNoTargets: there was nothing to report on.
var ErrNoTargets = errors.New("no target to report on")

// Gather judges every target and reads the recent activity into the
// report's input.
func Gather(ctx context.Context, targets []engine.Target, o Options) (report.Input, error) {
	if o.Now.IsZero() {
		o.Now = time.Now().UTC()
	}
	if o.At.IsZero() {
		o.At = o.Now
	}
	if o.Days <= 0 {
		o.Days = DefaultDays
	}
	in := report.Input{GeneratedAt: o.Now, At: o.At,
		Capabilities: map[domain.Provider]domain.Capabilities{}, Notes: map[domain.Provider][]string{}}
	if len(targets) == 0 {
		return in, ErrNoTargets
	}
	weeks := report.ForecastDates(o.At, (o.Days+6)/7)
	in.Forecast = make([]report.Week, len(weeks))
	for i, w := range weeks {
		in.Forecast[i].At = w
	}
	for _, t := range targets {
		err := o.judge(ctx, t, &in)
		if err == nil {
			continue
		}
		if o.Required != nil && o.Required(t) {
			return in, err
		}
		// One unreachable store does not hide the others; the page says
		// which one is missing.
		if o.LeftOut != nil {
			o.LeftOut(t, err)
		}
		in.Notes[domain.ProviderAWS] = append(in.Notes[domain.ProviderAWS], fmt.Sprintf("target %s is not in this report: %v", t.Name, err))
	}
	if o.Activity == nil {
		return in, nil
	}
	since := o.At
	if o.Now.Before(since) {
		since = o.Now
	}
	since = since.Add(-max(time.Duration(o.Days)*24*time.Hour, ActedWindow))
	runs, recs, err := o.Activity.Activity(ctx, since)
	if err != nil {
		return in, fmt.Errorf("recent runs and actions: %w", err)
	}
	in.Runs, in.Records = ofTargets(in.Targets, runs, recs)
	return in, nil
}

// judge adds one target's keys, forecast, capabilities and notes.
func (o *Options) judge(ctx context.Context, t engine.Target, in *report.Input) error {
	open := o.Engine
	if open == nil {
		open = func(ctx context.Context, t engine.Target) (*engine.Engine, error) {
			e, err := t.Resolve(ctx)
			if err != nil {
				return nil, fmt.Errorf("target %s: %w", t.Name, err)
			}
			return e, nil
		}
	}
	e, err := open(ctx, t)
	if err != nil {
		return err
	}
	p, err := o.Policy(ctx, t)
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
