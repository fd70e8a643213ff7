package fanout

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"time"

	"github.com/keysweep/keysweep/internal/domain"
	"github.com/keysweep/keysweep/internal/engine"
	"github.com/keysweep/keysweep/policy"
)

// Opener gives a Provider that acts in a member account.
type Opener interface {
	Open(ctx context.Context, account, sessionName string) (engine.KeyStore, error)
}

// ErrUnplanned: a message names an account its organization run did not
// plan; the worker does not act on it.
var ErrUnplanned = errors.New("account not planned")

// DefaultMaxReceives matches the account queue's maxReceiveCount in
// template.yaml: the third failed delivery of a message is its last.
const DefaultMaxReceives = 3

// Worker sweeps one member account per message.
//
// Failure handling: a failure before the account's run could start
// (assuming the role, reading the organization run or the policy, writing
// the run record) is reported as a batch item failure, so SQS delivers the
// message again after its visibility timeout: the role may only just be
// arriving through a StackSet, DynamoDB may be throttling. On the last
// delivery (MaxReceives) the account is also recorded as failed, in an
// account run record and the organization run's counters, and the message
// goes on to the dead-letter queue, from where an operator can redrive it
// once the cause is fixed; a redriven message that succeeds turns the
// account done. Once the account's run has started, its outcome is final,
// whatever it is: the run is recorded, the account counted, the message
// deleted. A redelivered message finds the run by its event id and acts
// on nothing.
type Worker struct {
	Journal  Journal
	Policies engine.PolicyStore
	PolicyID string
	Accounts Opener
	// MaxReceives is how many deliveries a message gets; the last failure
	// is recorded. 0: DefaultMaxReceives. In-process runs use 1.
	MaxReceives int
	// StaleAfter is how long an account run may stay "running" before a
	// redelivery takes its worker for dead; engine.DefaultSettleAfter when 0.
	StaleAfter time.Duration
	// Delay, when set, makes a message to be retried visible again after
	// RetryDelay instead of the queue's visibility timeout (90 minutes, six
	// times the longest run): a role still arriving through a StackSet is
	// retried within minutes.
	Delay Delayer
	// RetryDelay gives the delay after a failed delivery; DefaultRetryDelay
	// when nil.
	RetryDelay func(receive int) time.Duration
	// Engine, when set, returns the engine for a member account's provider
	// (tests tune clocks and margins); by default a plain Engine.
	Engine func(p engine.KeyStore) *engine.Engine
	// Archive, when set, keeps each member account's run records in
	// write-once storage too.
	Archive engine.Archiver
	Now     func() time.Time
	Logger  *slog.Logger
}

// Swept is what became of one message.
type Swept struct {
	Message Message `json:"message"`
	// Recorded is the account's result as recorded in the organization run;
	// nil when nothing was recorded (the message is to be retried).
	Recorded *domain.AccountResult `json:"recorded,omitempty"`
	// Retry asks for the message to be delivered again.
	Retry bool `json:"retry,omitempty"`
	// Duplicate: the account's run had already started.
	Duplicate bool `json:"duplicate,omitempty"`
	// Summary is the account run's summary when it ran now.
	Summary *engine.Summary `json:"summary,omitempty"`
	Err     error           `json:"-"`
}

func (w *Worker) now() time.Time {
	if w.Now != nil {
		return w.Now().UTC()
	}
	return time.Now().UTC()
}

// Log is the worker's logger.
func (w *Worker) Log() *slog.Logger { return w.log() }

func (w *Worker) log() *slog.Logger {
	if w.Logger != nil {
		return w.Logger
	}
	return slog.Default()
}

// MaxReceivesOrDefault is how many deliveries a message gets.
func (w *Worker) MaxReceivesOrDefault() int {
	if w.MaxReceives > 0 {
		return w.MaxReceives
	}
	return DefaultMaxReceives
}

// DefaultRetryDelay waits 1, 4, then 15 minutes (at most) after failed
// deliveries; after the last one the message goes on to the dead-letter
// queue at once.
func DefaultRetryDelay(receive int) time.Duration {
	d := time.Minute
	for i := 1; i < receive && d < 15*time.Minute; i++ {
		d *= 4
	}
	return min(d, 15*time.Minute)
}

