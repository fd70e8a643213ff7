package policy

import (
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

var now = time.Date(2026, 11, 22, 12, 0, 0, 0, time.UTC)

// ago is n days before now.
func ago(n int) time.Time { return now.Add(-time.Duration(n) * day) }

func agoP(n int) *time.Time { t := ago(n); return &t }

func intP(n int) *int { return &n }

func timeP(t time.Time) *time.Time { return &t }

func testPolicy() *Policy {
	return &Policy{
		Version: "t1", Mode: ModeEnforce,
		MaxKeyAgeDays: 90, MaxInactiveDays: 45, DeleteAfterDays: 7,
		Exemptions: Exemptions{
			Users:        []string{"break-glass"},
			AccessKeyIDs: []string{"AKIAEXEMPT"},
			PathPrefixes: []string{"/exempt/"},
			Tag:          "keysweep:exempt",
		},
	}
}

func TestEvaluate(t *testing.T) {
	overrides := []Override{
		{PathPrefix: "/service/", MaxKeyAgeDays: intP(0), MaxInactiveDays: intP(30)},
		{Name: "ops", Tag: &TagMatch{Key: "team", Value: "ops"}, MaxKeyAgeDays: intP(365), DeleteAfterDays: intP(0)},
		{Tag: &TagMatch{Key: "contractor"}, MaxKeyAgeDays: intP(30)},
		// Never reached for /service/ users: the first match wins.
		{Name: "shadowed", PathPrefix: "/service/", MaxInactiveDays: intP(1)},
	}
	active := func(created int, lastUsed *time.Time) Key {
		return Key{UserName: "alice", UserPath: "/", AccessKeyID: "AKIA1", Status: StatusActive, CreatedAt: ago(created), LastUsedAt: lastUsed}
	}
	withTags := func(k Key, tags map[string]string) Key { k.UserTags = tags; return k }
	withPath := func(k Key, path string) Key { k.UserPath = path; return k }
	inactive := func(k Key, deactivated *time.Time) Key {
		k.Status, k.DeactivatedAt = StatusInactive, deactivated
		return k
	}

	tests := []struct {
		name      string
		overrides []Override
		deleteN   *int // replaces DeleteAfterDays
		key       Key
		want      Decision
	}{
		{
			name: "fresh key is kept",
			key:  active(10, agoP(2)),
			want: Decision{Verdict: Keep, Rule: "default", AgeDays: 10, InactiveDays: 2,
				Reason: "created 10 days ago, last used 2 days ago; within limits 90/45"},
		},
		{
			name: "exactly at the limit is not stale",
			key:  active(90, agoP(45)),
			want: Decision{Verdict: Keep, Rule: "default", AgeDays: 90, InactiveDays: 45,
				Reason: "created 90 days ago, last used 45 days ago; within limits 90/45"},
		},
		{
			name: "whole days: 90 days and 23 hours is 90",
			key:  active(0, nil).withCreated(ago(90).Add(-23 * time.Hour)).withUsed(agoP(1)),
			want: Decision{Verdict: Keep, Rule: "default", AgeDays: 90, InactiveDays: 1,
				Reason: "created 90 days ago, last used 1 day ago; within limits 90/45"},
		},
		{
			name: "too old",
			key:  active(400, agoP(1)),
			want: Decision{Verdict: Deactivate, Rule: "default", AgeDays: 400, InactiveDays: 1, Stale: true,
				Reason: "created 400 days ago, limit 90; deactivate, delete after 7 days"},
		},
		{
			name: "unused too long",
			key:  active(80, agoP(61)),
			want: Decision{Verdict: Deactivate, Rule: "default", AgeDays: 80, InactiveDays: 61, Stale: true,
				Reason: "last used 61 days ago, limit 45; deactivate, delete after 7 days"},
		},
		{
			name: "both rules fail",
			key:  active(400, agoP(61)),
			want: Decision{Verdict: Deactivate, Rule: "default", AgeDays: 400, InactiveDays: 61, Stale: true,
				Reason: "created 400 days ago, limit 90; last used 61 days ago, limit 45; deactivate, delete after 7 days"},
		},
		{
			name: "never used counts from creation",
			key:  active(50, nil),
			want: Decision{Verdict: Deactivate, Rule: "default", AgeDays: 50, InactiveDays: 50, Stale: true,
				Reason: "never used, created 50 days ago, limit 45; deactivate, delete after 7 days"},
		},
		{
			name: "never used, young",
			key:  active(3, nil),
			want: Decision{Verdict: Keep, Rule: "default", AgeDays: 3, InactiveDays: 3,
				Reason: "created 3 days ago, never used; within limits 90/45"},
		},
		{
			name: "clock skew reads as 0 days",
			key:  active(0, nil).withCreated(now.Add(time.Hour)).withUsed(timeP(now.Add(time.Minute))),
			want: Decision{Verdict: Keep, Rule: "default",
				Reason: "created 0 days ago, last used 0 days ago; within limits 90/45"},
		},
		{
			name:    "deleteAfterDays 0 deletes an active stale key",
			deleteN: intP(0),
			key:     active(400, agoP(1)),
			want: Decision{Verdict: Delete, Rule: "default", AgeDays: 400, InactiveDays: 1, Stale: true,
				Reason: "created 400 days ago, limit 90; delete now (deleteAfterDays 0)"},
		},
		{
			name:    "deleteAfterDays 1 reads in the singular",
			deleteN: intP(1),
			key:     active(400, agoP(1)),
			want: Decision{Verdict: Deactivate, Rule: "default", AgeDays: 400, InactiveDays: 1, Stale: true,
				Reason: "created 400 days ago, limit 90; deactivate, delete after 1 day"},
		},

		// Exemptions.
		{
			name: "exempt user, still stale",
			key:  active(400, agoP(61)).withUser("break-glass"),
			want: Decision{Verdict: Exempt, Rule: "default", AgeDays: 400, InactiveDays: 61, Stale: true,
				Reason: "exempt: user break-glass in exemptions.users (created 400 days ago, limit 90; last used 61 days ago, limit 45)"},
		},
		{
			name: "exempt access key",
			key:  active(10, agoP(2)).withID("AKIAEXEMPT"),
			want: Decision{Verdict: Exempt, Rule: "default", AgeDays: 10, InactiveDays: 2,
				Reason: "exempt: access key AKIAEXEMPT in exemptions.accessKeyIds (created 10 days ago, last used 2 days ago; within limits 90/45)"},
		},
		{
			name: "exempt path",
			key:  withPath(active(400, agoP(1)), "/exempt/robots/"),
			want: Decision{Verdict: Exempt, Rule: "default", AgeDays: 400, InactiveDays: 1, Stale: true,
				Reason: "exempt: user path /exempt/robots/ under /exempt/ (created 400 days ago, limit 90)"},
		},
		{
			name: "exempt tag true, any case",
			key:  withTags(active(60, agoP(61)), map[string]string{"keysweep:exempt": "TRUE"}),
			want: Decision{Verdict: Exempt, Rule: "default", AgeDays: 60, InactiveDays: 61, Stale: true,
				Reason: "exempt: user tag keysweep:exempt=TRUE (last used 61 days ago, limit 45)"},
		},
		{
			name: "exempt tag until a future time",
			key:  withTags(active(60, agoP(61)), map[string]string{"keysweep:exempt": "2027-01-31T00:00:00Z"}),
			want: Decision{Verdict: Exempt, Rule: "default", AgeDays: 60, InactiveDays: 61, Stale: true,
				ExemptUntil: timeP(time.Date(2027, 1, 31, 0, 0, 0, 0, time.UTC)),
				Reason:      "exempt: user tag keysweep:exempt until 2027-01-31T00:00:00Z (last used 61 days ago, limit 45)"},
		},
		{
			name: "exempt tag in the past has expired",
			key:  withTags(active(60, agoP(61)), map[string]string{"keysweep:exempt": "2026-10-01T00:00:00+02:00"}),
			want: Decision{Verdict: Deactivate, Rule: "default", AgeDays: 60, InactiveDays: 61, Stale: true,
				Reason: "last used 61 days ago, limit 45; deactivate, delete after 7 days; exemption expired 2026-09-30"},
		},
		{
			name: "exempt tag garbage holds the key as exempt",
			key:  withTags(active(60, agoP(61)), map[string]string{"keysweep:exempt": "yes please"}),
			want: Decision{Verdict: Exempt, Rule: "default", AgeDays: 60, InactiveDays: 61, Stale: true,
				Reason: `exempt: user tag keysweep:exempt="yes please" is not "true", "false" or an RFC 3339 time; held as exempt until it is fixed (last used 61 days ago, limit 45)`},
		},
		{
			name: "exempt tag false is not an exemption",
			key:  withTags(active(10, agoP(1)), map[string]string{"keysweep:exempt": "false"}),
			want: Decision{Verdict: Keep, Rule: "default", AgeDays: 10, InactiveDays: 1,
				Reason: `created 10 days ago, last used 1 day ago; within limits 90/45; exemption tag keysweep:exempt=false: not exempt`},
		},
		{
			name: "exempt tag false on a stale key",
			key:  withTags(active(60, agoP(61)), map[string]string{"keysweep:exempt": "FALSE"}),
			want: Decision{Verdict: Deactivate, Rule: "default", AgeDays: 60, InactiveDays: 61, Stale: true,
				Reason: `last used 61 days ago, limit 45; deactivate, delete after 7 days; exemption tag keysweep:exempt=FALSE: not exempt`},
		},
		{
			name: "exempt with an override names it",
			key:  withPath(active(60, agoP(31)), "/service/").withUser("break-glass"),
			want: Decision{Verdict: Exempt, Rule: "path /service/", AgeDays: 60, InactiveDays: 31, Stale: true,
				Reason: "exempt: user break-glass in exemptions.users (last used 31 days ago, limit 30, override /service/)"},
		},

		// Overrides.
		{
			name: "unnamed path override",
			key:  withPath(active(400, agoP(31)), "/service/batch/"),
			want: Decision{Verdict: Deactivate, Rule: "path /service/", AgeDays: 400, InactiveDays: 31, Stale: true,
				Reason: "last used 31 days ago, limit 30 (override /service/); deactivate, delete after 7 days"},
		},
		{
			name: "path override turns off the age rule",
			key:  withPath(active(400, agoP(2)), "/service/"),
			want: Decision{Verdict: Keep, Rule: "path /service/", AgeDays: 400, InactiveDays: 2,
				Reason: "created 400 days ago, last used 2 days ago; within limits off/30 (override /service/)"},
		},
		{
			name: "named tag override with value, delete at once",
			key:  withTags(active(400, agoP(2)), map[string]string{"team": "ops"}),
			want: Decision{Verdict: Delete, Rule: "ops", AgeDays: 400, InactiveDays: 2, Stale: true,
				Reason: "created 400 days ago, limit 365 (override ops); delete now (deleteAfterDays 0)"},
		},
		{
			name: "tag override value must match",
			key:  withTags(active(100, agoP(2)), map[string]string{"team": "dev"}),
			want: Decision{Verdict: Deactivate, Rule: "default", AgeDays: 100, InactiveDays: 2, Stale: true,
				Reason: "created 100 days ago, limit 90; deactivate, delete after 7 days"},
		},
		{
			name: "unnamed tag override, any value",
			key:  withTags(active(31, agoP(2)), map[string]string{"contractor": ""}),
			want: Decision{Verdict: Deactivate, Rule: "tag contractor", AgeDays: 31, InactiveDays: 2, Stale: true,
				Reason: "created 31 days ago, limit 30 (override tag contractor); deactivate, delete after 7 days"},
		},
		{
			name: "first match wins: path before tag",
			key:  withTags(withPath(active(31, agoP(2)), "/service/"), map[string]string{"contractor": "x", "team": "ops"}),
			want: Decision{Verdict: Keep, Rule: "path /service/", AgeDays: 31, InactiveDays: 2,
				Reason: "created 31 days ago, last used 2 days ago; within limits off/30 (override /service/)"},
		},
		{
			name: "first match wins: ops before contractor",
			key:  withTags(active(31, agoP(2)), map[string]string{"contractor": "x", "team": "ops"}),
			want: Decision{Verdict: Keep, Rule: "ops", AgeDays: 31, InactiveDays: 2,
				Reason: "created 31 days ago, last used 2 days ago; within limits 365/45 (override ops)"},
		},

		// Inactive keys.
		{
			name: "inactive, not stale, kept",
			key:  inactive(active(10, agoP(2)), agoP(1)),
			want: Decision{Verdict: Keep, Rule: "default", AgeDays: 10, InactiveDays: 2,
				Reason: "inactive; created 10 days ago, last used 2 days ago; within limits 90/45"},
		},
		{
			name: "inactive stale, delete clock unknown, starts now",
			key:  inactive(active(400, agoP(100)), nil),
			want: Decision{Verdict: Keep, Rule: "default", AgeDays: 400, InactiveDays: 100, Stale: true,
				Reason: "created 400 days ago, limit 90; last used 100 days ago, limit 45; inactive, keysweep starts the 7 day delete clock now"},
		},
		{
			name: "inactive stale, delete not yet due",
			key:  inactive(active(400, agoP(1)), agoP(3)),
			want: Decision{Verdict: Keep, Rule: "default", AgeDays: 400, InactiveDays: 1, Stale: true,
				DeleteDue: timeP(ago(3).Add(7 * day)),
				Reason:    "created 400 days ago, limit 90; inactive, delete due 2026-11-26"},
		},
		{
			name: "inactive stale, delete due exactly now",
			key:  inactive(active(400, agoP(1)), agoP(7)),
			want: Decision{Verdict: Delete, Rule: "default", AgeDays: 400, InactiveDays: 1, Stale: true,
				DeleteDue: timeP(now),
				Reason:    "created 400 days ago, limit 90; inactive since 2026-11-15 (7 days), delete after 7"},
		},
		{
			name: "inactive stale, delete overdue",
			key:  inactive(active(400, agoP(1)), agoP(8)),
			want: Decision{Verdict: Delete, Rule: "default", AgeDays: 400, InactiveDays: 1, Stale: true,
				DeleteDue: timeP(ago(1)),
				Reason:    "created 400 days ago, limit 90; inactive since 2026-11-14 (8 days), delete after 7"},
		},
		{
			name:    "inactive stale, deleteAfterDays 0 deletes",
			deleteN: intP(0),
			key:     inactive(active(400, agoP(1)), nil),
			want: Decision{Verdict: Delete, Rule: "default", AgeDays: 400, InactiveDays: 1, Stale: true,
				Reason: "created 400 days ago, limit 90; inactive, delete now (deleteAfterDays 0)"},
		},
		{
			name: "unknown status is kept",
			key:  active(400, agoP(1)).withStatus(""),
			want: Decision{Verdict: Keep, Rule: "default", AgeDays: 400, InactiveDays: 1, Stale: true,
				Reason: `status "" unknown, not acted on; created 400 days ago, limit 90`},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			p := testPolicy()
			p.Overrides = overrides
			if tc.deleteN != nil {
				p.DeleteAfterDays = *tc.deleteN
			}
			if err := p.Validate(); err != nil {
				t.Fatalf("test policy: %v", err)
			}
			got := p.Evaluate(tc.key, now)
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("Evaluate mismatch (-want +got):\n%s", diff)
			}
		})
	}
}

