package engine

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/keysweep/keysweep/internal/domain"
	"github.com/keysweep/keysweep/policy"
)

// Revoke deactivates or deletes one key now. The owner is found from the
// key id alone. Exemptions do not block it, but the answer and the records
// say the key was exempt. It goes through the same write-ahead lock as a
// sweep: a key another run or request is acting on is ErrConflict, and
// nothing changes; a deactivation that finds the key inactive under the
// lock (another actor got there first) records already-inactive.
//
// A key that is already gone is not an error when keysweep has records of
// it: the answer says so, with those records, and the store is not called
// again. Without records it is ErrNotFound. Deactivating an inactive key
// makes no call. Store and journal failures are *domain.ServiceError.
func (e *Engine) Revoke(ctx context.Context, req RevokeRequest) (*Revocation, error) {
	if req.Action != policy.Deactivate && req.Action != policy.Delete {
		return nil, fmt.Errorf("%w: action must be %q or %q, got %q", ErrBadRequest, policy.Deactivate, policy.Delete, req.Action)
	}
	id := req.AccessKeyID
	now := e.now()
	rev := &Revocation{AccessKeyID: id, Action: string(req.Action), Actor: req.Actor, Reason: req.Reason, Target: e.Target}
	if p := e.Store.Provider(); p != domain.ProviderAWS {
		rev.Provider = p
	}
	log := e.log().With("key", id, "action", req.Action, "actor", req.Actor)

	k, err := e.lookup(ctx, id)
	if errors.Is(err, errGone) {
		return e.gone(ctx, rev)
	}
	if err != nil {
		return nil, err
	}
	st, err := e.state(ctx, id)
	if err != nil {
		return nil, err
	}
	if err := e.judgeRevocation(ctx, req, rev, k, st); errors.Is(err, errGone) {
		return e.gone(ctx, rev)
	} else if err != nil {
		return nil, err
	}
	rev.Account, rev.UserName, rev.StatusBefore = k.Account, k.Owner, k.Status
	rec := domain.Record{
		RunID: NewRevocationID(now), Account: k.Account, Provider: rev.Provider, UserName: k.Owner, AccessKeyID: id,
		Reason: recordReason(req, rev),
		// The request changes the key whatever mode the policy is in.
		Mode: policy.ModeEnforce, At: now, Action: string(req.Action), Actor: req.Actor, Exempt: rev.Exempt,
	}
	if !k.CreatedAt.IsZero() {
		t := k.CreatedAt.UTC()
		rec.KeyCreatedAt = &t
	}
	if rev.Policy != nil {
		rec.Decision, rec.Rule, rec.PolicyVersion = rev.Policy.Verdict, rev.Policy.Rule, rev.Policy.PolicyVersion
	}
	if req.Action == policy.Deactivate && k.Status == domain.StatusInactive {
		return e.alreadyInactive(ctx, rev, rec, k)
	}
	out, err := e.revokeUnderLock(ctx, rev, rec, k, log)
	if err == nil && out.Outcome == domain.ResultDone {
		e.tellRevoked(ctx, req, out, k, out.Records)
	}
	return out, err
}

// judgeRevocation puts the policy's view of the key on the revocation.
func (e *Engine) judgeRevocation(ctx context.Context, req RevokeRequest, rev *Revocation, k domain.Key, st *domain.KeyState) error {
	if req.Policy == nil {
		why := "no policy"
		if req.PolicyErr != nil {
			why = req.PolicyErr.Error()
		}
		rev.Notes = append(rev.Notes, "the key was not judged against the policy ("+why+"); the revocation went ahead")
		return nil
	}
	j, _, notes, err := e.judgeNow(ctx, k, req.Policy, req.PolicySource, st, e.now())
	if err != nil {
		return err
	}
	rev.Policy, rev.Exempt = j, j.Verdict == policy.Exempt
	rev.Notes = append(rev.Notes, notes...)
	if rev.Exempt {
		rev.Notes = append(rev.Notes, "the policy exempts this key ("+j.Reason+"); an explicit revocation is not blocked by exemptions, and the records say it was exempt")
	}
	return nil
}

// alreadyInactive answers a deactivation of a key found inactive: a
// decision record, no call.
func (e *Engine) alreadyInactive(ctx context.Context, rev *Revocation, rec domain.Record, k domain.Key) (*Revocation, error) {
	rec.Kind, rec.Result = domain.KindDecision, domain.ResultAlreadyInactive
	rec.Reason += "; already inactive, " + e.ServiceName() + " not called"
	if err := e.Journal.RecordDecision(ctx, rec); err != nil {
		return nil, journalError("record the request for "+k.ID, err)
	}
	rev.RevocationID, rev.Outcome = rec.RunID, domain.ResultAlreadyInactive
	rev.Message = fmt.Sprintf("access key %s of %s is already inactive; %s was not called", k.ID, k.Owner, e.ServiceName())
	rev.Records = e.storedRecords(ctx, k.ID, rec.RunID, []domain.Record{rec})
	e.archiveRevocation(context.WithoutCancel(ctx), rev)
	e.log().Info("revoke: already inactive", "key", k.ID)
	return rev, nil
}

