package fanout

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/organizations"

	"github.com/keysweep/keysweep/internal/domain"
	"github.com/keysweep/keysweep/internal/engine"
	"github.com/keysweep/keysweep/policy"
)

// Journal is the audit table as the organization fan-out uses it: the
// engine's journal plus organization runs. Both journals satisfy it.
type Journal interface {
	engine.Journal
	GetRun(ctx context.Context, runID string) (*domain.Run, error)
	GetOrgRun(ctx context.Context, runID string) (*domain.OrgRun, error)
	PlanOrgRun(ctx context.Context, runID string, plan domain.OrgPlan) error
	MarkDispatched(ctx context.Context, runID string, notes []string) (*domain.OrgRun, error)
	RecordAccount(ctx context.Context, orgRunID string, res domain.AccountResult) (*domain.OrgRun, error)
	AccountResults(ctx context.Context, orgRunID string) ([]domain.AccountResult, error)
}

// Dispatcher starts organization runs: it selects the accounts, records the
// organization run and sends one message per account.
type Dispatcher struct {
	Orgs     OrganizationsAPI
	Queue    Queue
	Journal  Journal
	Policies engine.PolicyStore
	PolicyID string
	// AccountID names the account the dispatcher runs in, for the run record.
	AccountID func(ctx context.Context) (string, error)
	// PageSize is passed to the Selector (tests); 0: Organizations' default.
	PageSize int32
	Now      func() time.Time
	Logger   *slog.Logger
}

// DispatchRequest describes one organization run.
type DispatchRequest struct {
	Trigger domain.Trigger
	// AuditOnly narrows an enforce policy to audit for every account.
	AuditOnly bool
	// Enforce asks for enforce mode; refused unless the policy enforces.
	Enforce bool
	// RunID is used when set.
	RunID string
}

// Dispatched is what Dispatch did.
type Dispatched struct {
	Run       *domain.OrgRun `json:"run"`
	Selection *Selection     `json:"-"`
	// Sent counts the messages sent now (a resend after a crash included).
	Sent int `json:"sent"`
	// Duplicate is set when the trigger's event already started Run.
	Duplicate bool `json:"duplicate,omitempty"`
}

// MaxNotes bounds the notes (skipped accounts, send failures) written to the
// organization run record; the rest are summed up in one note.
const MaxNotes = 100

func (d *Dispatcher) now() time.Time {
	if d.Now != nil {
		return d.Now().UTC()
	}
	return time.Now().UTC()
}

// Log is the dispatcher's logger.
func (d *Dispatcher) Log() *slog.Logger { return d.log() }

func (d *Dispatcher) log() *slog.Logger {
	if d.Logger != nil {
		return d.Logger
	}
	return slog.Default()
}

// Dispatch starts one organization run. A trigger whose event already
// started a run does nothing, unless that run was cut off while sending its
// messages (then they are sent again: workers de-duplicate by event id, so
// an account that already got its message is not swept twice), or failed
// before it planned anything (then it starts over under the same id).
func (d *Dispatcher) Dispatch(ctx context.Context, req DispatchRequest) (*Dispatched, error) {
	start := d.now()
	runID := req.RunID
	if runID == "" {
		runID = NewOrgRunID(start)
	}
	account := ""
	if d.AccountID != nil {
		a, err := d.AccountID(ctx)
		if err != nil {
			return nil, fmt.Errorf("account id: %w", err)
		}
		account = a
	}
	run := domain.Run{
		RunID: runID, Account: account, Trigger: req.Trigger, StartedAt: start,
		Counts: map[string]int{}, Outcome: domain.RunRunning,
	}
	p, perr := d.policy(ctx, req, &run)
	if err := d.Journal.BeginRun(ctx, &run); err != nil {
		var dup *domain.DuplicateEventError
		if errors.As(err, &dup) {
			return d.resume(ctx, req, dup)
		}
		return nil, fmt.Errorf("begin organization run: %w", err)
	}
	return d.plan(ctx, &run, p, perr)
}

// policy loads the policy and sets the run's policy fields; the error says
// why no account may be swept.
func (d *Dispatcher) policy(ctx context.Context, req DispatchRequest, run *domain.Run) (*policy.Policy, error) {
	p, source, perr := engine.LoadPolicy(ctx, d.Policies, d.PolicyID)
	if perr == nil && req.Enforce && p.Mode != policy.ModeEnforce {
		perr = fmt.Errorf("mode: enforce requested, but the policy (%s) is in %s mode; a payload cannot widen the policy", source, p.Mode)
	}
	run.PolicySource = source
	if perr != nil {
		return nil, perr
	}
	run.PolicyVersion, run.Mode = p.Version, p.Mode
	if req.AuditOnly {
		run.Mode = policy.ModeAudit
	}
	return p, nil
}

