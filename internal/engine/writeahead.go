package engine

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/keysweep/keysweep/internal/domain"
	"github.com/keysweep/keysweep/policy"
)

// change is one action on one key, carried out between a write-ahead
// intent and an outcome. Sweeps and revocations both go through apply.
type change struct {
	key    domain.Key    // id, owner, account: what is acted on
	action domain.Action // deactivate, delete, mark-due, clear-due
	// base is what the intent and the outcome records share: run id,
	// decision, reason, rule, policy version, mode, actor, exempt.
	base domain.Record
	// factsAt is when the facts behind the decision were read. If
	// keysweep's own state shows a change of the key since then (another
	// run or revocation acted on it), its status is read again under the
	// lock, whatever the action.
	factsAt time.Time
	// after, when set, is a time the intent must come after (the
	// previous outcome of the same run on the key).
	after time.Time
	// recheck decides under the lock, on the key as read live and
	// keysweep's state of it, whether to go ahead. Nil: go ahead.
	recheck func(live domain.Key, st *domain.KeyState) verdict
}

// verdict is a recheck's answer.
type verdict struct {
	proceed bool
	result  domain.Result    // when not proceeding: kept, already-inactive, failed
	note    string           // said on the outcome record
	retryAs domain.Action    // when not proceeding: act again with this action
	update  *policy.Decision // the decision as judged under the lock
}

// applied is what came of a change.
type applied struct {
	// pending: another actor holds the key's lock; nothing was done.
	pending bool
	// later: the run's deadline came first; nothing was done (or what was
	// cut short is recorded as it really is), the next run continues.
	later  bool
	result domain.Result
	// err is the failure behind a failed result (the intent could not be
	// written, the re-check or the key store call failed).
	err error
	// outcomeErr: the outcome record could not be written; the intent
	// stays, and the next run settles it against the key store.
	outcomeErr error
	records    []domain.Record
	retryAs    domain.Action
	live       domain.Key // the key as read under the lock
	update     *policy.Decision
	note       string
}

// statusNeeded reports whether a change must read the key's status under
// the lock: a deletion always (it cannot be undone), any action when
// keysweep's state shows the key changed since the decision's facts.
func statusNeeded(c change, st *domain.KeyState) bool {
	if c.action == domain.ActionDelete {
		return true
	}
	if st == nil {
		return false
	}
	after := func(t *time.Time) bool { return t != nil && !t.Before(c.factsAt) }
	return after(st.DeactivatedAt) || after(st.DeletedAt)
}

// apply carries out c: the intent is written first (the key's lock), then,
// under the lock, keysweep's state and the live key are read and the
// recheck decides; only then is the key store called, and the outcome
// written after it. Work (the lock, the reads, the call) uses work; the
// outcome uses book, which outlives work so that a call that was made is
// always written down.
func (e *Engine) apply(work, book context.Context, c change) applied {
	intent := c.base
	intent.Kind, intent.Action = domain.KindIntent, c.action
	intent.At = e.now()
	if !c.after.IsZero() && !intent.At.After(c.after) {
		intent.At = c.after.Add(time.Microsecond)
	}
	if stopping(work) {
		return applied{later: true}
	}
	// The intent is bookkeeping: written on book, so that a deadline
	// cannot cut the write short after DynamoDB took it, leaving a lock
	// no outcome releases.
	if err := e.Journal.WriteIntent(book, intent); err != nil {
		if errors.Is(err, domain.ErrIntentPending) {
			return applied{pending: true}
		}
		return applied{result: domain.ResultFailed, err: journalError(fmt.Sprintf("write the intent for %s (%s not called)", c.key.ID, e.ServiceName()), err)}
	}
	out := applied{records: []domain.Record{intent}}
	out.result, out.err = e.underLock(work, book, c, &out)
	rec := intent
	rec.Kind, rec.Result = domain.KindOutcome, out.result
	if out.update != nil {
		rec.Decision, rec.Reason, rec.Rule = out.update.Verdict, out.update.Reason, out.update.Rule
	}
	if out.note != "" {
		rec.Reason = joinReason(rec.Reason, out.note)
	}
	if out.err != nil {
		rec.Error = out.err.Error()
	}
	rec.At = e.now()
	if !rec.At.After(intent.At) {
		rec.At = intent.At.Add(time.Microsecond) // the outcome sorts after its intent
	}
	if err := e.writeOutcome(book, rec); err != nil {
		out.outcomeErr = err
		e.log().Error("write outcome; the next run settles the intent", "key", c.key.ID, "action", c.action, "err", err)
		return out
	}
	out.records = append(out.records, rec)
	return out
}

