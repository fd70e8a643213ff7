package engine

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"sync"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/keysweep/keysweep/internal/domain"
	"github.com/keysweep/keysweep/policy"
)

// judged is one key's decision with what the engine needs to act on it.
type judged struct {
	domain.KeyDecision
	key     domain.Key // the key as read live: id, owner, account, status
	factsAt time.Time  // when the facts behind the decision were read
	// observe: an inactive stale key keysweep has no delete clock for;
	// the run starts it now (ObserveInactive).
	observe bool
	// markDue and clearDue start and end the notice period of a key in
	// a store without status.
	markDue, clearDue bool
	// staleAt is when the key becomes (or became) stale, and staleWhy
	// why (zero when no rule applies to it); soon: it becomes stale
	// within the run's horizon (a warning or a finding may be due).
	staleAt  time.Time
	staleWhy string
	soon     bool
	// acted is what the run did to the key (done), and lastAt the time
	// of its latest record in the run: notices are recorded after it.
	acted  domain.Action
	lastAt time.Time
}

// candidate is one owner whose keys need a closer look.
type candidate struct {
	owner     domain.Owner // as the inventory has it
	tags      map[string]string
	resolved  bool
	decisions []judged
	err       error
}

// judgement is what judging an inventory found.
//
// horizon, when set, also takes a closer look at the keys that become
// stale within it (a warning or a finding may be due for them): their
// owners' keys are listed live like a candidate's.
type judgement struct {
	decisions []domain.KeyDecision // every key, in owner order
	cands     []candidate          // the owners read live, in the order judged
	stopped   bool                 // the deadline came before every candidate was read
}

// judge screens every key on the inventory's facts, then reads live facts
// (tags, key ids and status, keysweep's own state) for the owners that hold
// a candidate key and judges those keys in full. It changes nothing:
// what a run must write (a delete clock to start, a notice period to
// start or end) is marked on the decisions for the run to do.
func (e *Engine) judge(work context.Context, p *policy.Policy, inv *domain.Inventory, owners []domain.Owner, resume string, now time.Time, horizon time.Duration) judgement {
	a := e.abilities()
	var cands []candidate
	for _, o := range rotate(owners, resume) {
		if e.screen(p, a, o, now, horizon) {
			cands = append(cands, candidate{owner: o})
		}
	}
	if p.NeedsTags() && a.OwnerTags {
		e.preloadTags(work, a, cands, len(inv.Owners))
	}
	stopped := e.resolveAll(work, p, a, inv, cands, now, horizon)

	byName := make(map[string]*candidate, len(cands))
	for i := range cands {
		byName[cands[i].owner.Name] = &cands[i]
	}
	var out []domain.KeyDecision
	for _, o := range owners {
		c, ok := byName[o.Name]
		switch {
		case !ok || !c.resolved:
			// Not a candidate (or never resolved): judged on inventory facts.
			for _, k := range o.Keys {
				d := p.Evaluate(e.policyKey(k, o, nil, a), now)
				if ok && d.Verdict.Acts() {
					d.Verdict = policy.Keep
					d.Reason = "not judged: the run stopped before the deadline"
				}
				out = append(out, keyDecision(k, o, d, e.Store.Provider()))
			}
		case c.err != nil:
			for _, k := range o.Keys {
				kd := keyDecision(k, o, policy.Decision{Verdict: policy.Keep, Reason: "not judged: " + c.err.Error()}, e.Store.Provider())
				kd.Error, kd.Outcome = c.err.Error(), domain.KeyFailed
				out = append(out, kd)
			}
		default:
			for _, j := range c.decisions {
				out = append(out, j.KeyDecision)
			}
		}
	}
	return judgement{decisions: out, cands: cands, stopped: stopped}
}

// screen says whether an owner's keys need a closer look than the
// inventory's facts allow.
func (e *Engine) screen(p *policy.Policy, a abilities, o domain.Owner, now time.Time, horizon time.Duration) bool {
	if len(o.Keys) == 0 {
		return false
	}
	if e.ResolveAll || !a.Deactivate {
		// A store without status keeps its notice periods in keysweep's
		// state, which only a closer look reads.
		return true
	}
	for _, k := range o.Keys {
		pk := e.policyKey(k, o, nil, a)
		if p.Screen(pk, now) {
			return true
		}
		// Soon stale: stale at the horizon under any limit that might
		// apply, if it is not used meanwhile.
		if horizon > 0 && p.Screen(pk, now.Add(horizon)) {
			return true
		}
		// A stale key spared by a known exemption is recorded too.
		if d := p.Evaluate(pk, now); d.Verdict == policy.Exempt && d.Stale {
			return true
		}
	}
	return false
}