// revokeUnderLock carries the revocation out through the write-ahead lock.
func (e *Engine) revokeUnderLock(ctx context.Context, rev *Revocation, rec domain.Record, k domain.Key, log *slog.Logger) (*Revocation, error) {
	// The outcome is written even when the caller has gone away: the
	// call was made (or failed) either way.
	book, cancel := bookkeeping(ctx, 10*time.Second)
	defer cancel()
	action := rec.Action
	a := e.apply(ctx, book, change{key: k, action: action, base: rec, factsAt: rec.At,
		recheck: func(live domain.Key, _ *domain.KeyState) verdict {
			if action == domain.ActionDeactivate && live.Status == domain.StatusInactive {
				return verdict{result: domain.ResultAlreadyInactive, note: "already inactive under the lock (another actor deactivated it first); not called again"}
			}
			return verdict{proceed: true}
		}})
	if a.pending {
		return nil, e.conflict(ctx, k.ID)
	}
	if len(a.records) > 0 {
		rev.RevocationID = a.records[0].RunID
	}
	rev.Records = e.storedRecords(ctx, k.ID, rev.RevocationID, a.records)
	e.archiveRevocation(book, rev)
	if a.outcomeErr != nil {
		rev.Notes = append(rev.Notes, "the outcome record could not be written ("+a.outcomeErr.Error()+"); the next sweep settles the intent against the key store")
	}
	switch a.result {
	case domain.ResultGone:
		rev.Outcome = domain.ResultGone
		rev.Message = fmt.Sprintf("access key %s of %s was already gone when keysweep acted", k.ID, k.Owner)
	case domain.ResultAlreadyInactive:
		rev.Outcome = domain.ResultAlreadyInactive
		rev.Message = fmt.Sprintf("access key %s of %s was already inactive; %s was not called", k.ID, k.Owner, e.ServiceName())
	case domain.ResultDone:
		rev.Outcome = domain.ResultDone
		verb := "deleted"
		if action == domain.ActionDeactivate {
			verb = "deactivated"
		}
		rev.Message = fmt.Sprintf("%s access key %s of %s", verb, k.ID, k.Owner)
	default:
		log.Error("revoke failed", "err", a.err)
		if a.err == nil {
			a.err = fmt.Errorf("%s %s: failed", action, k.ID)
		}
		return nil, a.err
	}
	log.Info("revoke", "outcome", rev.Outcome, "user", k.Owner, "exempt", rev.Exempt)
	return rev, nil
}

// storedRecords reads back the records a revocation wrote, as the journal
// keeps them (with their place in the key's hash chain); the records as
// written when they cannot be read.
func (e *Engine) storedRecords(ctx context.Context, id, revocationID string, written []domain.Record) []domain.Record {
	recs, err := e.Journal.ByKey(context.WithoutCancel(ctx), id)
	if err != nil {
		return written
	}
	var out []domain.Record
	for _, r := range recs {
		if r.RunID == revocationID {
			out = append(out, r)
		}
	}
	if len(out) < len(written) {
		return written
	}
	return out
}

// gone answers for a key the store no longer has: its earlier records, or
// ErrNotFound without any.
func (e *Engine) gone(ctx context.Context, rev *Revocation) (*Revocation, error) {
	recs, err := e.history(ctx, rev.AccessKeyID)
	if err != nil {
		return nil, err
	}
	last := recs[len(recs)-1]
	rev.Account, rev.UserName = last.Account, last.UserName
	rev.Outcome = domain.ResultGone
	rev.Message = fmt.Sprintf("access key %s no longer exists in %s; nothing was changed; its earlier records follow", rev.AccessKeyID, e.ServiceName())
	rev.Records = recs
	rev.Reason = ""
	return rev, nil
}

// archiveRevocation keeps a revocation's records in write-once storage,
// when the engine has one; a failure is a note on the answer.
func (e *Engine) archiveRevocation(ctx context.Context, rev *Revocation) {
	if e.Archive == nil || len(rev.Records) == 0 {
		return
	}
	first := rev.Records[0]
	run := domain.Run{
		RunID: rev.RevocationID, Account: rev.Account, Provider: rev.Provider, Target: rev.Target,
		Trigger: domain.Trigger{Kind: domain.TriggerAPI, Source: rev.Actor}, StartedAt: first.At,
		Outcome: domain.RunCompleted, PolicyVersion: first.PolicyVersion, Mode: first.Mode,
	}
	uri, err := e.Archive.Export(ctx, run, rev.Records)
	if err != nil {
		rev.Notes = append(rev.Notes, "the records could not be archived: "+err.Error())
		e.log().Error("archive revocation", "revocation", rev.RevocationID, "err", err)
		return
	}
	rev.Notes = append(rev.Notes, "records archived to "+uri)
}
