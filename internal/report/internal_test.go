package report

import (
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/keysweep/keysweep/internal/domain"
	"github.com/keysweep/keysweep/policy"
)

func TestNiceScale(t *testing.T) {
	for _, tc := range []struct {
		peak  int
		top   int
		ticks []int
	}{
		{0, 1, []int{0, 1}},
		{3, 3, []int{0, 1, 2, 3}},
		{7, 8, []int{0, 2, 4, 6, 8}},
		{23, 25, []int{0, 5, 10, 15, 20, 25}},
		{480, 500, []int{0, 100, 200, 300, 400, 500}},
		{19999, 20000, []int{0, 5000, 10000, 15000, 20000}},
	} {
		top, ticks := niceScale(tc.peak)
		if top != tc.top || !cmp.Equal(ticks, tc.ticks) {
			t.Errorf("niceScale(%d) = %d %v, want %d %v", tc.peak, top, ticks, tc.top, tc.ticks)
		}
	}
}

// TestBucket puts the policy's own reasons into words.
func TestBucket(t *testing.T) {
	now := time.Date(2026, 6, 1, 0, 0, 0, 0, time.UTC)
	ago := func(d int) *time.Time { v := now.AddDate(0, 0, -d); return &v }
	p := &policy.Policy{Version: "t", Mode: policy.ModeEnforce, MaxKeyAgeDays: 90, MaxInactiveDays: 45, DeleteAfterDays: 7,
		Exemptions: policy.Exemptions{Users: []string{"vip"}}}
	key := func(user string, st policy.Status, created int, used, deactivated *time.Time) policy.Key {
		return policy.Key{UserName: user, AccessKeyID: "AKIA" + user, Status: st, CreatedAt: *ago(created), LastUsedAt: used, DeactivatedAt: deactivated}
	}
	for _, tc := range []struct {
		name string
		key  policy.Key
		want string
	}{
		{"fresh", key("a", policy.StatusActive, 10, ago(1), nil), bucketWithin},
		{"inactive fresh", key("a", policy.StatusInactive, 10, ago(1), nil), bucketInactiveWithin},
		{"old", key("a", policy.StatusActive, 100, ago(1), nil), bucketAge},
		{"unused", key("a", policy.StatusActive, 60, ago(50), nil), bucketUnused},
		{"never used", key("a", policy.StatusActive, 60, nil, nil), bucketNever},
		{"old and unused", key("a", policy.StatusActive, 200, ago(100), nil), bucketAgeUnused},
		{"old and never used", key("a", policy.StatusActive, 200, nil, nil), bucketAgeUnused},
		{"clock starts", key("a", policy.StatusInactive, 200, ago(100), nil), bucketClockStarts},
		{"awaiting deletion", key("a", policy.StatusInactive, 200, ago(100), ago(2)), bucketAwaiting},
		{"delete due", key("a", policy.StatusInactive, 200, ago(100), ago(20)), bucketDeleteDue},
		{"exempt", key("vip", policy.StatusActive, 10, ago(1), nil), bucketExempt},
		{"exempt and stale", key("vip", policy.StatusActive, 200, ago(1), nil), bucketExemptStale},
		{"unknown status", key("a", policy.Status("Expired"), 200, ago(1), nil), bucketUnknown},
	} {
		t.Run(tc.name, func(t *testing.T) {
			d := domain.KeyDecision{Status: tc.key.Status, Decision: p.Evaluate(tc.key, now)}
			if got := bucket(&d); got != tc.want {
				t.Errorf("bucket = %q, want %q (reason %q)", got, tc.want, d.Reason)
			}
		})
	}
}

// TestForecastCountsChanges: a key counts in the week its verdict turns
// into an action, or into another action; not again while it stays.
func TestForecastCountsChanges(t *testing.T) {
	at := time.Date(2026, 6, 1, 0, 0, 0, 0, time.UTC)
	dec := func(id string, v policy.Verdict) domain.KeyDecision {
		return domain.KeyDecision{Account: "1", AccessKeyID: id, Decision: policy.Decision{Verdict: v}}
	}
	in := &Input{
		Decisions: []domain.KeyDecision{dec("a", policy.Deactivate), dec("b", policy.Keep), dec("c", policy.Keep)},
		Forecast: []Week{
			{At: at.AddDate(0, 0, 7), Decisions: []domain.KeyDecision{dec("a", policy.Deactivate), dec("b", policy.Deactivate), dec("c", policy.Keep)}},
			{At: at.AddDate(0, 0, 14), Decisions: []domain.KeyDecision{dec("a", policy.Delete), dec("b", policy.Deactivate), dec("c", policy.Exempt)}},
			{At: at.AddDate(0, 0, 21), Decisions: []domain.KeyDecision{dec("b", policy.Deactivate), dec("c", policy.Delete)}},
		},
	}
	f := buildForecast(in, at, newStoreNames(nil))
	var got []int
	for _, w := range f.Weeks {
		got = append(got, w.Count)
	}
	if diff := cmp.Diff([]int{1, 1, 1}, got); diff != "" {
		t.Errorf("counts (-want +got):\n%s", diff)
	}
	if f.Weeks[0].From != "2026-06-01" || f.Weeks[2].To != "2026-06-22" {
		t.Errorf("weeks run %s.. and ..%s", f.Weeks[0].From, f.Weeks[2].To)
	}
}
