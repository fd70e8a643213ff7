package lambda_test

import (
	"fmt"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/keysweep/keysweep/internal/domain"
)

// A key 3 days from stale: one warning e-mail over three daily runs and
// two duplicate deliveries; its deactivation and its deletion each one
// e-mail; the team's subscriber gets every run summary and action with
// their attributes; Security Hub shows the finding FAILED, then RESOLVED
// and ARCHIVED once the key is deleted.
func TestNoticesThroughTheHandler(t *testing.T) {
	n := newNoticeEnv(t)
	n.user("alice", "/", map[string]string{"owner-email": "alice@example.com"})
	id := n.key("alice", 88, 1)
	n.user("bob", "/", nil)
	n.key("bob", 10, 1)
	n.putPolicy(noticePolicy)

	before := n.emu.Calls(t)
	for day := range 3 {
		n.at(day)
		ev := n.scheduled()
		n.sweep(ev)
		if day < 2 {
			if sum := n.sweep(ev); !sum.Duplicate { // a duplicate delivery
				t.Fatalf("day %d: the second delivery was not a duplicate", day)
			}
		}
		if day == 0 {
			logCalls(t, "first run with a warning", before, n.emu.Calls(t))
		}
	}
	warning := "alice@example.com: keysweep: access key " + id + " of alice becomes stale on " + n.now.Add(3*24*time.Hour).UTC().Format(time.DateOnly) + " (in 3 days)"
	if diff := cmp.Diff([]string{warning}, n.mails()); diff != "" {
		t.Fatalf("mail after three days (-want +got):\n%s", diff)
	}
	if got := n.finding(id); got != "FAILED NEW ACTIVE" {
		t.Errorf("finding while soon stale: %s", got)
	}
	summaries := []string{"run-summary 123456789012 aws", "run-summary 123456789012 aws", "run-summary 123456789012 aws"}
	if diff := cmp.Diff(summaries, n.team()); diff != "" {
		t.Errorf("team messages (-want +got):\n%s", diff)
	}

	n.at(3) // stale: deactivated
	before = n.emu.Calls(t)
	n.sweep(n.scheduled())
	logCalls(t, "run with a deactivation", before, n.emu.Calls(t))
	if n.state()[id] != "Inactive" {
		t.Fatalf("not deactivated: %v", n.state())
	}
	n.at(11) // 7 days after: deleted
	sum := n.sweep(n.scheduled())
	if _, ok := n.state()[id]; ok || sum.Counts[domain.CountDeleted] != 1 {
		t.Fatalf("not deleted: %v %v", n.state(), sum.Counts)
	}
	n.sweep(n.scheduled())
	var subjects []string
	for _, m := range n.mails() {
		subjects = append(subjects, m[strings.Index(m, ": ")+2:])
	}
	for _, want := range []string{"becomes stale on", "was deactivated; it will be deleted on", "was deleted"} {
		count := 0
		for _, s := range subjects {
			if strings.Contains(s, want) {
				count++
			}
		}
		if count != 1 {
			t.Errorf("%d e-mails %q, want 1: %v", count, want, subjects)
		}
	}
	if len(subjects) != 3 {
		t.Errorf("e-mails %v, want 3", subjects)
	}
	team := n.team()
	want := []string{"deactivated 123456789012 aws alice", "deleted 123456789012 aws alice",
		"run-summary 123456789012 aws", "run-summary 123456789012 aws", "run-summary 123456789012 aws"}
	if diff := cmp.Diff(want, team); diff != "" {
		t.Errorf("team messages (-want +got):\n%s", diff)
	}
	if got := n.finding(id); got != "PASSED RESOLVED ARCHIVED" {
		t.Errorf("finding after deletion: %s", got)
	}
	wantLog := []string{"warning email sending", "warning email sent", "deactivated email sending", "deactivated email sent",
		"deactivated sns sending", "deactivated sns sent", "deleted email sending", "deleted email sent", "deleted sns sending", "deleted sns sent"}
	if diff := cmp.Diff(wantLog, n.notices(id)); diff != "" {
		t.Errorf("notice records (-want +got):\n%s", diff)
	}
	if strings.Contains(n.metrics.String(), `"NoticesFailed":1`) {
		t.Errorf("a notice failed: %s", n.metrics.String())
	}
}

