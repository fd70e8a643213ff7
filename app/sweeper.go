package app

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"time"

	"github.com/aws/aws-lambda-go/lambdacontext"

	"github.com/keysweep/keysweep/policy"
	"github.com/keysweep/keysweep/store"
	"github.com/keysweep/keysweep/sweep"
)

// PolicySource values on the run record.
const (
	SourceStored  = "stored"
	SourceDefault = "builtin-default"
	SourceFile    = "file"
)

// PolicyStore reads the policy table.
type PolicyStore interface {
	GetPolicy(ctx context.Context, id string) (*policy.Policy, time.Time, error)
}

// Sweeper is the scheduled Lambda's handler: it parses the event, loads the
// policy, runs the engine, and returns a summary.
type Sweeper struct {
	Engine   *sweep.Engine
	Policies PolicyStore
	PolicyID string
	// Policy, when set, is used instead of the policy table (CLI --policy FILE).
	Policy *policy.Policy
	Logger *slog.Logger
	// Metrics receives CloudWatch Embedded Metric Format lines; nil: none.
	Metrics io.Writer
	// Trigger overrides the trigger kind recorded for manual payloads
	// ("cli" when run from the command line).
	ManualKind string
}

// Summary is the sweeper's JSON answer.
type Summary struct {
	RunID         string         `json:"runId"`
	Outcome       string         `json:"outcome"`
	Duplicate     bool           `json:"duplicate,omitempty"`
	Mode          policy.Mode    `json:"mode,omitempty"`
	PolicyVersion string         `json:"policyVersion,omitempty"`
	PolicySource  string         `json:"policySource,omitempty"`
	Inventory     string         `json:"inventory,omitempty"`
	Counts        map[string]int `json:"counts,omitempty"`
	DurationMs    int64          `json:"durationMs"`
	ResumeAfter   string         `json:"resumeAfter,omitempty"`
	Notes         []string       `json:"notes,omitempty"`
	Errors        []string       `json:"errors,omitempty"`
	// Actions lists every decision other than keep.
	Actions []sweep.KeyDecision `json:"actions,omitempty"`
	// Decisions is the full list; filled only when the caller asks (CLI).
	Decisions []sweep.KeyDecision `json:"-"`
}

func (s *Sweeper) log() *slog.Logger {
	if s.Logger != nil {
		return s.Logger
	}
	return slog.Default()
}

// LoadPolicy returns the stored policy, or the built-in default (audit
// mode) when none is stored. An invalid stored policy is an error.
func LoadPolicy(ctx context.Context, ps PolicyStore, id string) (*policy.Policy, string, error) {
	p, _, err := ps.GetPolicy(ctx, id)
	if errors.Is(err, store.ErrNotFound) {
		return policy.Default(), SourceDefault, nil
	}
	if err != nil {
		return nil, SourceStored, err
	}
	return p, SourceStored, nil
}