// resolveAll resolves the candidates, a few at once, until the work
// context ends; it reports whether it stopped before every one was read.
func (e *Engine) resolveAll(work context.Context, p *policy.Policy, a abilities, inv *domain.Inventory, cands []candidate, now time.Time, horizon time.Duration) bool {
	var g errgroup.Group
	g.SetLimit(withDefault(e.Concurrency, DefaultResolveConcurrency))
	var mu sync.Mutex
	done, stopped := 0, false
	for i := range cands {
		if stopping(work) {
			stopped = true
			break
		}
		c := &cands[i]
		g.Go(func() error {
			c.err = e.resolve(work, p, a, inv, c, now, horizon)
			c.resolved = c.err == nil || !stopping(work)
			mu.Lock()
			done++
			e.progress("judge", done, len(cands))
			mu.Unlock()
			return nil
		})
	}
	_ = g.Wait()
	return stopped || stopping(work)
}

// preloadTags reads the candidates' tags in one paged listing when the
// store offers it and that costs fewer calls than one OwnerTags call per
// candidate. If the listing fails, or a candidate is not in it, resolve
// reads that owner's tags on its own.
func (e *Engine) preloadTags(ctx context.Context, a abilities, cands []candidate, accountOwners int) {
	if a.tags == nil || len(cands) <= a.tags.TagPages(accountOwners) {
		return
	}
	names := make([]string, len(cands))
	for i := range cands {
		names[i] = cands[i].owner.Name
	}
	tags, err := a.tags.TagsOf(ctx, names)
	if err != nil {
		e.log().Warn("read tags in bulk; reading each candidate's tags instead", "users", len(names), "err", err)
		return
	}
	for i := range cands {
		if t, ok := tags[cands[i].owner.Name]; ok {
			if t == nil {
				t = map[string]string{} // listed, with no tags
			}
			cands[i].tags = t
		}
	}
}

// policyKey is what the policy judges of a key: the store's facts, the
// owner's, and what the store cannot know said as such.
func (e *Engine) policyKey(k domain.Key, o domain.Owner, tags map[string]string, a abilities) policy.Key {
	if !a.OwnerTags {
		tags = map[string]string{} // known to have none
	}
	ownerID := o.ID
	if ownerID == "" {
		ownerID = o.Name
	}
	return policy.Key{
		Account: k.Account, UserName: o.Name, UserPath: o.Path, UserTags: tags,
		AccessKeyID: k.ID, Status: k.Status, CreatedAt: k.CreatedAt, LastUsedAt: k.LastUsedAt,
		LastUseUnknown: !a.LastUsed, NoStatus: !a.Deactivate, ExpiresAt: k.ExpiresAt,
		KeyName: k.Name, Scope: k.Scope, OwnerID: ownerID,
	}
}

func keyDecision(k domain.Key, o domain.Owner, d policy.Decision, prov domain.Provider) domain.KeyDecision {
	kd := domain.KeyDecision{
		Account: k.Account, UserName: o.Name, OwnerName: o.DisplayName, UserPath: o.Path, AccessKeyID: k.ID,
		Status: k.Status, CreatedAt: k.CreatedAt, LastUsedAt: k.LastUsedAt, ExpiresAt: k.ExpiresAt,
		KeyName: k.Name, Decision: d,
	}
	if prov != domain.ProviderAWS {
		kd.Provider = prov
	}
	if k.ID == "" {
		kd.Slot = k.Slot
	}
	return kd
}

// narrow keeps only the named owners; nil keeps all.
func narrow(owners []domain.Owner, names []string) []domain.Owner {
	if names == nil {
		return owners
	}
	want := map[string]bool{}
	for _, n := range names {
		want[n] = true
	}
	var out []domain.Owner
	for _, o := range owners {
		if want[o.Name] {
			out = append(out, o)
		}
	}
	return out
}

// rotate orders owners to start after the resume cursor, wrapping around.
func rotate(owners []domain.Owner, after string) []domain.Owner {
	if after == "" {
		return owners
	}
	i := sort.Search(len(owners), func(i int) bool { return owners[i].Name > after })
	return append(append([]domain.Owner{}, owners[i:]...), owners[:i]...)
}

// errOwnerGone marks an owner deleted between the inventory and now.
var errOwnerGone = errors.New("owner gone")

func ownerGone(err error) bool { return errors.Is(err, domain.ErrKeyNotFound) }

func fmtOwnerErr(what, owner string, err error) error {
	return fmt.Errorf("%s of %s: %w", what, owner, err)
}
