package engine

import (
	"context"
	"time"

	"github.com/keysweep/keysweep/internal/domain"
	"github.com/keysweep/keysweep/policy"
)

// recentRecords bounds the records read back to find an exempt owner's
// key ids: a few runs' worth.
const recentRecords = 20

// resolve reads the live facts of one candidate owner and judges its keys.
// An owner deleted meanwhile leaves no decisions: its keys are gone.
func (e *Engine) resolve(work context.Context, p *policy.Policy, a abilities, inv *domain.Inventory, c *candidate, now time.Time, horizon time.Duration) error {
	o := c.owner
	if p.NeedsTags() && a.OwnerTags && c.tags == nil {
		tags, err := e.Store.OwnerTags(work, o)
		if ownerGone(err) {
			return nil
		}
		if err != nil {
			return fmtOwnerErr("tags", o.Name, err)
		}
		if tags == nil {
			tags = map[string]string{}
		}
		c.tags = tags
	}
	if ds, ok := e.settledByTags(work, p, a, c, now); ok {
		c.decisions = ds
		return nil
	}
	live, liveAt, err := e.liveKeys(work, a, inv, o)
	if ownerGone(err) {
		return nil
	}
	if err != nil {
		return err
	}
	for _, lk := range live {
		j, err := e.judgeLive(work, p, a, o, c.tags, lk, liveAt, now)
		if err != nil {
			return err
		}
		foresee(p, &j, e.policyKey(lk, o, c.tags, a), now, horizon)
		c.decisions = append(c.decisions, j)
	}
	// A key the inventory had but the store no longer has was deleted in
	// between: nothing to do, but say so.
	for _, k := range o.Keys {
		if matchesLive(k, live) {
			continue
		}
		kd := keyDecision(k, o, policy.Decision{Verdict: policy.Keep, Reason: "in the inventory but no longer in the key store: already deleted"}, e.Store.Provider())
		kd.Outcome = domain.KeyGone
		c.decisions = append(c.decisions, judged{KeyDecision: kd, key: k, factsAt: liveAt})
	}
	return nil
}

// liveKeys gives the owner's keys as the store has them now. An inventory
// that is itself a live listing (ids included) is used as it is; a report
// without ids is completed by listing the owner's keys.
func (e *Engine) liveKeys(work context.Context, a abilities, inv *domain.Inventory, o domain.Owner) ([]domain.Key, time.Time, error) {
	if !a.Report && hasIDs(o.Keys) {
		return o.Keys, inv.GeneratedAt, nil
	}
	at := e.now()
	live, err := e.Store.OwnerKeys(work, o)
	if err != nil {
		return nil, at, fmtOwnerErr("keys", o.Name, err)
	}
	for i := range live {
		if !live[i].LastUseKnown {
			live[i].LastUsedAt, live[i].LastUseKnown = lastUsedFromInventory(o, live[i])
		}
		if live[i].Account == "" {
			live[i].Account = accountOf(o)
		}
	}
	return live, at, nil
}

func hasIDs(keys []domain.Key) bool {
	for _, k := range keys {
		if k.ID == "" {
			return false
		}
	}
	return true
}

// judgeLive judges one live key with keysweep's own state of it.
func (e *Engine) judgeLive(work context.Context, p *policy.Policy, a abilities, o domain.Owner, tags map[string]string, lk domain.Key, liveAt, now time.Time) (judged, error) {
	pk := e.policyKey(lk, o, tags, a)
	// keysweep's own state matters only to an inactive key (when it was
	// deactivated starts the delete clock) and to a store without status
	// (its notice period): active keys cost no read.
	if lk.Status == domain.StatusInactive || !a.Deactivate {
		st, err := e.Journal.KeyState(work, lk.ID)
		if err != nil {
			return judged{}, journalError("read the state of "+lk.ID, err)
		}
		if st != nil && st.DeactivatedAt != nil && st.Stage != domain.StageDeleted {
			t := *st.DeactivatedAt
			pk.DeactivatedAt = &t
		}
	}
	d := p.Evaluate(pk, now)
	j := judged{key: lk, factsAt: liveAt}
	switch {
	case !a.Deactivate && pk.DeactivatedAt != nil && (d.Verdict == policy.Exempt || !d.Stale):
		j.clearDue = true
	case !a.Deactivate && d.Stale && d.Verdict == policy.Keep && pk.DeactivatedAt == nil:
		j.markDue = true
	case a.Deactivate && lk.Status == domain.StatusInactive && d.Stale && pk.DeactivatedAt == nil:
		// Start the delete clock for a key someone else deactivated.
		j.observe = true
		t := now
		pk.DeactivatedAt = &t
		d = p.Evaluate(pk, now)
	}
	j.KeyDecision = keyDecision(lk, o, d, e.Store.Provider())
	return j, nil
}