// Handle runs one sweep for a raw event. Invalid events and policies change
// nothing and return an error that names the problem.
func (s *Sweeper) Handle(ctx context.Context, raw []byte) (*Summary, error) {
	ev, err := ParseSweepEvent(raw)
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

// Run runs one sweep for a parsed event.
func (s *Sweeper) Run(ctx context.Context, ev SweepEvent) (*Summary, error) {
	kind := ev.Kind
	if kind == "manual" && s.ManualKind != "" {
		kind = s.ManualKind
	}
	req := sweep.Request{
		Trigger:   store.Trigger{Kind: kind, Source: ev.Source, EventID: ev.EventID},
		AuditOnly: ev.AuditOnly,
		Users:     ev.Users,
		RunID:     ev.RunID,
	}
	if err := s.checkRunID(ctx, ev); err != nil {
		s.log().Error("refused event", "err", err)
		return nil, err
	}
	var notes []string
	if s.Policy != nil {
		req.Policy, req.PolicySource = s.Policy, SourceFile
	} else {
		req.Policy, req.PolicySource, req.PolicyErr = LoadPolicy(ctx, s.Policies, s.PolicyID)
		if req.PolicyErr != nil {
			req.Policy = nil
		}
	}
	if req.PolicySource == SourceDefault {
		notes = append(notes, "no policy stored: ran the built-in default policy in audit mode; nothing was changed (store a policy with mode enforce to act)")
	}
	if ev.Enforce && req.Policy != nil && req.Policy.Mode != policy.ModeEnforce {
		// A manual payload may narrow a run, never widen it.
		req.Policy = nil
		req.PolicyErr = fmt.Errorf("%w: mode: enforce requested, but the policy (%s) is in %s mode; a payload cannot widen the policy", ErrBadEvent, req.PolicySource, s.policyMode(ctx))
	}
	res, err := s.Engine.Run(ctx, req)
	if res == nil {
		s.log().Error("sweep failed before its run record", "err", err)
		return nil, err
	}
	sum := summarize(res, notes)
	s.emitMetrics(sum)
	if err != nil {
		s.log().Error("sweep", "run", sum.RunID, "outcome", sum.Outcome, "err", err)
		return sum, err
	}
	s.log().Info("sweep", "run", sum.RunID, "outcome", sum.Outcome, "mode", sum.Mode, "counts", sum.Counts)
	return sum, nil
}

func (s *Sweeper) policyMode(ctx context.Context) policy.Mode {
	if s.Policy != nil {
		return s.Policy.Mode
	}
	p, _, err := LoadPolicy(ctx, s.Policies, s.PolicyID)
	if err != nil {
		return "unknown"
	}
	return p.Mode
}

func summarize(res *sweep.Result, notes []string) *Summary {
	r := res.Run
	sum := &Summary{
		RunID:         r.RunID,
		Outcome:       r.Outcome,
		Duplicate:     res.Duplicate,
		Mode:          r.Mode,
		PolicyVersion: r.PolicyVersion,
		PolicySource:  r.PolicySource,
		Inventory:     r.Inventory,
		Counts:        r.Counts,
		DurationMs:    r.DurationMs,
		ResumeAfter:   r.ResumeAfter,
		Notes:         notes,
		Errors:        r.Errors,
		Decisions:     res.Decisions,
	}
	if res.Duplicate {
		sum.Notes = append(sum.Notes, "event already handled by run "+r.RunID+": nothing done")
	}
	for _, d := range res.Decisions {
		if d.Verdict != policy.Keep || d.Outcome == sweep.OutcomeFailed {
			if len(sum.Actions) == MaxSummaryActions {
				sum.Notes = append(sum.Notes, fmt.Sprintf("only the first %d decisions are listed here; keysweep audit --run %s has them all", MaxSummaryActions, r.RunID))
				break
			}
			sum.Actions = append(sum.Actions, d)
		}
	}
	return sum
}

// MaxSummaryActions keeps the summary well inside Lambda's 6 MB response
// limit; the audit table has every record.
const MaxSummaryActions = 1000

// runReader is the part of the audit store that reads a run record; the
// DynamoDB and in-process journals have it.
type runReader interface {
	GetRun(ctx context.Context, runID string) (*store.Run, error)
}

// checkRunID refuses a payload whose runId is not a run the API queued:
// the id is how POST /sweeps hands its queued run to the sweeper, and a
// payload naming any other run (one that began, or none at all) would
// overwrite or invent a run record. A retry of the same delivery (the
// same event id) passes, and the engine answers it as a duplicate.
func (s *Sweeper) checkRunID(ctx context.Context, ev SweepEvent) error {
	if ev.RunID == "" || s.Engine == nil {
		return nil
	}
	runs, ok := s.Engine.Journal.(runReader)
	if !ok {
		return nil
	}
	run, err := runs.GetRun(ctx, ev.RunID)
	switch {
	case errors.Is(err, store.ErrNotFound):
		return fmt.Errorf("%w: runId: no run %s was queued (runId is set by the API's POST /sweeps; leave it out)", ErrBadEvent, ev.RunID)
	case err != nil:
		return fmt.Errorf("read run %s: %w", ev.RunID, err)
	case run.Outcome == store.OutcomeQueued:
		return nil
	case ev.EventID != "" && run.Trigger.EventID == ev.EventID:
		return nil
	}
	return fmt.Errorf("%w: runId: run %s already began (outcome %s); a payload cannot start it again", ErrBadEvent, ev.RunID, run.Outcome)
}
