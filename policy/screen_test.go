package policy

import (
	"math/rand/v2"
	"testing"
	"time"
)

func TestScreen(t *testing.T) {
	p := testPolicy()
	p.Overrides = []Override{
		{Name: "ops", Tag: &TagMatch{Key: "team", Value: "ops"}, MaxInactiveDays: intP(10)},
		{Name: "service", PathPrefix: "/service/", MaxInactiveDays: intP(20)},
		{Name: "strict-after-path", Tag: &TagMatch{Key: "strict"}, MaxInactiveDays: intP(5)},
	}
	base := Key{UserName: "alice", UserPath: "/", Status: StatusActive, CreatedAt: ago(30), LastUsedAt: agoP(15)}
	tests := []struct {
		name string
		key  Key
		want bool
	}{
		{"fresh, tags unknown, a tag override could apply", base, true},
		{"fresh, tags known, none apply", base.withTags(map[string]string{}), false},
		{"tags known, ops applies", base.withTags(map[string]string{"team": "ops"}), true},
		{"path known: the path override wins over later tag overrides", base.withPath("/service/"), true},
		{"path known, 15 days is within the service limit, ops is stricter and first", base.withPath("/service/").withTags(map[string]string{"strict": ""}), false},
		{"path unknown: any path override could apply", base.withPath("").withTags(map[string]string{}).withUsed(agoP(21)), true},
		{"exempt user", base.withUser("break-glass"), false},
		{"exempt path", base.withPath("/exempt/"), false},
		{"unknown path is not a path exemption", base.withPath("").withCreated(ago(100)), true},
		{"exempt key id", base.withID("AKIAEXEMPT").withCreated(ago(100)), false},
		{"exemption tag known", base.withTags(map[string]string{"keysweep:exempt": "true"}).withCreated(ago(100)), false},
		{"inactive stale, delete clock unknown", base.withStatus(StatusInactive).withCreated(ago(100)).withTags(map[string]string{}), true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := p.Screen(tc.key, now); got != tc.want {
				t.Errorf("Screen() = %v, want %v", got, tc.want)
			}
		})
	}
}

// Screen must never skip a key that Evaluate, with every fact known, would
// act on: a false negative leaves a stale key in place without a word.
func TestScreenNeverSkipsAnActionableKey(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	for i := range 200000 {
		p := randomPolicy(r)
		full := randomKey(r)
		partial := full
		// What a credential report leaves out or gets late.
		if r.IntN(3) > 0 {
			partial.UserTags = nil
		}
		if r.IntN(2) == 0 {
			partial.AccessKeyID = ""
		}
		if r.IntN(3) == 0 {
			partial.UserPath = ""
		}
		partial.DeactivatedAt = nil
		if full.LastUsedAt != nil && r.IntN(3) == 0 {
			lag := full.LastUsedAt.Add(-time.Duration(r.IntN(48)) * time.Hour)
			if lag.Before(full.CreatedAt) {
				lag = full.CreatedAt
			}
			partial.LastUsedAt = &lag
		}
		d := p.Evaluate(full, now)
		if d.Verdict.Acts() && !p.Screen(partial, now) {
			t.Fatalf("case %d: Screen skipped a key Evaluate would act on (%s: %s)\npolicy: %+v\nfull: %+v\npartial: %+v",
				i, d.Verdict, d.Reason, p, full, partial)
		}
	}
}

func randomPolicy(r *rand.Rand) *Policy {
	limit := func() int { return []int{0, 0, 1, 10, 30, 45, 90}[r.IntN(7)] }
	p := &Policy{
		Version: "r", Mode: ModeEnforce,
		MaxKeyAgeDays: limit(), MaxInactiveDays: limit(), DeleteAfterDays: []int{0, 1, 7}[r.IntN(3)],
	}
	if r.IntN(2) == 0 {
		p.Exemptions.Users = []string{pick(r, users)}
	}
	if r.IntN(2) == 0 {
		p.Exemptions.AccessKeyIDs = []string{pick(r, keyIDs)}
	}
	if r.IntN(2) == 0 {
		p.Exemptions.PathPrefixes = []string{pick(r, paths)}
	}
	if r.IntN(2) == 0 {
		p.Exemptions.Tag = "exempt"
	}
	optInt := func() *int {
		if r.IntN(3) == 0 {
			return nil
		}
		return intP(limit())
	}
	for range r.IntN(5) {
		o := Override{MaxKeyAgeDays: optInt(), MaxInactiveDays: optInt(), DeleteAfterDays: optInt()}
		if r.IntN(2) == 0 {
			o.PathPrefix = pick(r, paths)
		} else {
			o.Tag = &TagMatch{Key: pick(r, tagKeys)}
			if r.IntN(2) == 0 {
				o.Tag.Value = pick(r, tagValues)
			}
		}
		p.Overrides = append(p.Overrides, o)
	}
	return p
}

var (
	users     = []string{"alice", "bob", "svc"}
	keyIDs    = []string{"AKIA1", "AKIA2", "AKIA3"}
	paths     = []string{"/", "/service/", "/service/batch/", "/team/"}
	tagKeys   = []string{"team", "exempt", "owner"}
	tagValues = []string{"ops", "true", "", "2026-12-01T00:00:00Z", "2026-01-01T00:00:00Z", "x"}
)

func pick(r *rand.Rand, from []string) string { return from[r.IntN(len(from))] }

func randomKey(r *rand.Rand) Key {
	created := now.Add(-time.Duration(r.IntN(200*24)) * time.Hour)
	k := Key{
		UserName:    pick(r, users),
		UserPath:    pick(r, paths),
		AccessKeyID: pick(r, keyIDs),
		Status:      []Status{StatusActive, StatusInactive}[r.IntN(2)],
		CreatedAt:   created,
	}
	if r.IntN(4) > 0 {
		used := created.Add(time.Duration(r.Int64N(int64(now.Sub(created)) + 1)))
		k.LastUsedAt = &used
	}
	if r.IntN(2) == 0 {
		k.UserTags = map[string]string{}
		for range r.IntN(3) {
			k.UserTags[pick(r, tagKeys)] = pick(r, tagValues)
		}
	}
	if r.IntN(2) == 0 {
		d := now.Add(-time.Duration(r.IntN(20*24)) * time.Hour)
		k.DeactivatedAt = &d
	}
	return k
}

func (k Key) withTags(tags map[string]string) Key { k.UserTags = tags; return k }
func (k Key) withPath(path string) Key            { k.UserPath = path; return k }
