package engine

import (
	"context"
	"errors"
	"fmt"

	"github.com/keysweep/keysweep/internal/domain"
)

// settle resolves intents left without an outcome by a run that crashed:
// each is checked against the live key store and closed with what really
// happened, under the crashed intent's run id and action. An intent
// another run settled first is not an error: it is said so. It returns
// the outcomes it wrote.
func (e *Engine) settle(work, book context.Context, run *domain.Run) ([]domain.Record, error) {
	pending, err := e.Journal.PendingIntents(work, run.Scope())
	if err != nil {
		return nil, fmt.Errorf("pending intents: %w", err)
	}
	var settled []domain.Record
	after := e.SettleAfter
	if after == 0 {
		after = DefaultSettleAfter
	}
	var errs []error
	for _, in := range pending {
		if in.RunID == run.RunID || e.now().Sub(in.At) < after {
			// Possibly a run still in flight: its key stays locked by
			// the intent, and a later run settles it if it crashed.
			continue
		}
		result, err := e.findApplied(work, in)
		if err != nil {
			errs = append(errs, fmt.Errorf("settle %s: %w", in.AccessKeyID, err))
			continue
		}
		out := in
		out.Kind, out.Result, out.At, out.Error = domain.KindOutcome, result, e.now(), ""
		out.Reason = fmt.Sprintf("settled by run %s: intent of run %s found %s in the key store", run.RunID, in.RunID, result)
		err = retryJournal(book, func(ctx context.Context) error { return e.Journal.WriteOutcome(ctx, out) })
		switch {
		case errors.Is(err, domain.ErrNoIntent):
			run.Notes = append(run.Notes, fmt.Sprintf("intent of run %s on %s was settled by another run meanwhile", in.RunID, in.AccessKeyID))
			run.Counts[domain.CountSettledByOther]++
			continue
		case err != nil:
			errs = append(errs, fmt.Errorf("settle %s: %w", in.AccessKeyID, err))
			continue
		}
		run.Counts[domain.CountSettled]++
		settled = append(settled, out)
		e.log().Info("settled crashed intent", "key", in.AccessKeyID, "action", in.Action, "result", result, "intentRun", in.RunID)
	}
	return settled, errors.Join(errs...)
}

// findApplied looks in the key store for whether a crashed intent's change
// is there.
func (e *Engine) findApplied(work context.Context, in domain.Record) (domain.Result, error) {
	switch in.Action {
	case domain.ActionMarkDue, domain.ActionClearDue:
		return domain.ResultSettled, nil // keysweep's state only: applied by writing the outcome
	}
	live, err := e.Store.OwnerKeys(work, domain.Owner{Name: in.UserName})
	if err != nil && !errors.Is(err, domain.ErrKeyNotFound) {
		return "", err
	}
	var found *domain.Key
	for i := range live {
		if live[i].ID == in.AccessKeyID {
			found = &live[i]
		}
	}
	switch {
	case in.Action == domain.ActionDeactivate && found == nil:
		return domain.ResultGone, nil
	case in.Action == domain.ActionDeactivate && found.Status == domain.StatusInactive:
		return domain.ResultSettled, nil
	case in.Action == domain.ActionDelete && found == nil:
		return domain.ResultSettled, nil
	}
	return domain.ResultNotApplied, nil
}
