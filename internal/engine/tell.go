package engine

import (
	"context"
	"errors"
	"fmt"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/keysweep/keysweep/internal/domain"
)

// noticeReserve is the time a run keeps after its notices for its own
// record: no notice is started closer to the deadline.
const noticeReserve = 10 * time.Second

// job is one notice about one key of a run.
type job struct {
	kind     string
	j        *judged
	warnDay  int        // a warning's day
	at       time.Time  // when it happened: the action, or the run (a warning)
	deleteOn *time.Time // when the key is deleted (deactivated, due)
}

// tell sends the run's notices and brings its findings up to date, once
// the run has judged and (in enforce mode) acted: a notice never comes
// before, or stands in the way of, what is done to a key. complete says
// the run judged every owner (not narrowed, not cut short): only then are
// findings of keys it did not look at closely resolved.
func (s *sweepRun) tell(cands []candidate, inv *domain.Inventory, complete bool) {
	if s.tl == nil {
		return
	}
	s.notices(cands)
	s.keepFindings(cands, inv, complete)
}

// notices tells each owner (and the team) of what the run did to the
// owner's keys and of the warnings due, a few owners at once.
func (s *sweepRun) notices(cands []candidate) {
	var g errgroup.Group
	g.SetLimit(withDefault(s.e.ActConcurrency, DefaultActConcurrency))
	for ci := range cands {
		c := &cands[ci]
		jobs := s.jobsOf(c)
		if len(jobs) == 0 {
			continue
		}
		g.Go(func() error {
			s.tellOwner(c, jobs)
			return nil
		})
	}
	_ = g.Wait()
}

// jobsOf lists the notices due for an owner's keys.
func (s *sweepRun) jobsOf(c *candidate) []job {
	t := s.tl
	var out []job
	for i := range c.decisions {
		j := &c.decisions[i]
		if j.AccessKeyID == "" {
			continue
		}
		var jb job
		switch {
		case j.Outcome == domain.KeyDone && j.acted == domain.ActionDeactivate:
			days := s.p.DeleteAfterDaysFor(s.e.policyKey(j.key, c.owner, c.tags, s.e.abilities()))
			on := j.lastAt.Add(time.Duration(days) * 24 * time.Hour)
			jb = job{kind: NoticeDeactivated, at: j.lastAt, deleteOn: &on}
		case j.Outcome == domain.KeyDone && j.acted == domain.ActionDelete:
			jb = job{kind: NoticeDeleted, at: j.lastAt}
		case j.Outcome == domain.KeyMarkedDue:
			jb = job{kind: NoticeDue, at: j.lastAt, deleteOn: j.DeleteDue}
		case j.soon && t.cfg.WarnsIn(s.run.Mode):
			d, ok := t.cfg.WarningDue(j.staleAt, s.start)
			if !ok {
				continue
			}
			jb = job{kind: NoticeWarning, at: s.start, warnDay: d}
		default:
			continue
		}
		if t.tells(jb.kind) || t.publishes(jb.kind) {
			jb.j = j
			out = append(out, jb)
		}
	}
	return out
}

// tellOwner sends one owner's notices, reading the owner's address at
// most once, and only when an e-mail is due.
func (s *sweepRun) tellOwner(c *candidate, jobs []job) {
	t := s.tl
	to := &address{read: func() (string, error) { return t.recipient(s.book, c.owner, c.tags) }}
	for _, jb := range jobs {
		if dl, ok := s.book.Deadline(); ok && time.Until(dl) < noticeReserve {
			s.t.add(domain.CountNoticesFailed, 1)
			s.log.Error("notice not sent: the run's deadline came first", "key", jb.j.AccessKeyID, "kind", jb.kind)
			continue
		}
		j := jb.j
		base := s.base(&j.KeyDecision)
		base.At = j.lastAt
		var date time.Time // an action: claimed by its run alone
		disc, due := s.run.RunID, jb.deleteOn
		switch jb.kind {
		case NoticeWarning:
			date, disc, due = j.staleAt, fmt.Sprintf("%dd", jb.warnDay), &j.staleAt
		case NoticeDeleted:
			due = &jb.at
		}
		claim := func(channel string) string { return claimOf(jb.kind, channel, date, disc) }
		for _, d := range t.tellKey(s.book, s.book, base, s.noticeOf(c, jb), due, claim, to) {
			count(s.t, d)
		}
	}
}

