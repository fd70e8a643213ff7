package policy

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

func boolP(b bool) *bool { return &b }

const notifyDoc = `
version: notify-1
mode: enforce
maxKeyAgeDays: 90
notify:
  warnDays: [14, 3]
  ownerEmailTag: owner-email
  fallbackEmail: security@example.com
  events: [warning, deactivated]
  sender: keysweep@example.com
  teamTopic: false
  warnInAudit: true
`

func TestParseNotify(t *testing.T) {
	p := mustParse(t, notifyDoc)
	want := &Notify{
		WarnDays:      []int{14, 3},
		OwnerEmailTag: "owner-email",
		FallbackEmail: "security@example.com",
		Events:        []Event{EventWarning, EventDeactivated},
		Sender:        "keysweep@example.com",
		TeamTopic:     boolP(false),
		WarnInAudit:   true,
	}
	if diff := cmp.Diff(want, p.Notify); diff != "" {
		t.Errorf("notify (-want +got):\n%s", diff)
	}

	t.Run("item round trip", func(t *testing.T) { checkItemTrip(t, p) })

	t.Run("empty section takes the defaults", func(t *testing.T) {
		p := mustParse(t, minimalDoc+"notify: {}\n")
		n := p.Notify
		if n == nil {
			t.Fatal("notify: {} parsed to nil")
		}
		if diff := cmp.Diff([]int{14, 3}, n.Warnings()); diff != "" {
			t.Errorf("Warnings (-want +got):\n%s", diff)
		}
		for _, e := range Events {
			if !n.Tells(e) {
				t.Errorf("Tells(%s) = false, want every event by default", e)
			}
		}
		if !n.PublishesToTeam(true) || n.PublishesToTeam(false) {
			t.Error("teamTopic absent must publish exactly when the stack has a topic")
		}
		if diff := cmp.Diff(p, mustFromItem(t, p.Item())); diff != "" {
			t.Errorf("item round trip (-want +got):\n%s", diff)
		}
	})

	t.Run("wrong types named by path", func(t *testing.T) {
		_, err := Parse([]byte(minimalDoc + "notify: {warnDays: 14, teamTopic: \"yes\", sendr: a@b.example}\n"))
		for _, w := range []string{"notify.warnDays: must be a list", "notify.teamTopic: must be true or false", "notify.sendr: unknown field"} {
			if err == nil || !strings.Contains(err.Error(), w) {
				t.Errorf("Parse error = %v, want it to contain %q", err, w)
			}
		}
	})
}

func TestValidateNotify(t *testing.T) {
	tests := []struct {
		name string
		n    Notify
		want []Problem
	}{
		{name: "empty", n: Notify{}},
		{name: "full", n: Notify{
			WarnDays: []int{90, 1, 5, 30, 14}, OwnerEmailTag: "owner:email", FallbackEmail: "sec-team+keys@corp.example.co.uk",
			Events: []Event{EventRevoked}, Sender: "no-reply@mail.example.com", TeamTopic: boolP(true),
		}},
		{name: "warn days out of range and duplicate", n: Notify{WarnDays: []int{0, 91, 14, -3, 14}}, want: []Problem{
			{"notify.warnDays[0]", "must be between 1 and 90, got 0"},
			{"notify.warnDays[1]", "must be between 1 and 90, got 91"},
			{"notify.warnDays[3]", "must be between 1 and 90, got -3"},
			{"notify.warnDays[4]", "duplicate of notify.warnDays[2]"},
		}},
		{name: "too many warn days", n: Notify{WarnDays: []int{1, 2, 3, 4, 5, 6}}, want: []Problem{
			{"notify.warnDays", "at most 5 entries, got 6"},
		}},
		{name: "owner tag reserved", n: Notify{OwnerEmailTag: "aws:email"}, want: []Problem{
			{"notify.ownerEmailTag", `must not start with the reserved prefix "aws:", got "aws:email"`},
		}},
		{name: "display name", n: Notify{FallbackEmail: "Security <security@example.com>"}, want: []Problem{
			{"notify.fallbackEmail", `must be an e-mail address (white space), got "Security <security@example.com>"`},
		}},
		{name: "angle brackets", n: Notify{Sender: "<keysweep@example.com>"}, want: []Problem{
			{"notify.sender", `must be an e-mail address (a bare address only, without a display name, quotes or angle brackets), got "<keysweep@example.com>"`},
		}},
		{name: "header injection", n: Notify{Sender: "keysweep@example.com\r\nBcc: x@evil.example"}, want: []Problem{
			{"notify.sender", `must be an e-mail address (control character U+000D), got "keysweep@example.com\r\nBcc: x@evil.example"`},
		}},
		{name: "no dotted domain", n: Notify{FallbackEmail: "root@localhost"}, want: []Problem{
			{"notify.fallbackEmail", `must be an e-mail address (domain "localhost" is not a dotted domain name), got "root@localhost"`},
		}},
		{name: "not an address", n: Notify{FallbackEmail: "security"}, want: []Problem{
			{"notify.fallbackEmail", `must be an e-mail address (missing '@' or angle-addr), got "security"`},
		}},
		{name: "events", n: Notify{Events: []Event{"warning", "warned", "warning"}}, want: []Problem{
			{"notify.events[1]", `must be one of "warning", "deactivated", "deleted", "revoked", got "warned"`},
			{"notify.events[2]", "duplicate of notify.events[0]"},
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			p := testPolicy()
			p.Notify = &tc.n
			got := problemsOf(t, p.Validate())
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("problems (-want +got):\n%s", diff)
			}
		})
	}
}