// logCalls records what a run cost in emulator calls.
func logCalls(t *testing.T, what string, before, after map[string]int) {
	t.Helper()
	var parts []string
	for op, c := range after {
		if d := c - before[op]; d > 0 {
			parts = append(parts, fmt.Sprintf("%s %d", op, d))
		}
	}
	sort.Strings(parts)
	t.Logf("%s: %s", what, strings.Join(parts, ", "))
}

// Bad input never blocks or triggers an action: the key is deactivated,
// the failure is on the notice record, counted on the run and in the
// NoticesFailed metric.
func TestBadNoticeInputOnTheEmulator(t *testing.T) {
	for _, tc := range []struct {
		name  string
		tag   string
		setup func(*noticeEnv)
		want  []string
	}{
		{name: "owner tag not an address", tag: "alice at example",
			want: []string{"deactivated email failed", "deactivated sns sending", "deactivated sns sent"}},
		{name: "unverified sender", tag: "alice@example.com",
			setup: func(n *noticeEnv) { n.cfg.Sender = "keysweep@unverified.example.net" },
			want:  []string{"deactivated email sending", "deactivated email failed", "deactivated sns sending", "deactivated sns sent"}},
		{name: "missing topic", tag: "alice@example.com",
			setup: func(n *noticeEnv) { n.cfg.TopicARN = "arn:aws:sns:us-east-1:123456789012:no-such-topic" },
			want:  []string{"deactivated email sending", "deactivated email sent", "deactivated sns sending", "deactivated sns failed"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			n := newNoticeEnv(t)
			if tc.setup != nil {
				tc.setup(n)
				n.rewire()
			}
			n.user("alice", "/", map[string]string{"owner-email": tc.tag})
			id := n.key("alice", 400, 1)
			n.putPolicy(noticePolicy)
			sum := n.sweep(n.scheduled())
			if n.state()[id] != "Inactive" || sum.Outcome != domain.RunCompleted {
				t.Fatalf("key %s, outcome %s, errors %v", n.state()[id], sum.Outcome, sum.Errors)
			}
			if diff := cmp.Diff(tc.want, n.notices(id)); diff != "" {
				t.Errorf("notice records (-want +got):\n%s", diff)
			}
			failed := sum.Counts[domain.CountNoticesFailed]
			if failed < 1 || sum.Counts[domain.CountErrors] != 0 {
				t.Errorf("counts %v: want the failure counted, and no error", sum.Counts)
			}
			if !strings.Contains(n.metrics.String(), fmt.Sprintf(`"NoticesFailed":%d`, failed)) ||
				!strings.Contains(n.metrics.String(), `"Dimensions":[[],["Function"]]`) {
				t.Errorf("metrics %s, want NoticesFailed %d", n.metrics.String(), failed)
			}
			recs, _ := n.deps.Journal.ByKey(n.ctx(), id)
			for _, r := range recs {
				if r.Notice != nil && r.Notice.Status == domain.NoticeFailed && r.Notice.Error == "" {
					t.Errorf("failed notice without its error: %+v", r.Notice)
				}
			}
		})
	}
}

// Two runs at once (two events, two handlers) send each notice once.
func TestTwoRunsAtOnceSendEachNoticeOnce(t *testing.T) {
	n := newNoticeEnv(t)
	var ids []string
	for i := range 4 {
		name := fmt.Sprintf("user%d", i)
		n.user(name, "/", map[string]string{"owner-email": name + "@example.com"})
		ids = append(ids, n.key(name, 400, 1), n.key(name, 88, 1))
	}
	n.putPolicy(noticePolicy)
	var wg sync.WaitGroup
	for range 2 {
		ev := n.scheduled()
		wg.Go(func() { n.sweep(ev) })
	}
	wg.Wait()
	mails := n.mails()
	seen := map[string]int{}
	for _, m := range mails {
		seen[m]++
	}
	for m, c := range seen {
		if c != 1 {
			t.Errorf("%d times: %s", c, m)
		}
	}
	if len(mails) != 8 { // a deactivation and a warning for each user
		t.Errorf("%d e-mails, want 8: %v", len(mails), mails)
	}
	actions := 0
	for _, m := range n.team() {
		if strings.HasPrefix(m, "deactivated ") {
			actions++
		}
	}
	if actions != 4 {
		t.Errorf("%d team messages of deactivations, want 4", actions)
	}
}