// Each key is judged on its own: one user's stale key does not drag its
// fresh key along.
func TestEvaluateEachKeyAlone(t *testing.T) {
	p := testPolicy()
	stale := Key{UserName: "bob", UserPath: "/", AccessKeyID: "AKIAOLD", Status: StatusActive, CreatedAt: ago(200), LastUsedAt: agoP(100)}
	fresh := Key{UserName: "bob", UserPath: "/", AccessKeyID: "AKIANEW", Status: StatusActive, CreatedAt: ago(5), LastUsedAt: agoP(1)}
	got := []Verdict{p.Evaluate(stale, now).Verdict, p.Evaluate(fresh, now).Verdict}
	want := []Verdict{Deactivate, Keep}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("verdicts (-want +got):\n%s", diff)
	}
}

// The delete clock across runs: deactivated, kept until due, then deleted.
func TestEvaluateLifecycle(t *testing.T) {
	p := testPolicy()
	k := Key{UserName: "carol", UserPath: "/", AccessKeyID: "AKIA2", Status: StatusActive, CreatedAt: ago(100), LastUsedAt: agoP(50)}
	var got []Verdict
	d := p.Evaluate(k, now)
	got = append(got, d.Verdict)
	k.Status, k.DeactivatedAt = StatusInactive, timeP(now)
	for _, later := range []int{0, 6, 7} {
		got = append(got, p.Evaluate(k, now.Add(time.Duration(later)*day)).Verdict)
	}
	want := []Verdict{Deactivate, Keep, Keep, Delete}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("verdicts over time (-want +got):\n%s", diff)
	}
}

func TestNeedsTags(t *testing.T) {
	tests := []struct {
		name string
		p    Policy
		want bool
	}{
		{"none", Policy{}, false},
		{"exemption tag", Policy{Exemptions: Exemptions{Tag: "x"}}, true},
		{"path override only", Policy{Overrides: []Override{{PathPrefix: "/a/"}}}, false},
		{"tag override", Policy{Overrides: []Override{{PathPrefix: "/a/"}, {Tag: &TagMatch{Key: "t"}}}}, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := tc.p.NeedsTags(); got != tc.want {
				t.Errorf("NeedsTags() = %v, want %v", got, tc.want)
			}
		})
	}
}

func (k Key) withUser(u string) Key       { k.UserName = u; return k }
func (k Key) withID(id string) Key        { k.AccessKeyID = id; return k }
func (k Key) withStatus(s Status) Key     { k.Status = s; return k }
func (k Key) withCreated(t time.Time) Key { k.CreatedAt = t; return k }
func (k Key) withUsed(t *time.Time) Key   { k.LastUsedAt = t; return k }