func TestCheckEmail(t *testing.T) {
	tests := []struct {
		in   string
		want string // "" valid; else part of the message
	}{
		{"alice@example.com", ""},
		{"a.b-c+d@sub.example.org", ""},
		{"o'brien@example.ie", ""},
		{"", "empty"},
		{"alice", "missing '@'"},
		{"alice@", "missing '@'"},
		{"@example.com", "missing word in phrase"},
		{"Alice <alice@example.com>", "white space"},
		{"<alice@example.com>", "a bare address only"},
		{`"alice"@example.com`, "a bare address only"},
		{"alice@example.com (work)", "white space"},
		{"alice@example.com,bob@example.com", "expected single address"},
		{"alice@exämple.com", "non-ASCII"},
		{"alice@example.com\x00", "control character U+0000"},
		{"alice@[192.0.2.1]", "not a dotted domain name"},
		{"alice@com", "not a dotted domain name"},
		{strings.Repeat("a", 250) + "@x.io", "longer than 254"},
	}
	for _, tc := range tests {
		t.Run(tc.in, func(t *testing.T) {
			err := CheckEmail(tc.in)
			switch {
			case tc.want == "" && err != nil:
				t.Errorf("CheckEmail(%q) = %v, want nil", tc.in, err)
			case tc.want != "" && (err == nil || !errors.Is(err, ErrBadEmail) || !strings.Contains(err.Error(), tc.want)):
				t.Errorf("CheckEmail(%q) = %v, want ErrBadEmail saying %q", tc.in, err, tc.want)
			}
		})
	}
}

// TestStaleAt holds StaleAt to Evaluate's judgement: just before the
// instant the key is not stale, at it, it is.
func TestStaleAt(t *testing.T) {
	created := time.Date(2026, 9, 1, 10, 30, 0, 0, time.UTC)
	used := time.Date(2026, 10, 1, 8, 0, 0, 0, time.UTC)
	p := testPolicy() // 90 days age, 45 inactive
	p.Overrides = []Override{
		{Name: "svc", PathPrefix: "/service/", MaxKeyAgeDays: intP(0), MaxInactiveDays: intP(30)},
		{PathPrefix: "/age-only/", MaxInactiveDays: intP(0)},
	}
	tests := []struct {
		name    string
		key     Key
		wantAt  time.Time
		wantWhy string
	}{
		{
			name:    "age rule first",
			key:     Key{UserName: "u", UserPath: "/age-only/", Status: StatusActive, CreatedAt: created, LastUsedAt: &used},
			wantAt:  created.Add(91 * day),
			wantWhy: "created 2026-09-01, limit 90 days: stale on 2026-12-01 (override /age-only/)",
		},
		{
			name:    "inactivity first",
			key:     Key{UserName: "u", UserPath: "/", Status: StatusActive, CreatedAt: created, LastUsedAt: &used},
			wantAt:  used.Add(46 * day),
			wantWhy: "last used 2026-10-01, limit 45 days without use: stale on 2026-11-16 unless used before",
		},
		{
			name:    "never used counts from creation",
			key:     Key{UserName: "u", UserPath: "/", Status: StatusActive, CreatedAt: created},
			wantAt:  created.Add(46 * day),
			wantWhy: "never used, created 2026-09-01, limit 45 days without use: stale on 2026-10-17 unless used before",
		},
		{
			name:    "override",
			key:     Key{UserName: "u", UserPath: "/service/", Status: StatusActive, CreatedAt: created, LastUsedAt: &used},
			wantAt:  used.Add(31 * day),
			wantWhy: "last used 2026-10-01, limit 30 days without use: stale on 2026-11-01 unless used before (override svc)",
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			at, why, ok := p.StaleAt(tc.key)
			if !ok || !at.Equal(tc.wantAt) || why != tc.wantWhy {
				t.Fatalf("StaleAt = %s, %q, %v; want %s, %q", at, why, ok, tc.wantAt, tc.wantWhy)
			}
			if d := p.Evaluate(tc.key, at.Add(-time.Nanosecond)); d.Stale {
				t.Errorf("Evaluate just before %s is stale: %s", at, d.Reason)
			}
			if d := p.Evaluate(tc.key, at); !d.Stale {
				t.Errorf("Evaluate at %s is not stale: %s", at, d.Reason)
			}
		})
	}
}

