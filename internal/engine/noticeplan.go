package engine

import (
	"context"
	"time"

	"github.com/keysweep/keysweep/internal/domain"
	"github.com/keysweep/keysweep/policy"
)

// PlannedNotice is one notice a sweep would send: on which channel, to
// whom, and what it says (Notice, or Finding for Security Hub).
type PlannedNotice struct {
	Channel   string    `json:"channel"`
	Recipient string    `json:"recipient,omitempty"`
	Kind      string    `json:"kind"`
	User      string    `json:"userName,omitempty"`
	KeyID     string    `json:"accessKeyId,omitempty"`
	Date      time.Time `json:"date"` // the stale date (warning), the action's, the due date
	// Problem says why it would not reach its recipient (no address, a
	// tag that is not one).
	Problem string   `json:"problem,omitempty"`
	Notice  Notice   `json:"-"`
	Finding *Finding `json:"-"`
}

// NoticePlan is what a sweep at Plan.At would tell whom.
type NoticePlan struct {
	*Plan
	Channels Channels        `json:"channels"`
	Notices  []PlannedNotice `json:"notices"`
}

// PlanNotices judges every key as a sweep at time at would (Plan), and
// lists the notices it would send on the channels ch: warnings due that
// day, the owners' notices of the actions it plans (in enforce mode), the
// team's messages and the findings of stale and soon-stale keys. It reads
// the owners' tags only for owners who would get an e-mail, and writes
// nothing. Whether a notice was sent already (its claim) is not looked at.
func (e *Engine) PlanNotices(ctx context.Context, p *policy.Policy, at time.Time, owners []string, ch Channels) (*NoticePlan, error) {
	inv, pl, err := e.inventoryForPlan(ctx, p, at)
	if err != nil {
		return nil, err
	}
	at = pl.At
	t := newTeller(e, p, ch)
	jd := e.judge(ctx, p, inv, narrow(inv.Owners, owners), "", at, t.horizon(p.Mode))
	pl.Decisions = jd.decisions
	for _, d := range pl.Decisions {
		if d.Verdict.Acts() {
			pl.Actions++
		}
	}
	if over, why := p.CapExceeded(pl.Actions, pl.TotalKeys); over {
		pl.CapExceeded = why
	}
	np := &NoticePlan{Plan: pl, Channels: ch}
	if t == nil {
		return np, nil
	}
	a := e.abilities()
	for ci := range jd.cands {
		c := &jd.cands[ci]
		var to string
		var toErr error
		read := false
		for i := range c.decisions {
			j := &c.decisions[i]
			if j.AccessKeyID == "" {
				continue
			}
			if t.findings && resolution(j, a) == domain.FindingOpen {
				np.Notices = append(np.Notices, e.plannedFinding(p, j, at))
			}
			n, ok := plannedKeyNotice(t, p, c, j, at, a)
			if !ok {
				continue
			}
			if t.tells(n.Kind) {
				if !read {
					to, toErr = t.recipient(ctx, c.owner, c.tags)
					read = true
				}
				pn := PlannedNotice{Channel: domain.ChannelEmail, Recipient: to, Kind: n.Kind, User: n.User, KeyID: n.KeyID, Date: noticeDate(n), Notice: n}
				if toErr != nil {
					pn.Problem = toErr.Error()
				}
				np.Notices = append(np.Notices, pn)
			}
			if t.publishes(n.Kind) {
				np.Notices = append(np.Notices, PlannedNotice{Channel: domain.ChannelTeam, Recipient: ch.Topic, Kind: n.Kind,
					User: n.User, KeyID: n.KeyID, Date: noticeDate(n), Notice: n})
			}
		}
	}
	if t.team {
		run := domain.Run{Account: pl.Account, Provider: pl.Provider, Target: pl.Target, PolicyVersion: p.Version, Mode: p.Mode,
			StartedAt: at, Inventory: pl.Inventory, Outcome: domain.RunCompleted, Counts: map[string]int{}}
		n := Notice{Kind: NoticeRunSummary, Provider: e.Store.Provider(), Account: pl.Account, Target: pl.Target, At: at, Run: &run}
		for _, d := range pl.Decisions {
			run.Counts[domain.CountEvaluated]++
			run.Counts[string(d.Verdict)]++
			if d.Verdict != policy.Keep {
				n.Decisions = append(n.Decisions, d)
			}
		}
		np.Notices = append(np.Notices, PlannedNotice{Channel: domain.ChannelTeam, Recipient: ch.Topic, Kind: NoticeRunSummary, Date: at, Notice: n})
	}
	return np, nil
}

// plannedFinding is the open finding a sweep at at would import for j.
func (e *Engine) plannedFinding(p *policy.Policy, j *judged, at time.Time) PlannedNotice {
	f := Finding{Provider: e.Store.Provider(), Account: j.Account, Target: e.Target, User: j.UserName,
		KeyID: j.AccessKeyID, KeyName: j.KeyName, Status: j.Status, CreatedAt: j.CreatedAt, LastUsedAt: j.LastUsedAt,
		Reason: j.Reason, Rule: j.Rule, StaleAt: j.staleAt, PolicyVersion: p.Version, FirstSeen: at}
	return PlannedNotice{Channel: domain.ChannelFindings, Kind: "finding", User: j.UserName, KeyID: j.AccessKeyID, Date: j.staleAt, Finding: &f}
}

// plannedKeyNotice is the notice a sweep at at would send about j, if
// any: a warning due that day, or (enforce mode) the action it plans.
func plannedKeyNotice(t *teller, p *policy.Policy, c *candidate, j *judged, at time.Time, a abilities) (Notice, bool) {
	pk := j.key
	days := p.DeleteAfterDaysFor(t.e.policyKey(pk, c.owner, c.tags, a))
	n := Notice{Provider: t.e.Store.Provider(), Account: j.Account, Target: t.e.Target, User: j.UserName, KeyID: j.AccessKeyID,
		KeyName: j.KeyName, Status: j.Status, CreatedAt: j.CreatedAt, LastUsedAt: j.LastUsedAt, Reason: j.Reason, Rule: j.Rule,
		StaleAt: j.staleAt, StaleWhy: j.staleWhy, At: at, DeleteAfterDays: days, ExemptionTag: p.Exemptions.Tag, PolicyVersion: p.Version}
	if t.cfg != nil {
		n.Sender = t.cfg.Sender
	}
	enforce := p.Mode == policy.ModeEnforce
	switch {
	case enforce && j.Verdict == policy.Deactivate:
		on := at.Add(time.Duration(days) * 24 * time.Hour)
		n.Kind, n.DeleteOn = NoticeDeactivated, &on
	case enforce && j.Verdict == policy.Delete:
		n.Kind = NoticeDeleted
	case enforce && j.markDue:
		n.Kind, n.DeleteOn = NoticeDue, j.DeleteDue
	case j.soon && t.cfg.WarnsIn(p.Mode):
		if _, ok := t.cfg.WarningDue(j.staleAt, at); !ok {
			return n, false
		}
		n.Kind = NoticeWarning
	default:
		return n, false
	}
	return n, true
}

// noticeDate is the date a notice is about.
func noticeDate(n Notice) time.Time {
	switch {
	case n.Kind == NoticeWarning:
		return n.StaleAt
	case n.DeleteOn != nil:
		return *n.DeleteOn
	}
	return n.At
}
