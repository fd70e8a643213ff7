package engine

import (
	"fmt"
	"time"

	"github.com/keysweep/keysweep/internal/domain"
	"github.com/keysweep/keysweep/policy"
)

// keepFindings brings the security team's findings up to date at the end
// of a run: every stale or soon-stale key the run judged is a finding open
// (FAILED) again, with the run's figures; a key whose finding keysweep
// left open is resolved when the run finds it acted on, exempt, fresh
// again or gone (a deactivated key's stays tracked, resolved, until the
// key is deleted and its finding archived). The journal keeps which
// findings are open, so that a
// key that stopped being stale (and so is no longer looked at closely) is
// resolved too, by a complete run. Findings that do not get through are
// counted with the notices that failed, and tried again by the next run.
func (s *sweepRun) keepFindings(cands []candidate, inv *domain.Inventory, complete bool) {
	t := s.tl
	if !t.findings {
		return
	}
	scope := s.run.Scope()
	marks, err := t.j.OpenFindings(s.book, scope)
	if err != nil {
		s.log.Warn("open findings; resolving none this run", "err", err)
		complete = false
	}
	open := make(map[string]domain.FindingMark, len(marks))
	for _, m := range marks {
		open[m.AccessKeyID] = m
	}
	var fs []Finding
	seen, live := map[string]bool{}, map[string]bool{}
	for ci := range cands {
		c := &cands[ci]
		if !c.resolved || c.err != nil {
			continue
		}
		live[c.owner.Name] = true
		for i := range c.decisions {
			j := &c.decisions[i]
			if j.AccessKeyID == "" {
				continue
			}
			seen[j.AccessKeyID] = true
			res := resolution(j, s.e.abilities())
			m, wasOpen := open[j.AccessKeyID]
			if res == domain.FindingOpen || wasOpen {
				fs = append(fs, s.findingOf(j, res, m.OpenedAt))
			}
		}
	}
	if complete {
		for _, m := range marks {
			if !seen[m.AccessKeyID] {
				fs = append(fs, s.unseenFinding(m, inv, live[m.UserName]))
			}
		}
	}
	s.importFindings(fs, open)
}

// resolution says whether a judged key's finding is open, or why not.
func resolution(j *judged, a abilities) domain.FindingResolution {
	switch {
	case j.Outcome == domain.KeyDone && j.acted == domain.ActionDelete, j.Outcome == domain.KeyGone:
		return domain.FindingDeleted
	case j.Outcome == domain.KeyDone && j.acted == domain.ActionDeactivate, j.Outcome == domain.KeyAlreadyInactive:
		return domain.FindingDeactivated
	case j.Verdict == policy.Exempt:
		return domain.FindingExempt
	case j.Stale && a.Deactivate && j.Status == domain.StatusInactive:
		return domain.FindingDeactivated // no longer usable; its deletion follows
	case j.Stale, j.soon:
		return domain.FindingOpen
	}
	return domain.FindingFresh
}

func (s *sweepRun) findingOf(j *judged, res domain.FindingResolution, first time.Time) Finding {
	status := j.Status
	if res == domain.FindingDeactivated && s.e.abilities().Deactivate {
		status = domain.StatusInactive
	}
	if first.IsZero() {
		first = s.start
	}
	return Finding{
		Provider: s.e.Store.Provider(), Account: firstNonEmpty(j.Account, s.run.Account), Target: s.e.Target,
		User: j.UserName, KeyID: j.AccessKeyID, KeyName: j.KeyName, Status: status,
		CreatedAt: j.CreatedAt, LastUsedAt: j.LastUsedAt, Reason: j.Reason, Rule: j.Rule, StaleAt: j.staleAt,
		PolicyVersion: s.p.Version, RunID: s.run.RunID, Resolution: res, FirstSeen: first,
	}
}

// unseenFinding resolves the open finding of a key the run did not judge
// closely: the key is fresh again (or exempt) when the inventory still
// has it, gone when it does not (or its owner's live listing lacks it).
func (s *sweepRun) unseenFinding(m domain.FindingMark, inv *domain.Inventory, ownerLive bool) Finding {
	f := Finding{
		Provider: s.e.Store.Provider(), Account: firstNonEmpty(m.Account, s.run.Account), Target: s.e.Target,
		User: m.UserName, KeyID: m.AccessKeyID, PolicyVersion: s.p.Version, RunID: s.run.RunID,
		Resolution: domain.FindingDeleted, FirstSeen: m.OpenedAt,
	}
	if m.KeyCreatedAt != nil {
		f.CreatedAt = *m.KeyCreatedAt
	}
	if ownerLive {
		return f
	}
	a := s.e.abilities()
	for _, o := range inv.Owners {
		if o.Name != m.UserName {
			continue
		}
		for _, k := range o.Keys {
			if k.ID == m.AccessKeyID || (k.ID == "" && m.KeyCreatedAt != nil && k.CreatedAt.Equal(*m.KeyCreatedAt)) {
				d := s.p.Evaluate(s.e.policyKey(k, o, nil, a), s.start)
				f.Resolution, f.Status, f.LastUsedAt, f.Reason, f.Rule = domain.FindingFresh, k.Status, k.LastUsedAt, d.Reason, d.Rule
				if d.Verdict == policy.Exempt {
					f.Resolution = domain.FindingExempt
				}
				return f
			}
		}
	}
	return f
}

// importFindings sends the findings and keeps the journal's open ones in
// step with what got through.
func (s *sweepRun) importFindings(fs []Finding, open map[string]domain.FindingMark) {
	if len(fs) == 0 {
		return
	}
	t, scope := s.tl, s.run.Scope()
	failed := map[string]error{}
	for _, f := range t.n.Findings(s.book, fs) {
		failed[f.KeyID] = f.Err
	}
	if len(failed) > 0 {
		var first error
		for _, err := range failed {
			first = err
			break
		}
		s.t.add(domain.CountNoticesFailed, len(failed))
		s.run.Notes = append(s.run.Notes, fmt.Sprintf("%d of %d findings did not get through to Security Hub (e.g. %v); the next run tries again", len(failed), len(fs), first))
	}
	for _, f := range fs {
		if _, bad := failed[f.KeyID]; bad {
			continue
		}
		s.t.add(domain.CountFindings, 1)
		_, wasOpen := open[f.KeyID]
		var err error
		switch {
		case f.Resolution == domain.FindingOpen && !wasOpen:
			m := domain.FindingMark{AccessKeyID: f.KeyID, Account: f.Account, UserName: f.User, OpenedAt: f.FirstSeen}
			if f.Provider != domain.ProviderAWS {
				m.Provider = f.Provider
			}
			if !f.CreatedAt.IsZero() {
				at := f.CreatedAt
				m.KeyCreatedAt = &at
			}
			err = t.j.MarkFinding(s.book, scope, m)
		case f.Resolution != domain.FindingOpen && f.Resolution != domain.FindingDeactivated && wasOpen:
			// A deactivated key's finding stays tracked until the key is
			// deleted, when it is archived.
			err = t.j.ClearFinding(s.book, scope, f.KeyID)
		}
		if err != nil {
			s.log.Warn("keep the finding's state", "key", f.KeyID, "err", err)
		}
	}
}