// plan selects the accounts of a begun run, records the plan, and sends one
// message per account.
func (d *Dispatcher) plan(ctx context.Context, run *domain.Run, p *policy.Policy, perr error) (*Dispatched, error) {
	runID := run.RunID
	log := d.log().With("orgRun", runID)
	fail := func(err error) (*Dispatched, error) {
		end := d.now()
		run.Outcome, run.FinishedAt = domain.RunFailed, &end
		run.DurationMs = end.Sub(run.StartedAt).Milliseconds()
		run.Errors = append(run.Errors, err.Error())
		// Never end without the record, even when ctx is done.
		wctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
		defer cancel()
		if ferr := d.Journal.FinishRun(wctx, run); ferr != nil {
			err = errors.Join(err, fmt.Errorf("finish organization run: %w", ferr))
		}
		log.Error("organization run failed", "err", err)
		return &Dispatched{Run: &domain.OrgRun{Run: *run}}, err
	}
	if perr != nil {
		return fail(fmt.Errorf("%w: %w; no account was swept", engine.ErrPolicy, perr))
	}

	org, err := d.Orgs.DescribeOrganization(ctx, &organizations.DescribeOrganizationInput{})
	if err != nil {
		return fail(fmt.Errorf("describe organization: %w", err))
	}
	sel, err := (&Selector{API: d.Orgs, PageSize: d.PageSize}).Select(ctx, p.Organization)
	if err != nil {
		return fail(err)
	}
	plan := domain.OrgPlan{Selection: p.Organization.String(), Accounts: sel.IDs()}
	if org.Organization != nil {
		plan.OrganizationID = aws.ToString(org.Organization.Id)
	}
	if err := d.Journal.PlanOrgRun(ctx, runID, plan); err != nil {
		return fail(err)
	}
	log.Info("organization run planned", "accounts", len(sel.Accounts), "skipped", len(sel.Skipped), "selection", plan.Selection)

	var notes []string
	for _, s := range sel.Skipped {
		notes = append(notes, fmt.Sprintf("skipped account %s: %s", s.Account, s.Reason))
	}
	msgs := make([]Message, len(sel.Accounts))
	for i, a := range sel.Accounts {
		msgs[i] = NewMessage(runID, a.ID)
	}
	sent, sendNotes, err := d.send(ctx, runID, msgs)
	notes = append(notes, sendNotes...)
	if err != nil {
		return nil, fmt.Errorf("organization run %s: %w", runID, err)
	}
	o, err := d.Journal.MarkDispatched(ctx, runID, capNotes(notes))
	if err != nil {
		return nil, fmt.Errorf("organization run %s: %w", runID, err)
	}
	log.Info("organization run dispatched", "sent", sent, "outcome", o.Outcome)
	return &Dispatched{Run: o, Selection: sel, Sent: sent}, nil
}

// send sends msgs and records each account whose message could not be sent
// as failed: no worker will ever see it.
func (d *Dispatcher) send(ctx context.Context, runID string, msgs []Message) (int, []string, error) {
	failures := d.Queue.Send(ctx, msgs)
	var notes []string
	for _, f := range failures {
		res := domain.AccountResult{
			Account: f.Message.AccountID, Status: domain.AccountFailed, Outcome: domain.RunFailed,
			Error: "not queued: " + f.Err.Error(), At: d.now(),
		}
		if _, err := d.Journal.RecordAccount(ctx, runID, res); err != nil {
			return 0, nil, fmt.Errorf("record unsent account %s: %w", f.Message.AccountID, err)
		}
		notes = append(notes, fmt.Sprintf("account %s %s", f.Message.AccountID, res.Error))
	}
	if len(failures) > 0 {
		d.log().Error("account messages not sent", "orgRun", runID, "failed", len(failures), "of", len(msgs))
	}
	return len(msgs) - len(failures), notes, nil
}

// resume handles a trigger seen before: a run cut off between its plan and
// the end of its sending gets its messages again.
func (d *Dispatcher) resume(ctx context.Context, req DispatchRequest, dup *domain.DuplicateEventError) (*Dispatched, error) {
	o, err := d.Journal.GetOrgRun(ctx, dup.RunID)
	if err != nil {
		return nil, fmt.Errorf("organization run %s of event %s: %w", dup.RunID, dup.EventID, err)
	}
	log := d.log().With("orgRun", o.RunID, "event", dup.EventID)
	if !o.Planned && o.Outcome == domain.RunFailed {
		// It failed before sending anything (Organizations or DynamoDB
		// unavailable): this retry starts it over.
		log.Warn("duplicate event of a run that failed before its plan: starting it over")
		run := o.Run
		run.Outcome, run.FinishedAt, run.DurationMs = domain.RunRunning, nil, 0
		for i, e := range run.Errors {
			run.Errors[i] = "earlier attempt: " + e
		}
		p, perr := d.policy(ctx, req, &run)
		if err := d.Journal.FinishRun(ctx, &run); err != nil {
			return nil, fmt.Errorf("restart organization run %s: %w", run.RunID, err)
		}
		res, err := d.plan(ctx, &run, p, perr)
		if res != nil {
			res.Duplicate = true
		}
		return res, err
	}
	if !o.Planned || o.DispatchedAt != nil || o.Outcome != domain.RunRunning {
		log.Info("duplicate event: nothing to do", "outcome", o.Outcome)
		return &Dispatched{Run: o, Duplicate: true}, nil
	}
	log.Warn("duplicate event of a run cut off while dispatching: sending its messages again", "accounts", len(o.Accounts))
	msgs := make([]Message, len(o.Accounts))
	for i, a := range o.Accounts {
		msgs[i] = NewMessage(o.RunID, a)
	}
	sent, notes, err := d.send(ctx, o.RunID, msgs)
	if err != nil {
		return nil, err
	}
	notes = append(notes, "messages sent again after the dispatcher was cut off")
	o, err = d.Journal.MarkDispatched(ctx, o.RunID, capNotes(notes))
	if err != nil {
		return nil, err
	}
	return &Dispatched{Run: o, Sent: sent, Duplicate: true}, nil
}

func capNotes(notes []string) []string {
	if len(notes) <= MaxNotes {
		return notes
	}
	return append(notes[:MaxNotes:MaxNotes], fmt.Sprintf("... and %d more notes", len(notes)-MaxNotes))
}
