// Package workload builds the benchmark's IAM account (the reference
// workload W and its size variants), seeds it into the local emulator in one
// request per few thousand users, and reads back what a run did to it.
//
// W (issue 4): 10,000 users holding 20,000 keys (two each); 1% of keys newly
// stale by age, 1% newly stale by inactivity, 0.5% never used and old, 1%
// exempt by tag, the rest fresh and in use. Variants keep the proportions.
package workload

import (
	"fmt"
	"math/rand/v2"
	"time"

	"github.com/keysweep/keysweep/policy"
)

// Category is what a key was seeded to be.
type Category string

// Key categories. The day counts keep every key at least half a day away
// from a limit, so a run that lasts hours judges it the same way.
const (
	// Fresh: created 1-85 days ago, used in the last 30 days.
	Fresh Category = "fresh"
	// StaleAge: newly stale by age: created 91-97 days ago (limit 90),
	// used in the last 10 days.
	StaleAge Category = "stale-age"
	// StaleInactive: newly stale by inactivity: created 50-85 days ago,
	// last used 46-49 days ago (limit 45).
	StaleInactive Category = "stale-inactive"
	// NeverUsedOld: created 46-85 days ago and never used: stale by
	// inactivity counted from creation (CIS 1.12), not by age.
	NeverUsedOld Category = "never-used-old"
	// ExemptStale and ExemptFresh are the two keys of a user tagged
	// keysweep:exempt=true: the first otherwise stale by age, the second
	// fresh. Both are exempt by tag.
	ExemptStale Category = "exempt-tag-stale"
	ExemptFresh Category = "exempt-tag-fresh"
	// UsedAfterReport: stale by inactivity in the credential report, then
	// used after the report was taken (see MarkUsedAfterReport). Not in W;
	// the side-by-side with Cloud Custodian adds a few.
	UsedAfterReport Category = "used-after-report"
	// ExemptID: otherwise stale, exempt by its own key id in the policy
	// (exemptions.accessKeyIds). Not in W; the scenarios that show what
	// each tool can express use it.
	ExemptID Category = "exempt-key-id"
)

// ReportStale reports whether the credential report shows a key of
// category c stale (exempt or not): its owner is a candidate, whose tags
// and, unless keysweep recorded them, key ids a sweep reads.
func (c Category) ReportStale() bool {
	return c.Acted() || c == ExemptStale || c == UsedAfterReport || c == ExemptID
}

// Acted reports whether a correct sweep deactivates a key of category c.
func (c Category) Acted() bool {
	return c == StaleAge || c == StaleInactive || c == NeverUsedOld
}

// ExemptTag is the tag that exempts a user, as in the benchmark policy.
const ExemptTag = policy.DefaultTag

// Spec sizes a workload.
type Spec struct {
	Users int
	// Seed makes the layout reproducible; the same Seed and Users give the
	// same users, categories and dates relative to Now.
	Seed uint64
	// Now is the time the dates are relative to; time.Now when zero.
	Now time.Time
	// UsedAfterReport is how many keys to make UsedAfterReport (0 in W).
	UsedAfterReport int
	// StaleScale multiplies the shares of newly stale keys (age,
	// inactivity, never used); 0 means 1, as in W. A daily sweep's steady
	// state is nearer 0.1: about 1/90 of the keys reach the age limit in a
	// day, where W has 2.5% of the keys newly stale at once. The exempt
	// users stay at 1% of the keys.
	StaleScale float64
	// NothingStale lays out no newly stale key at all (StaleScale is
	// ignored): only the exempt users' stale keys are over a limit, as on
	// a day when nothing else reached one (the steady state).
	NothingStale bool
}

// Key is one seeded key.
type Key struct {
	ID       string     `json:"id"`
	User     string     `json:"user"`
	Category Category   `json:"category"`
	Created  time.Time  `json:"created"`
	LastUsed *time.Time `json:"lastUsed,omitempty"`
}

// User is one seeded user.
type User struct {
	Name string            `json:"name"`
	Path string            `json:"path"`
	Tags map[string]string `json:"tags,omitempty"`
	Keys []*Key            `json:"keys"`
}

// Workload is a generated account.
type Workload struct {
	Spec  Spec
	Now   time.Time
	Users []*User
}

// Shares of W, in keys (per 10,000 users: 20,000 keys).
const (
	shareStaleAge      = 0.01
	shareStaleInactive = 0.01
	shareNeverUsedOld  = 0.005
	shareExemptTag     = 0.01 // both keys of 0.5% of users
)

