// Package lambda holds keysweep's four Lambda handlers (the sweeper, the
// API, the organization dispatcher and worker), the Lambda events they
// parse and the CloudWatch metrics they emit. The logic is in the engine
// and the fan-out; these adapt Lambda's invocations to them.
package lambda

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"sync"

	"github.com/aws/aws-lambda-go/lambdacontext"

	"github.com/keysweep/keysweep/internal/domain"
	"github.com/keysweep/keysweep/internal/engine"
	"github.com/keysweep/keysweep/internal/trigger"
	"github.com/keysweep/keysweep/policy"
)

// Target is one key store a sweeper sweeps: its engine and its policy.
type Target = engine.Target

// Sweeper is the scheduled Lambda's handler: it parses the event, loads
// each target's policy, runs the engine of every target side by side (each
// isolated from the others' failures) and returns a summary.
type Sweeper struct {
	// Targets are swept in this order; the first is the default target
	// (the deployment's AWS account), whose summary is the answer's top.
	Targets  []Target
	Policies engine.PolicyStore
	// Policy, when set, is used instead of the policy table (CLI --policy FILE).
	Policy *policy.Policy
	Logger *slog.Logger
	// Metrics receives CloudWatch Embedded Metric Format lines; nil: none.
	Metrics io.Writer
	// ManualKind overrides the trigger kind recorded for manual payloads
	// ("cli" when run from the command line).
	ManualKind string
	// Reports, when set, writes the posture report after each scheduled
	// run and links it from the summary.
	Reports *Reports
}

// Summary is the sweeper's JSON answer: the first target's run, and the
// other targets' runs beside it.
type Summary struct {
	engine.Summary
	Targets []*engine.Summary `json:"targets,omitempty"`
	// Report is a presigned link to the posture report written after a
	// scheduled run (Sweeper.Reports). It works only while the sweeper
	// role's session lasts (hours); ReportObject stays.
	Report string `json:"report,omitempty"`
	// ReportObject is the report's s3:// address.
	ReportObject string `json:"reportObject,omitempty"`
}

// ran is one target's finished run, kept to announce it once the answer
// (and its report) is complete.
type ran struct {
	eng *engine.Engine
	res *engine.Result
	p   *policy.Policy
	sum *engine.Summary
}

func (s *Sweeper) log() *slog.Logger {
	if s.Logger != nil {
		return s.Logger
	}
	return slog.Default()
}

// Handle runs one sweep for a raw event. Invalid events and policies change
// nothing and return an error that names the problem.
func (s *Sweeper) Handle(ctx context.Context, raw json.RawMessage) (*Summary, error) {
	ev, err := trigger.Parse(raw)
	if err != nil {
		s.log().Error("refused event", "err", err)
		return nil, err
	}
	if ev.EventID == "" {
		// Lambda keeps the request id across its own retries of an
		// asynchronous invocation: use it so a retry cannot act twice.
		if lc, ok := lambdacontext.FromContext(ctx); ok && lc.AwsRequestID != "" {
			ev.EventID = "lambda:" + lc.AwsRequestID
		}
	}
	return s.Run(ctx, ev)
}

// Run runs one sweep of every target (or the one the event names) for a
// parsed event. It fails when any target's run fails; the others' runs
// stand (a retried event finds them done).
func (s *Sweeper) Run(ctx context.Context, ev trigger.Event) (*Summary, error) {
	targets, err := s.pick(ev.Target)
	if err != nil {
		return nil, err
	}
	sums := make([]*engine.Summary, len(targets))
	runs := make([]ran, len(targets))
	errs := make([]error, len(targets))
	var wg sync.WaitGroup
	for i, t := range targets {
		wg.Go(func() {
			runs[i], errs[i] = s.runTarget(ctx, t, i == 0 && t.Name == s.Targets[0].Name, ev)
			sums[i] = runs[i].sum
		})
	}
	wg.Wait()
	began := false
	for _, sum := range sums {
		began = began || sum != nil
	}
	if !began {
		// No target's run began: a refused event, or no key store
		// reachable. Nothing was changed or recorded.
		return nil, errors.Join(errs...)
	}
	var out *Summary
	for i, sum := range sums {
		if sum == nil {
			sum = &engine.Summary{Target: targets[i].Name, Outcome: domain.RunFailed, Errors: []string{errs[i].Error()}}
		}
		if out == nil {
			out = &Summary{Summary: *sum}
			continue
		}
		out.Targets = append(out.Targets, sum)
	}
	if s.Reports != nil && ev.Kind == domain.TriggerSchedule {
		s.report(ctx, targets, out)
	}
	// Last, once the answer is complete (with its report): the team's
	// run summaries, and the notices' metric. The summaries link the
	// report's object, which outlives the presigned link.
	s.announce(ctx, runs, out.Report, out.ReportObject)
	return out, errors.Join(errs...)
}

// announce publishes each run's summary to the team topic (the engine
// decides whether the policy and the deployment want it) and emits the
// NoticesFailed metric of each run that sent notices.
func (s *Sweeper) announce(ctx context.Context, runs []ran, report, object string) {
	for _, r := range runs {
		if r.eng == nil || r.res == nil || r.res.Duplicate {
			continue
		}
		if err := r.eng.Announce(ctx, r.res, r.p, report, object); err != nil {
			s.log().Error("announce run", "run", r.res.Run.RunID, "err", err)
		}
		s.emitNoticeMetrics(r.sum)
	}
}