// underLock reads, decides and calls while c's intent holds the key.
func (e *Engine) underLock(work, book context.Context, c change, out *applied) (domain.Result, error) {
	if c.action == domain.ActionMarkDue || c.action == domain.ActionClearDue {
		return domain.ResultDone, nil // keysweep's state only: no store call
	}
	st, err := e.Journal.KeyState(work, c.key.ID)
	if err != nil && stopping(work) {
		out.later, out.note = true, "the run's deadline came before the call; the next run continues"
		return domain.ResultNotApplied, nil
	}
	if err != nil {
		return domain.ResultFailed, journalError("read keysweep's state of "+c.key.ID, err)
	}
	live, err := e.Store.Recheck(work, c.key, statusNeeded(c, st))
	switch {
	case errors.Is(err, domain.ErrKeyNotFound):
		out.note = "key already gone before keysweep acted"
		return domain.ResultGone, nil
	case err != nil && stopping(work):
		out.later, out.note = true, "the run's deadline came before the call; the next run continues"
		return domain.ResultNotApplied, nil
	case err != nil:
		return domain.ResultFailed, e.storeError("live re-check of "+c.key.ID, err)
	}
	out.live = live
	if c.recheck != nil {
		v := c.recheck(live, st)
		out.update, out.note = v.update, v.note
		if !v.proceed {
			out.retryAs = v.retryAs
			return v.result, nil
		}
	}
	switch c.action {
	case domain.ActionDeactivate:
		err = e.Store.Deactivate(work, c.key)
	case domain.ActionDelete:
		err = e.Store.Delete(work, c.key)
	default:
		return domain.ResultFailed, fmt.Errorf("unknown action %q", c.action)
	}
	switch {
	case errors.Is(err, domain.ErrKeyNotFound):
		out.note = "key already gone when keysweep acted"
		return domain.ResultGone, nil
	case err != nil && stopping(work):
		return e.cutShort(book, c, out), nil
	case err != nil:
		return domain.ResultFailed, e.storeError(c.action+" "+c.key.ID, err)
	}
	return domain.ResultDone, nil
}

// cutShort records a call the run's deadline cut short as what really
// happened: the key is read again (on the time kept for bookkeeping) and
// the change is done if it is there, not applied if it is not.
func (e *Engine) cutShort(book context.Context, c change, out *applied) domain.Result {
	out.later = true
	// Half the time left, at most: the outcome must still be written.
	limit := 5 * time.Second
	if dl, ok := book.Deadline(); ok {
		limit = min(limit, time.Until(dl)/2)
	}
	ctx, cancel := context.WithTimeout(book, limit)
	defer cancel()
	live, err := e.Store.Recheck(ctx, c.key, true)
	switch {
	case errors.Is(err, domain.ErrKeyNotFound):
		out.later = false
		return map[bool]domain.Result{true: domain.ResultDone, false: domain.ResultGone}[c.action == domain.ActionDelete]
	case err == nil && c.action == domain.ActionDeactivate && live.Status == domain.StatusInactive:
		out.later = false
		return domain.ResultDone
	}
	out.note = "the run's deadline cut the call short and the key is unchanged; the next run continues"
	return domain.ResultNotApplied
}

// writeOutcome writes an outcome record, retrying a failed write with
// backoff until ctx ends: a slow or throttled journal slows the run, it
// does not lose what was done.
func (e *Engine) writeOutcome(ctx context.Context, rec domain.Record) error {
	return retryJournal(ctx, func(ctx context.Context) error { return e.Journal.WriteOutcome(ctx, rec) })
}

// retryJournal runs write until it succeeds, fails for good (a refused
// condition, an invalid record), or ctx ends, backing off between tries.
func retryJournal(ctx context.Context, write func(context.Context) error) error {
	var err error
	for attempt := 0; ; attempt++ {
		if err = write(ctx); err == nil || final(err) {
			return err
		}
		wait := min(100*time.Millisecond<<min(attempt, 6), 5*time.Second)
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return fmt.Errorf("%w (gave up: %v)", err, ctx.Err())
		case <-t.C:
		}
	}
}

// final reports a journal error no retry can help.
func final(err error) bool {
	var dup *domain.DuplicateEventError
	return errors.Is(err, domain.ErrIntentPending) || errors.Is(err, domain.ErrNoIntent) ||
		errors.Is(err, domain.ErrInvalidRecord) || errors.Is(err, domain.ErrRunExists) ||
		errors.Is(err, domain.ErrNotFound) || errors.As(err, &dup) ||
		errors.Is(err, domain.ErrNoticeClaimed) || errors.Is(err, domain.ErrNoticeSettled) ||
		errors.Is(err, context.Canceled)
}

// bookkeeping gives a context for writing down what was done: it outlives
// the caller's cancellation, and ends at the caller's deadline, or after
// limit when it has none.
func bookkeeping(ctx context.Context, limit time.Duration) (context.Context, context.CancelFunc) {
	base := context.WithoutCancel(ctx)
	if dl, ok := ctx.Deadline(); ok && time.Until(dl) > time.Second {
		return context.WithDeadline(base, dl)
	}
	return context.WithTimeout(base, limit)
}

func joinReason(reason, note string) string {
	if reason == "" {
		return note
	}
	return reason + " — " + note
}
