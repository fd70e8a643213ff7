package engine

import (
	"context"
	"fmt"
	"time"

	"github.com/keysweep/keysweep/internal/domain"
	"github.com/keysweep/keysweep/policy"
)

// Announce publishes a finished run's summary to the team topic, when the
// policy and the deployment have one: the run's outcome, counts and
// decisions other than keep, and report (a URL or an s3:// URI of the
// run's report; "" when it has none). The entry point calls it once the
// run's report is written. A summary that does not get through is counted
// on the run record (noticesFailed), which is written again for it;
// nothing else changes. A duplicate run announces nothing.
func (e *Engine) Announce(ctx context.Context, res *Result, p *policy.Policy, report, object string) error {
	if res == nil || res.Duplicate || !res.Run.Outcome.Finished() {
		return nil
	}
	t, _ := e.tellerFor(p)
	if t == nil || !t.team {
		return nil
	}
	run := res.Run
	n := Notice{Kind: NoticeRunSummary, Provider: e.Store.Provider(), Account: run.Account, Target: run.Target,
		RunID: run.RunID, PolicyVersion: run.PolicyVersion, At: e.now(), Run: &run, Report: report, ReportObject: object}
	for _, d := range res.Decisions {
		if d.Verdict != policy.Keep || d.Outcome == domain.KeyFailed || d.Outcome == domain.KeyMarkedDue {
			n.Decisions = append(n.Decisions, d)
		}
	}
	if _, err := e.Notifier.Team(ctx, n); err != nil {
		e.log().Warn("run summary not published", "run", run.RunID, "err", err)
		if res.Run.Counts == nil {
			res.Run.Counts = map[string]int{}
		}
		res.Run.Counts[domain.CountNoticesFailed]++
		res.Run.Notes = append(res.Run.Notes, "the run summary was not published to the team topic: "+err.Error())
		book, cancel := bookkeeping(ctx, 10*time.Second)
		defer cancel()
		if ferr := retryJournal(book, func(c context.Context) error { return e.Journal.FinishRun(c, &res.Run) }); ferr != nil {
			return fmt.Errorf("record the unpublished run summary: %w", ferr)
		}
	}
	return nil
}

// tellRevoked tells the owner (and the team) of a key revoked through the
// API or the CLI: once, claimed under the revocation's id.
func (e *Engine) tellRevoked(ctx context.Context, req RevokeRequest, rev *Revocation, k domain.Key, written []domain.Record) {
	t, _ := e.tellerFor(req.Policy)
	if t == nil || !(t.tells(NoticeRevoked) || t.publishes(NoticeRevoked)) || len(written) == 0 {
		return
	}
	book, cancel := bookkeeping(ctx, 30*time.Second)
	defer cancel()
	last := written[len(written)-1]
	n := Notice{Kind: NoticeRevoked, Provider: e.Store.Provider(), Account: k.Account, Target: e.Target,
		User: k.Owner, KeyID: k.ID, KeyName: k.Name, Status: k.Status, CreatedAt: k.CreatedAt, LastUsedAt: k.LastUsedAt,
		At: last.At, RunID: rev.RevocationID, PolicyVersion: req.Policy.Version, ExemptionTag: req.Policy.Exemptions.Tag,
		RequestedBy: req.Actor, RequestReason: req.Reason, Action: rev.Action, Sender: t.cfg.Sender}
	if rev.Policy != nil {
		n.Reason, n.Rule = rev.Policy.Reason, rev.Policy.Rule
	}
	to := &address{read: func() (string, error) { return t.recipient(book, domain.Owner{Name: k.Owner}, nil) }}
	base := last
	base.Result, base.Error = "", ""
	at := last.At
	claim := func(channel string) string { return claimOf(NoticeRevoked, channel, time.Time{}, rev.RevocationID) }
	for _, d := range t.tellKey(book, book, base, n, &at, claim, to) {
		if d.claimed {
			continue
		}
		rev.Notices = append(rev.Notices, d.notice)
		if d.failed() || d.notice.Status == domain.NoticeUnknown {
			rev.Notes = append(rev.Notes, fmt.Sprintf("the %s notice to %s was not delivered: %s", d.notice.Channel, orUnknown(d.notice.Recipient), d.notice.Error))
		}
	}
}