// report writes the posture report after a scheduled run. A report that
// cannot be written is a note on the summary: the run stands as it is.
func (s *Sweeper) report(ctx context.Context, targets []Target, out *Summary) {
	runID, fresh := out.RunID, !out.Duplicate
	for _, t := range out.Targets {
		if runID == "" {
			runID = t.RunID
		}
		fresh = fresh || !t.Duplicate
	}
	if !fresh || runID == "" {
		// A second delivery of the event: its first wrote the report.
		return
	}
	link, uri, err := s.Reports.write(ctx, targets, s.policyOf, runID)
	if err != nil {
		s.log().Error("posture report not written; the run stands", "run", runID, "err", err)
		out.Notes = append(out.Notes, "posture report not written: "+err.Error())
		return
	}
	s.log().Info("posture report written", "run", runID, "object", uri)
	out.Report, out.ReportObject = link, uri
	out.Notes = append(out.Notes, reportNote(uri, s.Reports.validity()))
}

// policyOf is the policy a target is judged with: the one given, else its
// stored one (the built-in default when none is stored).
func (s *Sweeper) policyOf(ctx context.Context, t Target) (*policy.Policy, error) {
	if s.Policy != nil {
		return s.Policy, nil
	}
	p, _, err := engine.LoadPolicy(ctx, s.Policies, t.PolicyID)
	if err != nil {
		return nil, fmt.Errorf("policy of target %s: %w", t.Name, err)
	}
	return p, nil
}

// pick returns the targets an event sweeps.
func (s *Sweeper) pick(name string) ([]Target, error) {
	if name == "" {
		return s.Targets, nil
	}
	for _, t := range s.Targets {
		if t.Name == name {
			return []Target{t}, nil
		}
	}
	var names []string
	for _, t := range s.Targets {
		names = append(names, t.Name)
	}
	return nil, fmt.Errorf("%w: target: no target %q (this deployment sweeps %v)", trigger.ErrBadEvent, name, names)
}

// runTarget runs one target's sweep. The default target keeps the event's
// id as it is; the others claim it with their name added, so each target's
// run is de-duplicated on its own.
func (s *Sweeper) runTarget(ctx context.Context, t Target, first bool, ev trigger.Event) (ran, error) {
	log := s.log().With("target", t.Name)
	kind := ev.Kind
	if kind == "manual" && s.ManualKind != "" {
		kind = s.ManualKind
	}
	eventID := ev.EventID
	if !first && eventID != "" {
		eventID += "#" + t.Name
	}
	eng, err := t.Resolve(ctx)
	if err != nil {
		log.Error("target unreachable: nothing changed", "err", err)
		return ran{}, fmt.Errorf("target %s: %w; nothing changed", t.Name, err)
	}
	req := engine.Request{
		Trigger:   domain.Trigger{Kind: kind, Source: ev.Source, EventID: eventID},
		AuditOnly: ev.AuditOnly, Users: ev.Users, RunID: ev.RunID,
	}
	if err := s.checkRunID(ctx, eng, ev); err != nil {
		log.Error("refused event", "err", err)
		return ran{}, err
	}
	if s.Policy != nil {
		req.Policy, req.PolicySource = s.Policy, engine.SourceFile
	} else {
		req.Policy, req.PolicySource, req.PolicyErr = engine.LoadPolicy(ctx, s.Policies, t.PolicyID)
		if req.PolicyErr != nil {
			req.Policy = nil
		}
	}
	if req.PolicySource == engine.SourceDefault {
		req.Notes = append(req.Notes, "no policy stored: ran the built-in default policy in audit mode; nothing was changed (store a policy with mode enforce to act)")
	}
	if ev.Enforce && req.Policy != nil && req.Policy.Mode != policy.ModeEnforce {
		// A manual payload may narrow a run, never widen it.
		req.PolicyErr = fmt.Errorf("%w: mode: enforce requested, but the policy (%s) is in %s mode; a payload cannot widen the policy", trigger.ErrBadEvent, req.PolicySource, req.Policy.Mode)
		req.Policy = nil
	}
	res, err := eng.Run(ctx, req)
	if err != nil && !first {
		err = fmt.Errorf("target %s: %w", t.Name, err)
	}
	if res == nil {
		log.Error("sweep failed before its run record", "err", err)
		return ran{}, err
	}
	sum := engine.Summarize(res)
	sum.Target = t.Name
	s.emitMetrics(sum)
	r := ran{eng: eng, res: res, p: req.Policy, sum: sum}
	if err != nil {
		log.Error("sweep", "run", sum.RunID, "outcome", sum.Outcome, "err", err)
		return r, err
	}
	log.Info("sweep", "run", sum.RunID, "outcome", sum.Outcome, "mode", sum.Mode, "counts", sum.Counts)
	return r, nil
}

// checkRunID refuses a payload whose runId is not a run the API queued:
// the id is how POST /sweeps hands its queued run to the sweeper, and a
// payload naming any other run (one that began, or none at all) would
// overwrite or invent a run record. A retry of the same delivery (the
// same event id) passes, and the engine answers it as a duplicate.
func (s *Sweeper) checkRunID(ctx context.Context, eng *engine.Engine, ev trigger.Event) error {
	if ev.RunID == "" {
		return nil
	}
	run, err := eng.Journal.GetRun(ctx, ev.RunID)
	switch {
	case errors.Is(err, domain.ErrNotFound):
		return fmt.Errorf("%w: runId: no run %s was queued (runId is set by the API's POST /sweeps; leave it out)", trigger.ErrBadEvent, ev.RunID)
	case err != nil:
		return fmt.Errorf("read run %s: %w", ev.RunID, err)
	case run.Outcome == domain.RunQueued:
		return nil
	case ev.EventID != "" && run.Trigger.EventID == ev.EventID:
		return nil
	}
	return fmt.Errorf("%w: runId: run %s already began (outcome %s); a payload cannot start it again", trigger.ErrBadEvent, ev.RunID, run.Outcome)
}