// Generate lays out a workload: every user holds two keys.
func Generate(spec Spec) *Workload {
	now := spec.Now
	if now.IsZero() {
		now = time.Now()
	}
	now = now.UTC().Truncate(time.Second)
	rng := rand.New(rand.NewPCG(spec.Seed, uint64(spec.Users)))
	n := spec.Users
	keys := 2 * n
	w := &Workload{Spec: spec, Now: now, Users: make([]*User, n)}
	for i := range n {
		path := "/"
		switch r := rng.IntN(100); {
		case r < 10:
			path = "/service/"
		case r < 15:
			path = "/humans/ops/"
		}
		w.Users[i] = &User{Name: fmt.Sprintf("user-%06d", i+1), Path: path}
	}

	// Tagged users first, then the other users' key slots by category.
	order := rng.Perm(n)
	tagged := int(float64(keys)*shareExemptTag) / 2
	cats := make([][2]Category, n)
	for _, ui := range order[:tagged] {
		w.Users[ui].Tags = map[string]string{ExemptTag: "true"}
		cats[ui] = [2]Category{ExemptStale, ExemptFresh}
	}
	var slots [][2]int
	for _, ui := range order[tagged:] {
		slots = append(slots, [2]int{ui, 0}, [2]int{ui, 1})
	}
	rng.Shuffle(len(slots), func(i, j int) { slots[i], slots[j] = slots[j], slots[i] })
	scale := spec.StaleScale
	if scale <= 0 {
		scale = 1
	}
	if spec.NothingStale {
		scale = 0
	}
	quota := []struct {
		c Category
		n int
	}{
		{StaleAge, int(float64(keys) * shareStaleAge * scale)},
		{StaleInactive, int(float64(keys) * shareStaleInactive * scale)},
		{NeverUsedOld, int(float64(keys) * shareNeverUsedOld * scale)},
		{UsedAfterReport, spec.UsedAfterReport},
	}
	next := 0
	for _, q := range quota {
		for range q.n {
			s := slots[next]
			cats[s[0]][s[1]] = q.c
			next++
		}
	}
	for ui, u := range w.Users {
		for ki, c := range cats[ui] {
			if c == "" {
				c = Fresh
			}
			k := &Key{User: u.Name, Category: c}
			k.Created, k.LastUsed = dates(rng, now, c)
			if ki == 1 && k.Created.Equal(u.Keys[0].Created) {
				// Two keys of a user never share a creation second:
				// the credential report tells them apart by it.
				k.Created = k.Created.Add(-time.Second)
			}
			u.Keys = append(u.Keys, k)
		}
	}
	return w
}

// UserLayout is one user of a small hand-made account: its name, tags and
// the categories of its keys (at most two, IAM's limit).
type UserLayout struct {
	Name string
	Tags map[string]string
	Keys []Category
}

// Layout builds a small account user by user, with dates drawn as Generate
// draws them for each category (spec.Users is ignored).
func Layout(spec Spec, users []UserLayout) *Workload {
	now := spec.Now
	if now.IsZero() {
		now = time.Now()
	}
	now = now.UTC().Truncate(time.Second)
	rng := rand.New(rand.NewPCG(spec.Seed, uint64(len(users))))
	w := &Workload{Spec: spec, Now: now}
	for _, ul := range users {
		u := &User{Name: ul.Name, Path: "/", Tags: ul.Tags}
		for i, c := range ul.Keys {
			k := &Key{User: u.Name, Category: c}
			k.Created, k.LastUsed = dates(rng, now, c)
			if i == 1 && k.Created.Equal(u.Keys[0].Created) {
				k.Created = k.Created.Add(-time.Second)
			}
			u.Keys = append(u.Keys, k)
		}
		w.Users = append(w.Users, u)
	}
	return w
}

// dates gives a key of category c its creation and last-use times.
func dates(rng *rand.Rand, now time.Time, c Category) (time.Time, *time.Time) {
	const day = 24 * time.Hour
	ago := func(days int) time.Time {
		// Half a day past the whole days, plus up to an hour of jitter.
		return now.Add(-time.Duration(days)*day - 12*time.Hour - time.Duration(rng.IntN(3600))*time.Second)
	}
	used := func(days int) *time.Time {
		// Up to 11 hours past the whole days: never at or before creation.
		t := now.Add(-time.Duration(days)*day - time.Duration(rng.IntN(11*3600))*time.Second)
		return &t
	}
	between := func(lo, hi int) int { return lo + rng.IntN(hi-lo+1) }
	switch c {
	case StaleAge, ExemptStale:
		return ago(between(91, 97)), used(between(0, 10))
	case StaleInactive, UsedAfterReport, ExemptID:
		return ago(between(50, 85)), used(between(46, 49))
	case NeverUsedOld:
		return ago(between(46, 85)), nil
	default: // Fresh, ExemptFresh
		cd := between(1, 85)
		return ago(cd), used(between(0, min(cd-1, 30)))
	}
}

// Keys lists every key in user order.
func (w *Workload) Keys() []*Key {
	var out []*Key
	for _, u := range w.Users {
		out = append(out, u.Keys...)
	}
	return out
}

// Counts counts keys by category.
func (w *Workload) Counts() map[Category]int {
	m := map[Category]int{}
	for _, k := range w.Keys() {
		m[k.Category]++
	}
	return m
}

// WantActed is the set of key ids a correct sweep deactivates.
func (w *Workload) WantActed() map[string]bool {
	m := map[string]bool{}
	for _, k := range w.Keys() {
		if k.Category.Acted() {
			m[k.ID] = true
		}
	}
	return m
}

// Policy is the benchmark's keysweep policy: CIS-like limits (90 days of
// age, 45 of inactivity), deactivate first, the exemption tag, and caps
// loose enough for the planned actions (2.5% of the keys) to go ahead.
func Policy(totalKeys int) *policy.Policy {
	return &policy.Policy{
		Version:         "bench-1",
		Mode:            policy.ModeEnforce,
		MaxKeyAgeDays:   90,
		MaxInactiveDays: 45,
		DeleteAfterDays: 7,
		BlastRadius:     policy.BlastRadius{MaxActions: max(totalKeys*5/100, 10), MaxPercent: 5},
		Exemptions:      policy.Exemptions{Tag: ExemptTag},
	}
}
