package engine

import (
	"context"
	"fmt"
	"sync"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/keysweep/keysweep/internal/domain"
	"github.com/keysweep/keysweep/policy"
)

// tally counts what a run did; acting owners share it.
type tally struct {
	mu     sync.Mutex
	counts map[string]int
	errors []string
}

func (t *tally) add(name string, n int) {
	t.mu.Lock()
	t.counts[name] += n
	t.mu.Unlock()
}

func (t *tally) fail(msg string) {
	t.mu.Lock()
	t.counts[domain.CountErrors]++
	t.errors = append(t.errors, msg)
	t.mu.Unlock()
}

// actAll acts on the candidates' decisions in enforce mode: owners in
// order, a few at once, so that a sweep is held by the key store's rate
// limit rather than by the latency of each key's lock, re-check, call and
// outcome; each owner's keys one after another. It stops starting owners
// when the work context ends, and returns the last owner handled in full
// (every owner before it too: where the next run resumes) and whether it
// stopped.
func (s *sweepRun) actAll(cands []candidate, planned int) (lastDone string, partial bool) {
	var g errgroup.Group
	g.SetLimit(withDefault(s.e.ActConcurrency, DefaultActConcurrency))
	var mu sync.Mutex
	acted, started := 0, 0
	for ci := range cands {
		c := &cands[ci]
		if stopping(s.work) {
			partial = true
			break
		}
		started++
		g.Go(func() error {
			for di := range c.decisions {
				j := &c.decisions[di]
				if s.actOne(c, j) {
					mu.Lock()
					acted++
					s.e.progress("act", acted, planned)
					mu.Unlock()
				}
			}
			return nil
		})
	}
	_ = g.Wait()
	for _, c := range cands[:started] {
		for _, j := range c.decisions {
			if j.Outcome == domain.KeyLater {
				return lastDone, true
			}
		}
		lastDone = c.owner.Name
	}
	return lastDone, partial
}

// actOne does what one decision asks in an enforce run; it reports whether
// the decision was a planned action.
func (s *sweepRun) actOne(c *candidate, j *judged) bool {
	switch {
	case j.Outcome == domain.KeyGone || j.Outcome == domain.KeyFailed:
		return false
	case j.Verdict == policy.Exempt:
		s.record(&j.KeyDecision, "")
		if j.clearDue {
			s.stage(j, domain.ActionClearDue)
		}
	case j.Verdict.Acts():
		s.act(c, j)
		return true
	case j.markDue:
		s.stage(j, domain.ActionMarkDue)
	case j.clearDue:
		s.stage(j, domain.ActionClearDue)
	}
	return false
}

// stage starts or ends a key's notice period (a store without status):
// keysweep's state only, written ahead like any action.
func (s *sweepRun) stage(j *judged, action domain.Action) {
	a := s.e.apply(s.work, s.book, change{key: j.key, action: action, base: s.base(&j.KeyDecision), factsAt: j.factsAt})
	if n := len(a.records); n > 0 {
		j.lastAt = a.records[n-1].At
	}
	switch {
	case a.later:
	case a.pending:
		s.t.add(domain.CountBusy, 1)
	case a.result == domain.ResultDone && action == domain.ActionMarkDue:
		j.Outcome = domain.KeyMarkedDue
		s.t.add(domain.CountMarkedDue, 1)
	case a.err != nil:
		s.t.fail(fmt.Sprintf("%s %s: %v", action, j.AccessKeyID, a.err))
	}
	if a.outcomeErr != nil {
		s.t.fail(fmt.Sprintf("outcome of %s %s: %v", action, j.AccessKeyID, a.outcomeErr))
	}
}

// act carries out one planned deactivation or deletion. The re-check under
// the lock may keep the key, find it inactive already, or turn a planned
// deletion of a key its owner reactivated into a deactivation.
func (s *sweepRun) act(c *candidate, j *judged) {
	action := string(j.Verdict)
	key := j.key
	var after time.Time
	for range 2 {
		a := s.e.apply(s.work, s.book, change{
			key: key, action: action, base: s.base(&j.KeyDecision), factsAt: j.factsAt, after: after,
			recheck: s.recheck(c, j, action),
		})
		if n := len(a.records); n > 0 {
			after = a.records[n-1].At
			j.lastAt = after
		}
		if a.update != nil {
			j.Decision = *a.update
		}
		if a.outcomeErr != nil {
			s.t.fail(fmt.Sprintf("outcome of %s %s: %v", action, j.AccessKeyID, a.outcomeErr))
		}
		if a.later {
			j.Outcome = domain.KeyLater
			return
		}
		if a.pending {
			j.Outcome = domain.KeyBusy
			s.t.add(domain.CountBusy, 1)
			s.log.Warn("key has an unsettled intent; left alone this run", "key", j.AccessKeyID)
			return
		}
		if a.retryAs != "" {
			// Act again on what the lock's re-check read (its status).
			action, key = a.retryAs, a.live
			continue
		}
		s.settleDecision(j, action, a)
		return
	}
}