// settledByTags: with the owner's tags known, an exemption or override may
// settle the owner without reading its keys. An owner holding a stale key
// spared by an exemption is recorded, each exempt key with its id: the ids
// are found in keysweep's own recent records of the owner (by creation
// time), and only when one is not there are the keys read from the store.
func (e *Engine) settledByTags(work context.Context, p *policy.Policy, a abilities, c *candidate, now time.Time) ([]judged, bool) {
	o := c.owner
	if !p.NeedsTags() || !a.Deactivate || e.ResolveAll || !a.Report || hasIDs(o.Keys) {
		return nil, false
	}
	var out []judged
	exemptStale := false
	for _, k := range o.Keys {
		pk := e.policyKey(k, o, c.tags, a)
		if p.Screen(pk, now) {
			return nil, false
		}
		d := p.Evaluate(pk, now)
		exemptStale = exemptStale || (d.Verdict == policy.Exempt && d.Stale)
		out = append(out, judged{KeyDecision: keyDecision(k, o, d, e.Store.Provider()), key: k, factsAt: now})
	}
	if !exemptStale {
		return out, true
	}
	if !e.idsFromRecords(work, o, out) {
		return nil, false
	}
	return out, true
}

// idsFromRecords fills the ids of the exempt keys in ds (the ones the run
// records: the stale one and its owner's other exempt keys) from
// keysweep's recent records of the owner, matching creation times to the
// second; it reports whether every one was found.
func (e *Engine) idsFromRecords(work context.Context, o domain.Owner, ds []judged) bool {
	rj, ok := e.Journal.(RecentByUser)
	if !ok {
		return false
	}
	recs, err := rj.RecentByUser(work, accountOf(o), o.Name, recentRecords)
	if err != nil {
		e.log().Warn("read an owner's records; listing its keys instead", "user", o.Name, "err", err)
		return false
	}
	for i := range ds {
		d := &ds[i]
		if d.Verdict != policy.Exempt {
			continue
		}
		for _, r := range recs {
			if r.KeyCreatedAt != nil && r.UserName == o.Name && sameSecond(*r.KeyCreatedAt, d.CreatedAt) {
				d.AccessKeyID, d.key.ID, d.Slot = r.AccessKeyID, r.AccessKeyID, 0
				break
			}
		}
		if d.AccessKeyID == "" {
			return false
		}
	}
	return true
}

func sameSecond(a, b time.Time) bool { return a.Truncate(time.Second).Equal(b.Truncate(time.Second)) }

// matchesLive reports whether an inventory key is among the live keys: by
// id when it has one, else by creation time to the second.
func matchesLive(k domain.Key, live []domain.Key) bool {
	for _, l := range live {
		if (k.ID != "" && k.ID == l.ID) || (k.ID == "" && sameSecond(k.CreatedAt, l.CreatedAt)) {
			return true
		}
	}
	return false
}

func accountOf(o domain.Owner) string {
	for _, k := range o.Keys {
		if k.Account != "" {
			return k.Account
		}
	}
	return ""
}

// lastUsedFromInventory finds the inventory's last-use fact for a live key:
// by id when the inventory has ids, else by creation time to the second
// (the credential report's key columns carry no id).
func lastUsedFromInventory(o domain.Owner, live domain.Key) (*time.Time, bool) {
	for _, k := range o.Keys {
		if (k.ID != "" && k.ID == live.ID) || (k.ID == "" && sameSecond(k.CreatedAt, live.CreatedAt)) {
			return k.LastUsedAt, k.LastUseKnown
		}
	}
	return nil, false
}

// foresee puts on j when its key becomes (or became) stale and why, and
// whether it is soon stale: active (or without status), within its limits
// now, not exempt, and stale within horizon if it is not used meanwhile.
func foresee(p *policy.Policy, j *judged, pk policy.Key, now time.Time, horizon time.Duration) {
	at, why, ok := p.StaleAt(pk)
	if !ok {
		return
	}
	j.staleAt, j.staleWhy = at, why
	j.soon = horizon > 0 && !j.Stale && j.Verdict == policy.Keep &&
		(pk.NoStatus || pk.Status == domain.StatusActive) && at.After(now) && at.Sub(now) <= horizon
}