func TestWarningDue(t *testing.T) {
	staleAt := time.Date(2026, 12, 1, 10, 30, 0, 0, time.UTC)
	n := &Notify{WarnDays: []int{3, 14}}
	tests := []struct {
		name   string
		n      *Notify
		now    time.Time
		want   int
		wantOK bool
	}{
		{"before the first window", n, staleAt.Add(-14*day - time.Second), 0, false},
		{"14 days ahead", n, staleAt.Add(-14 * day), 14, true},
		{"5 days ahead", n, staleAt.Add(-5 * day), 14, true},
		{"3 days ahead", n, staleAt.Add(-3 * day), 3, true},
		{"just before", n, staleAt.Add(-time.Nanosecond), 3, true},
		{"stale", n, staleAt, 0, false},
		{"defaults", &Notify{}, staleAt.Add(-10 * day), 14, true},
		{"warnings off", &Notify{Events: []Event{EventDeleted}}, staleAt.Add(-day), 0, false},
		{"no section", nil, staleAt.Add(-day), 0, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, ok := tc.n.WarningDue(staleAt, tc.now)
			if got != tc.want || ok != tc.wantOK {
				t.Errorf("WarningDue = %d, %v; want %d, %v", got, ok, tc.want, tc.wantOK)
			}
		})
	}
}

func TestNotifyPredicates(t *testing.T) {
	var none *Notify
	if none.Tells(EventWarning) || none.PublishesToTeam(true) || none.Warnings() != nil {
		t.Error("a nil section must tell no one")
	}
	n := &Notify{Events: []Event{EventDeleted}, TeamTopic: boolP(false)}
	if n.Tells(EventWarning) || !n.Tells(EventDeleted) || n.PublishesToTeam(true) {
		t.Errorf("predicates wrong for %+v", n)
	}
}

// Owners are warned in enforce mode, and in audit mode only when the
// policy asks; a key is soon stale within the largest warning day.
func TestWarnsInAndHorizon(t *testing.T) {
	for _, tc := range []struct {
		name        string
		n           *Notify
		enforce     bool
		audit       bool
		horizonDays int
	}{
		{"no section", nil, false, false, 14},
		{"defaults", &Notify{}, true, false, 14},
		{"warn in audit", &Notify{WarnInAudit: true, WarnDays: []int{3, 30}}, true, true, 30},
		{"warnings not told", &Notify{Events: []Event{EventDeleted}, WarnInAudit: true}, false, false, 14},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := tc.n.WarnsIn(ModeEnforce); got != tc.enforce {
				t.Errorf("WarnsIn(enforce) = %v, want %v", got, tc.enforce)
			}
			if got := tc.n.WarnsIn(ModeAudit); got != tc.audit {
				t.Errorf("WarnsIn(audit) = %v, want %v", got, tc.audit)
			}
			if got := tc.n.Horizon(); got != time.Duration(tc.horizonDays)*24*time.Hour {
				t.Errorf("Horizon = %v, want %d days", got, tc.horizonDays)
			}
		})
	}
}

func TestDeleteAfterDaysFor(t *testing.T) {
	p, err := Parse([]byte("version: v\nmode: enforce\nmaxKeyAgeDays: 90\ndeleteAfterDays: 7\noverrides:\n  - {name: svc, pathPrefix: /service/, deleteAfterDays: 14}\n"))
	if err != nil {
		t.Fatal(err)
	}
	if got := p.DeleteAfterDaysFor(Key{UserPath: "/"}); got != 7 {
		t.Errorf("default = %d, want 7", got)
	}
	if got := p.DeleteAfterDaysFor(Key{UserPath: "/service/"}); got != 14 {
		t.Errorf("override = %d, want 14", got)
	}
}