// settleDecision puts what became of an action on its decision and the
// run's counters.
func (s *sweepRun) settleDecision(j *judged, action domain.Action, a applied) {
	switch a.result {
	case domain.ResultDone:
		j.Outcome, j.acted = domain.KeyDone, action
		if action == domain.ActionDeactivate {
			s.t.add(domain.CountDeactivated, 1)
		} else {
			s.t.add(domain.CountDeleted, 1)
		}
	case domain.ResultGone:
		j.Outcome = domain.KeyGone
		s.t.add(domain.CountGone, 1)
	case domain.ResultKept:
		j.Outcome = domain.KeyKept
		s.t.add(domain.CountKept, 1)
	case domain.ResultAlreadyInactive:
		j.Outcome = domain.KeyAlreadyInactive
		s.t.add(domain.CountAlreadyInactive, 1)
	default:
		j.Outcome = domain.KeyFailed
		if a.err != nil {
			j.Error = a.err.Error()
		}
		s.t.fail(fmt.Sprintf("%s %s: %s", action, j.AccessKeyID, j.Error))
		s.log.Error("action failed", "action", action, "key", j.AccessKeyID, "err", a.err)
	}
}

// recheck judges the key again under the lock, as a sweep does: with its
// live last use and status and keysweep's state of it.
func (s *sweepRun) recheck(c *candidate, j *judged, action domain.Action) func(domain.Key, *domain.KeyState) verdict {
	return func(live domain.Key, st *domain.KeyState) verdict {
		if live.Owner != "" && live.Owner != j.UserName {
			return verdict{result: domain.ResultFailed, note: fmt.Sprintf("key now belongs to %s, not %s", live.Owner, j.UserName)}
		}
		a := s.e.abilities()
		pk := s.e.policyKey(live, c.owner, c.tags, a)
		if st != nil && st.DeactivatedAt != nil && st.Stage != domain.StageDeleted && (live.Status == domain.StatusInactive || !a.Deactivate) {
			t := *st.DeactivatedAt
			pk.DeactivatedAt = &t
		}
		prev := j.Reason
		nd := s.p.Evaluate(pk, s.e.now())
		switch {
		case string(nd.Verdict) == action:
			return verdict{proceed: true, update: &nd}
		case action == domain.ActionDeactivate && live.Status == domain.StatusInactive:
			return verdict{result: domain.ResultAlreadyInactive, update: &nd, note: "already inactive when keysweep acted (another run or person deactivated it); not called again"}
		case nd.Verdict.Acts():
			return verdict{result: domain.ResultKept, update: &nd, retryAs: string(nd.Verdict),
				note: fmt.Sprintf("live re-check: %s instead of %s", nd.Verdict, action)}
		}
		return verdict{result: domain.ResultKept, update: &nd, note: "live re-check kept the key (planned on: " + prev + ")"}
	}
}

// base is what a decision's records share.
func (s *sweepRun) base(d *domain.KeyDecision) domain.Record {
	rec := domain.Record{
		RunID: s.run.RunID, Account: firstNonEmpty(d.Account, s.run.Account), Provider: s.run.Provider,
		UserName: d.UserName, AccessKeyID: d.AccessKeyID,
		Decision: d.Verdict, Reason: d.Reason, Rule: d.Rule, PolicyVersion: s.p.Version, Mode: s.run.Mode,
		Actor: s.run.Trigger.Actor(),
	}
	if !d.CreatedAt.IsZero() {
		t := d.CreatedAt.UTC()
		rec.KeyCreatedAt = &t
	}
	return rec
}

// record writes a decision record; a failure is counted, not fatal.
func (s *sweepRun) record(d *domain.KeyDecision, note string) {
	rec := s.base(d)
	rec.Kind, rec.Result, rec.Error, rec.At = domain.KindDecision, string(d.Outcome), d.Error, s.e.now()
	if note != "" && note != d.Error {
		rec.Reason = joinReason(rec.Reason, note)
	}
	err := retryJournal(s.book, func(ctx context.Context) error { return s.e.Journal.RecordDecision(ctx, rec) })
	if err != nil {
		s.t.fail(fmt.Sprintf("record %s: %v", d.AccessKeyID, err))
		s.log.Error("record decision", "key", d.AccessKeyID, "err", err)
	}
}

// recordAll writes a decision record for every non-keep decision of a run
// that changes nothing (audit mode, blocked, stopped), outcome on each
// planned action.
func (s *sweepRun) recordAll(ds []domain.KeyDecision, outcome domain.KeyOutcome) {
	for i := range ds {
		d := &ds[i]
		if d.Verdict == policy.Keep || d.AccessKeyID == "" {
			continue
		}
		if d.Verdict.Acts() {
			d.Outcome = outcome
		}
		s.record(d, "")
	}
}

func firstNonEmpty(a, b string) string {
	if a != "" {
		return a
	}
	return b
}

// deadline is when the run's process is dead for sure: its context's
// deadline, or DefaultRunTimeout after start.
func deadline(ctx context.Context, start time.Time) *time.Time {
	dl, ok := ctx.Deadline()
	if !ok {
		dl = start.Add(DefaultRunTimeout)
	}
	dl = dl.UTC()
	return &dl
}