// RetryDelayFor is how long a message delivered receive times waits
// before its next delivery; 0 after the last one (it goes on to the
// dead-letter queue at once).
func (w *Worker) RetryDelayFor(receive int) time.Duration {
	if receive >= w.MaxReceivesOrDefault() {
		return 0
	}
	if w.RetryDelay != nil {
		return w.RetryDelay(receive)
	}
	return DefaultRetryDelay(receive)
}

// RoleSessionName is the session name a worker uses in member accounts; it
// shows in their CloudTrail.
func RoleSessionName(orgRunID string) string {
	name := "keysweep-" + orgRunID
	if len(name) > 64 {
		name = name[:64]
	}
	return name
}

// Sweep handles one message on its delivery number receive (1 for the first).
func (w *Worker) Sweep(ctx context.Context, msg Message, receive int) Swept {
	log := w.log().With("orgRun", msg.OrgRunID, "account", msg.AccountID, "receive", receive)
	out := Swept{Message: msg}
	runID := AccountRunID(msg.OrgRunID, msg.AccountID)

	orgRun, err := w.Journal.GetOrgRun(ctx, msg.OrgRunID)
	if err != nil {
		return w.notStarted(ctx, log, msg, receive, nil, out, fmt.Errorf("organization run %s: %w", msg.OrgRunID, err))
	}
	// Only an account the dispatcher planned is swept: a message that
	// names any other (sent by hand, or left from an older plan) is never
	// acted on, and ends in the dead-letter queue for someone to look at.
	if !orgRun.Planned || !slices.Contains(orgRun.Accounts, msg.AccountID) {
		out.Err, out.Retry = fmt.Errorf("%w: account %s is not planned in organization run %s", ErrUnplanned, msg.AccountID, msg.OrgRunID), true
		log.Error("refused message: the account is not in its organization run's plan", "err", out.Err)
		return out
	}
	p, source, perr := engine.LoadPolicy(ctx, w.Policies, w.PolicyID)
	if perr != nil && !errors.Is(perr, policy.ErrInvalid) {
		return w.notStarted(ctx, log, msg, receive, orgRun, out, fmt.Errorf("read policy: %w", perr))
	}
	// The deny list always wins, also over a plan made before the account
	// was added to it (a message redriven from the dead-letter queue).
	if perr == nil && p.Organization.Excluded(msg.AccountID) {
		cause := fmt.Errorf("account %s is excluded by policy version %s (excludeAccounts) since it was planned: not swept", msg.AccountID, p.Version)
		// Recorded as failed at once (the account was planned and not
		// swept), and not retried: no delivery would sweep it.
		out = w.notStarted(ctx, log, msg, w.MaxReceivesOrDefault(), orgRun, out, cause)
		out.Retry = out.Recorded == nil
		return out
	}
	prov, err := w.Accounts.Open(ctx, msg.AccountID, RoleSessionName(msg.OrgRunID))
	if err != nil {
		return w.notStarted(ctx, log, msg, receive, orgRun, out, err)
	}
	req := engine.Request{
		Trigger:      domain.Trigger{Kind: "org", Source: msg.OrgRunID, EventID: msg.EventID},
		Policy:       p,
		PolicySource: source,
		PolicyErr:    perr,
		// The organization run's mode is the policy's, or audit when the
		// run was started audit-only.
		AuditOnly: orgRun.Mode == policy.ModeAudit,
		RunID:     runID,
		Parent:    msg.OrgRunID,
	}
	if perr != nil {
		req.Policy = nil
	}
	eng := &engine.Engine{Store: prov, Journal: w.Journal, Now: w.Now, Logger: log, Archive: w.Archive}
	if w.Engine != nil {
		eng = w.Engine(prov)
	}
	res, err := eng.Run(ctx, req)
	if res == nil {
		// The run record could not be written: nothing was done.
		return w.notStarted(ctx, log, msg, receive, orgRun, out, err)
	}
	if res.Duplicate {
		return w.duplicate(ctx, log, msg, res.Run.RunID, out)
	}
	out.Summary = engine.Summarize(res)
	return w.record(ctx, log, msg, res.Run, err, out)
}

