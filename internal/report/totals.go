package report

import (
	"cmp"
	"fmt"
	"slices"
	"time"

	"github.com/keysweep/keysweep/internal/domain"
	"github.com/keysweep/keysweep/policy"
)

// storeNames names each (provider, account) by its target.
type storeNames struct {
	byScope map[string]domain.Target
}

func newStoreNames(targets []domain.Target) *storeNames {
	n := &storeNames{byScope: map[string]domain.Target{}}
	for _, t := range targets {
		n.byScope[domain.Scope(t.Provider, t.Account)] = t
	}
	return n
}

// store names an account of a key store: the target's name and the
// account id, or the bare id when no target has it.
type store struct{ Name, Account string }

// Label is "name (account)", or whichever of the two there is.
func (s store) Label() string {
	if s.Account == "" {
		return s.Name
	}
	return s.Name + " (" + s.Account + ")"
}

func (n *storeNames) label(p domain.Provider, account string) store {
	t, ok := n.byScope[domain.Scope(p, account)]
	switch {
	case !ok || t.Name == "":
		if account == "" {
			return store{Name: p.Title()}
		}
		return store{Name: account}
	case t.Name == account:
		return store{Name: t.Name}
	}
	return store{Name: t.Name, Account: account}
}

// totalRow is one account of one key store in the totals table.
type totalRow struct {
	Store                       store
	Provider, Account           string
	Keys, Active, Stale, Exempt int
	Due, Acted                  int
	CapNote                     string // the blast-radius cap against the plan now
}

func (t *totalRow) add(r *totalRow) {
	t.Keys += r.Keys
	t.Active += r.Active
	t.Stale += r.Stale
	t.Exempt += r.Exempt
	t.Due += r.Due
	t.Acted += r.Acted
}

// actedWindow is how far back "acted on" counts.
const actedWindow = 30 * 24 * time.Hour

// buildTotals counts each account's keys and the keys acted on in the 30
// days before at; the last row is the sum of all.
func buildTotals(in *Input, at time.Time, names *storeNames) []totalRow {
	rows := map[string]*totalRow{}
	get := func(p domain.Provider, account string) *totalRow {
		s := domain.Scope(p, account)
		if r, ok := rows[s]; ok {
			return r
		}
		r := &totalRow{Store: names.label(p, account), Provider: p.Title(), Account: account}
		rows[s] = r
		return r
	}
	for _, t := range in.Targets {
		get(t.Provider, t.Account)
	}
	for i := range in.Decisions {
		d := &in.Decisions[i]
		r := get(d.Provider, d.Account)
		r.Keys++
		if d.Status == policy.StatusActive {
			r.Active++
		}
		if d.Stale {
			r.Stale++
		}
		if d.Verdict == policy.Exempt {
			r.Exempt++
		}
		if d.Verdict.Acts() {
			r.Due++
		}
	}
	acted := map[string]map[string]bool{}
	for _, rec := range in.Records {
		if !actedOn(rec, at) {
			continue
		}
		s := domain.Scope(rec.Provider, rec.Account)
		if acted[s] == nil {
			acted[s] = map[string]bool{}
			get(rec.Provider, rec.Account)
		}
		acted[s][rec.AccessKeyID] = true
	}
	out := make([]totalRow, 0, len(rows)+1)
	sum := totalRow{Store: store{Name: "All key stores"}}
	for s, r := range rows {
		r.Acted = len(acted[s])
		r.CapNote = capNote(in.Policy, r.Due, r.Keys)
		out = append(out, *r)
		sum.add(r)
	}
	slices.SortFunc(out, func(a, b totalRow) int {
		return cmp.Or(cmp.Compare(a.Provider, b.Provider), cmp.Compare(a.Store.Label(), b.Store.Label()))
	})
	return append(out, sum)
}

// actedOn reports whether rec is a key store action that took effect in
// the window before at.
func actedOn(rec domain.Record, at time.Time) bool {
	if rec.Kind != domain.KindOutcome || rec.Result != domain.ResultDone {
		return false
	}
	return !rec.At.After(at) && at.Sub(rec.At) <= actedWindow
}

// capNote says whether a run now would pass the policy's blast-radius cap.
func capNote(p *policy.Policy, due, keys int) string {
	switch {
	case p == nil:
		return ""
	case due == 0:
		return "nothing to act on"
	}
	if over, why := p.CapExceeded(due, keys); over {
		return "a run now would be blocked: " + why
	}
	return fmt.Sprintf("within the cap (%d of %d keys)", due, keys)
}