// noticeOf is what a job's notice says.
func (s *sweepRun) noticeOf(c *candidate, jb job) Notice {
	j := jb.j
	pk := s.e.policyKey(j.key, c.owner, c.tags, s.e.abilities())
	n := Notice{
		Kind: jb.kind, Provider: s.e.Store.Provider(), Account: firstNonEmpty(j.Account, s.run.Account), Target: s.e.Target,
		User: j.UserName, KeyID: j.AccessKeyID, KeyName: j.KeyName, Status: j.Status,
		CreatedAt: j.CreatedAt, LastUsedAt: j.LastUsedAt, Reason: j.Reason, Rule: j.Rule,
		StaleAt: j.staleAt, StaleWhy: j.staleWhy, At: jb.at, DeleteOn: jb.deleteOn,
		DeleteAfterDays: s.p.DeleteAfterDaysFor(pk), ExemptionTag: s.p.Exemptions.Tag,
		RunID: s.run.RunID, PolicyVersion: s.p.Version,
	}
	if s.tl.cfg != nil {
		n.Sender = s.tl.cfg.Sender
	}
	return n
}

// settleNotices settles the notices that a run claimed and never settled
// (it crashed, or its settlement could not be written): as "unknown",
// since the notice may or may not have gone out. They are never sent
// again: a second copy is worse than a missing one, and the alarm on
// NoticesFailed tells someone to look.
func (s *sweepRun) settleNotices() {
	j, ok := s.e.Journal.(NoticeJournal)
	if !ok {
		return
	}
	pending, err := j.PendingNotices(s.work, s.run.Scope())
	if err != nil {
		s.log.Warn("unsettled notices", "err", err)
		return
	}
	after := s.e.SettleAfter
	if after == 0 {
		after = DefaultSettleAfter
	}
	stamp := (&teller{e: s.e, last: map[string]time.Time{}}).stamp
	if s.tl != nil {
		stamp = s.tl.stamp // later notices of the run sort after these
	}
	for _, rec := range pending {
		if rec.Notice == nil || rec.RunID == s.run.RunID || s.e.now().Sub(rec.At) < after {
			continue // possibly a run still sending it
		}
		out := rec
		n := *rec.Notice
		n.Status = domain.NoticeUnknown
		n.Error = fmt.Sprintf("run %s claimed this notice and ended before it recorded whether it was sent; it may have gone out, and is not sent again", rec.RunID)
		out.Notice, out.RunID, out.At = &n, s.run.RunID, stamp(rec.AccessKeyID, rec.At)
		out.Actor = s.run.Trigger.Actor()
		err := retryJournal(s.book, func(ctx context.Context) error { return j.SettleNotice(ctx, out) })
		switch {
		case errors.Is(err, domain.ErrNoticeSettled):
			continue
		case err != nil:
			s.log.Warn("settle notice", "key", rec.AccessKeyID, "claim", n.Claim, "err", err)
			continue
		}
		s.t.add(domain.CountNoticesUnknown, 1)
		s.log.Warn("settled a notice a crashed run left unsettled: unknown, not sent again", "key", rec.AccessKeyID, "claim", n.Claim, "run", rec.RunID)
	}
}

// tellSettled tells the owner (and the team) of the actions a crashed run
// carried out and a later run found done: under the crashed run's id, so
// that a notice the crashed run did send is not sent again.
func (s *sweepRun) tellSettled(outcomes []domain.Record) {
	if s.tl == nil {
		return
	}
	for _, out := range outcomes {
		kind := ""
		switch {
		case out.Result == domain.ResultSettled && out.Action == domain.ActionDeactivate:
			kind = NoticeDeactivated
		case out.Result == domain.ResultSettled && out.Action == domain.ActionDelete:
			kind = NoticeDeleted
		}
		if kind == "" || !(s.tl.tells(kind) || s.tl.publishes(kind)) {
			continue
		}
		n := Notice{Kind: kind, Provider: s.e.Store.Provider(), Account: out.Account, Target: s.e.Target, User: out.UserName,
			KeyID: out.AccessKeyID, Reason: out.Reason, Rule: out.Rule, At: out.At, RunID: out.RunID,
			PolicyVersion: out.PolicyVersion, ExemptionTag: s.p.Exemptions.Tag}
		if out.KeyCreatedAt != nil {
			n.CreatedAt = *out.KeyCreatedAt
		}
		if s.tl.cfg != nil {
			n.Sender = s.tl.cfg.Sender
		}
		base := out
		base.Result, base.Error, base.RunID = "", "", s.run.RunID
		at, crashed := out.At, out.RunID
		claim := func(channel string) string { return claimOf(kind, channel, time.Time{}, crashed) }
		to := &address{read: func() (string, error) { return s.tl.recipient(s.book, domain.Owner{Name: out.UserName}, nil) }}
		var due *time.Time
		if kind == NoticeDeleted {
			due = &at
		}
		for _, d := range s.tl.tellKey(s.book, s.book, base, n, due, claim, to) {
			count(s.t, d)
		}
	}
}