// notStarted handles a failure before the account's run started: retry
// while deliveries remain; on the last one also record the account as
// failed (the retry then sends the message to the dead-letter queue).
func (w *Worker) notStarted(ctx context.Context, log *slog.Logger, msg Message, receive int, orgRun *domain.OrgRun, out Swept, cause error) Swept {
	out.Err, out.Retry = cause, true
	if receive < w.MaxReceivesOrDefault() {
		log.Warn("account not swept; the message will be delivered again", "err", cause)
		return out
	}
	log.Error("account not swept on the last delivery: recorded as failed", "err", cause)
	now := w.now()
	run := domain.Run{
		RunID:     AccountRunID(msg.OrgRunID, msg.AccountID),
		Account:   msg.AccountID,
		Trigger:   domain.Trigger{Kind: "org", Source: msg.OrgRunID, EventID: msg.EventID},
		StartedAt: now, FinishedAt: &now,
		Counts:  map[string]int{},
		Outcome: domain.RunFailed,
		Errors:  []string{fmt.Sprintf("not swept on delivery %d of %d: %v", receive, w.MaxReceivesOrDefault(), cause)},
		Parent:  msg.OrgRunID,
	}
	if orgRun != nil {
		run.PolicyVersion, run.PolicySource, run.Mode = orgRun.PolicyVersion, orgRun.PolicySource, orgRun.Mode
	}
	// The records are written even when ctx is done. FinishRun writes the
	// run without claiming the event id: a redriven message may still
	// sweep the account.
	wctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
	defer cancel()
	if err := w.Journal.FinishRun(wctx, &run); err != nil {
		out.Err = errors.Join(cause, fmt.Errorf("record failed account run: %w", err))
		return out
	}
	recorded := w.record(wctx, log, msg, run, cause, out)
	recorded.Retry = true
	return recorded
}

// duplicate handles a message whose account run already started: count the
// account from that run's record (counting is idempotent); a run still
// "running" long after any worker could be alive had its worker stopped,
// and is recorded as failed; a younger one belongs to a live worker, so the
// message comes back later.
func (w *Worker) duplicate(ctx context.Context, log *slog.Logger, msg Message, runID string, out Swept) Swept {
	out.Duplicate = true
	run, err := w.Journal.GetRun(ctx, runID)
	if err != nil {
		out.Err, out.Retry = fmt.Errorf("read account run %s: %w", runID, err), true
		return out
	}
	if run.Outcome == domain.RunRunning {
		stale := w.StaleAfter
		if stale <= 0 {
			stale = engine.DefaultSettleAfter
		}
		if w.now().Sub(run.StartedAt) < stale {
			log.Info("account run still in progress elsewhere; the message will be delivered again", "run", runID)
			out.Retry = true
			return out
		}
		end := w.now()
		run.Outcome, run.FinishedAt = domain.RunFailed, &end
		run.DurationMs = end.Sub(run.StartedAt).Milliseconds()
		run.Errors = append(run.Errors, "the run never finished: its worker stopped (timeout or crash); the next organization run sweeps the account again")
		if err := w.Journal.FinishRun(ctx, run); err != nil {
			out.Err, out.Retry = fmt.Errorf("record stopped account run %s: %w", runID, err), true
			return out
		}
	}
	log.Info("duplicate message: the account's run already happened", "run", runID, "outcome", run.Outcome)
	return w.record(ctx, log, msg, *run, nil, out)
}

// record counts the account's run in the organization run. When that
// fails the message is retried: the redelivery finds the run by its event
// id and counts it then.
func (w *Worker) record(ctx context.Context, log *slog.Logger, msg Message, run domain.Run, runErr error, out Swept) Swept {
	res := domain.AccountResult{
		Account: msg.AccountID, RunID: run.RunID, Status: domain.AccountDone,
		Outcome: run.Outcome, Counts: run.Counts, At: w.now(),
	}
	if run.Outcome == domain.RunFailed {
		res.Status = domain.AccountFailed
		res.Error = strings.Join(run.Errors, "; ")
		if res.Error == "" && runErr != nil {
			res.Error = runErr.Error()
		}
	}
	o, err := w.Journal.RecordAccount(ctx, msg.OrgRunID, res)
	if err != nil {
		log.Error("count account in the organization run", "err", err)
		out.Err, out.Retry = errors.Join(runErr, err), true
		return out
	}
	out.Recorded = &res
	if out.Err == nil {
		out.Err = runErr
	}
	log.Info("account swept", "run", run.RunID, "status", res.Status, "outcome", run.Outcome, "counts", run.Counts,
		"orgDone", o.AccountsDone, "orgFailed", o.AccountsFailed, "orgPlanned", o.AccountsPlanned, "orgOutcome", o.Outcome)
	return out
}
