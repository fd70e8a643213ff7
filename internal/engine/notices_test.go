package engine_test

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/keysweep/keysweep/internal/domain"
	"github.com/keysweep/keysweep/internal/engine"
	"github.com/keysweep/keysweep/internal/journal/mem"
	"github.com/keysweep/keysweep/policy"
)

// fakeNotifier records what it is asked to deliver; errs make a channel
// fail, as SES or SNS would.
type fakeNotifier struct {
	mu       sync.Mutex
	ch       engine.Channels
	sent     []string // "channel kind key to"
	notices  []engine.Notice
	findings [][]engine.Finding
	emailErr error
	teamErr  error
	hubErr   error
	seq      int
}

var _ engine.Notifier = (*fakeNotifier)(nil)

func newNotifier() *fakeNotifier {
	return &fakeNotifier{ch: engine.Channels{Email: true, Topic: "arn:aws:sns:us-east-1:111122223333:team", Findings: true}}
}

func (n *fakeNotifier) Channels() engine.Channels { return n.ch }

func (n *fakeNotifier) Email(_ context.Context, to string, in engine.Notice) (string, error) {
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.emailErr != nil {
		return "", n.emailErr
	}
	n.seq++
	n.sent = append(n.sent, fmt.Sprintf("email %s %s %s", in.Kind, in.KeyID, to))
	n.notices = append(n.notices, in)
	return fmt.Sprintf("ses-%d", n.seq), nil
}

func (n *fakeNotifier) Team(_ context.Context, in engine.Notice) (string, error) {
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.teamErr != nil {
		return "", n.teamErr
	}
	n.seq++
	n.sent = append(n.sent, fmt.Sprintf("sns %s %s", in.Kind, in.KeyID))
	n.notices = append(n.notices, in)
	return fmt.Sprintf("sns-%d", n.seq), nil
}

func (n *fakeNotifier) Findings(_ context.Context, fs []engine.Finding) []engine.FindingFailure {
	n.mu.Lock()
	defer n.mu.Unlock()
	n.findings = append(n.findings, fs)
	if n.hubErr == nil {
		return nil
	}
	out := make([]engine.FindingFailure, len(fs))
	for i, f := range fs {
		out[i] = engine.FindingFailure{KeyID: f.KeyID, Err: n.hubErr}
	}
	return out
}

func (n *fakeNotifier) deliveries() []string {
	n.mu.Lock()
	defer n.mu.Unlock()
	out := append([]string(nil), n.sent...)
	sort.Strings(out)
	return out
}

// lastFindings gives the latest import's findings as "key resolution".
func (n *fakeNotifier) lastFindings() []string {
	n.mu.Lock()
	defer n.mu.Unlock()
	if len(n.findings) == 0 {
		return nil
	}
	var out []string
	for _, f := range n.findings[len(n.findings)-1] {
		res := string(f.Resolution)
		if res == "" {
			res = "open"
		}
		out = append(out, f.KeyID+" "+res)
	}
	sort.Strings(out)
	return out
}

const (
	ownerTag = "owner-email"
	soonKey  = "AKIASOON000000000001"
)

func notifyPolicy(deleteAfter int) *policy.Policy {
	p := enforcePolicy(deleteAfter)
	p.Notify = &policy.Notify{WarnDays: []int{14, 3}, OwnerEmailTag: ownerTag, FallbackEmail: "security@example.com"}
	return p
}

func notified(f engine.KeyStore, j engine.Journal, n *fakeNotifier, now time.Time) *engine.Engine {
	e := newEngine(f, j, now)
	e.Notifier = n
	return e
}

func day(n int) time.Time { return base.Add(time.Duration(n) * 24 * time.Hour) }

// noticeLog lists a key's notice records as "kind channel status".
func noticeLog(t *testing.T, j *mem.Journal, id string) []string {
	t.Helper()
	recs, err := j.ByKey(context.Background(), id)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, r := range recs {
		if n := r.Notice; n != nil {
			out = append(out, n.Kind+" "+n.Channel+" "+n.Status)
		}
	}
	return out
}

// A key 3 days from stale is warned once over three daily runs and two
// duplicate deliveries; its deactivation and its deletion are each told
// once, to the owner and the team; its finding is open, then resolved.
func TestNoticesOncePerEvent(t *testing.T) {
	f := newFake()
	f.add("alice", soonKey, 88, 1) // stale after 90 whole days: in 3 days
	f.users["alice"].tags = map[string]string{ownerTag: "alice@example.com"}
	f.add("bob", "AKIAFRESH00000000001", 10, 1)
	j, n, p := mem.New(), newNotifier(), notifyPolicy(7)
	for d := range 3 {
		for _, ev := range []string{"a", "a", "b"} { // a duplicate delivery, then another event
			run(t, notified(f, j, n, day(d)), context.Background(), p, fmt.Sprintf("day%d-%s", d, ev))
		}
	}
	if diff := cmp.Diff([]string{"email warning " + soonKey + " alice@example.com"}, n.deliveries()); diff != "" {
		t.Fatalf("deliveries over three days (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]string{soonKey + " open"}, n.lastFindings()); diff != "" {
		t.Errorf("findings while soon stale (-want +got):\n%s", diff)
	}
	if w := n.notices[0]; !w.StaleAt.Equal(day(3)) || !strings.Contains(w.StaleWhy, "limit 90 days: stale on") {
		t.Errorf("warning facts: stale at %v, why %q", w.StaleAt, w.StaleWhy)
	}

	res := run(t, notified(f, j, n, day(3)), context.Background(), p, "day3") // stale: deactivated
	if f.status(soonKey) != "Inactive" || res.Run.Counts[domain.CountNoticesSent] != 2 {
		t.Fatalf("day 3: status %s counts %v", f.status(soonKey), res.Run.Counts)
	}
	run(t, notified(f, j, n, day(4)), context.Background(), p, "day4")
	run(t, notified(f, j, n, day(11)), context.Background(), p, "day11") // 7 days later: deleted
	run(t, notified(f, j, n, day(11)), context.Background(), p, "day11")
	if f.status(soonKey) != "gone" {
		t.Fatalf("not deleted: %s", f.status(soonKey))
	}
	want := []string{
		"email deactivated " + soonKey + " alice@example.com",
		"email deleted " + soonKey + " alice@example.com",
		"email warning " + soonKey + " alice@example.com",
		"sns deactivated " + soonKey,
		"sns deleted " + soonKey,
	}
	if diff := cmp.Diff(want, n.deliveries()); diff != "" {
		t.Errorf("deliveries (-want +got):\n%s", diff)
	}
	wantLog := []string{
		"warning email sending", "warning email sent",
		"deactivated email sending", "deactivated email sent", "deactivated sns sending", "deactivated sns sent",
		"deleted email sending", "deleted email sent", "deleted sns sending", "deleted sns sent",
	}
	if diff := cmp.Diff(wantLog, noticeLog(t, j, soonKey)); diff != "" {
		t.Errorf("notice records (-want +got):\n%s", diff)
	}
	for _, nt := range n.notices {
		if nt.Kind == engine.NoticeDeactivated && (nt.DeleteOn == nil || !nt.DeleteOn.Truncate(time.Hour).Equal(day(10))) {
			t.Errorf("deactivated notice: delete on %v, want %v", nt.DeleteOn, day(10))
		}
	}
	if diff := cmp.Diff([]string{soonKey + " deleted"}, n.lastFindings()); diff != "" {
		t.Errorf("findings after deletion (-want +got):\n%s", diff)
	}
}

// A key that stops being stale and becomes stale again, on a new date,
// is warned again.
func TestWarnedAgainOnANewStaleDate(t *testing.T) {
	f := newFake()
	f.add("alice", soonKey, 60, 43) // inactivity: limit 45, stale in 3 days
	j, n := mem.New(), newNotifier()
	p := notifyPolicy(7)
	run(t, notified(f, j, n, base), context.Background(), p, "e1")
	used := day(1)
	f.users["alice"].keys[0].LastUsedAt = &used // used again: stale 46 days later
	run(t, notified(f, j, n, day(1)), context.Background(), p, "e2")
	run(t, notified(f, j, n, day(28)), context.Background(), p, "e3") // stale by age on day 31
	want := []string{"email warning " + soonKey + " security@example.com", "email warning " + soonKey + " security@example.com"}
	if diff := cmp.Diff(want, n.deliveries()); diff != "" {
		t.Errorf("deliveries (-want +got):\n%s", diff)
	}
	if len(n.notices) == 2 && n.notices[0].StaleAt.Equal(n.notices[1].StaleAt) {
		t.Errorf("both warnings name %v", n.notices[0].StaleAt)
	}
}

// Bad input never blocks or triggers an action: the action is done, the
// failure is on the notice record and counted on the run.
func TestBadNoticeInputNeverBlocksTheAction(t *testing.T) {
	for _, tc := range []struct {
		name     string
		tags     map[string]string
		fallback string
		setup    func(*fakeNotifier)
		want     []string
		sent     int
		failed   int
	}{
		{name: "tag not an address, no fallback", tags: map[string]string{ownerTag: "alice at example"},
			want: []string{"deactivated email failed", "deactivated sns sending", "deactivated sns sent"}, sent: 1, failed: 1},
		{name: "tag not an address, a fallback", tags: map[string]string{ownerTag: "alice at example"}, fallback: "sec@example.com",
			want: []string{"deactivated email sending", "deactivated email sent", "deactivated sns sending", "deactivated sns sent"}, sent: 1, failed: 1},
		{name: "unverified sender", tags: map[string]string{ownerTag: "alice@example.com"},
			setup: func(n *fakeNotifier) { n.emailErr = errors.New("email: sender identity not verified") },
			want:  []string{"deactivated email sending", "deactivated email failed", "deactivated sns sending", "deactivated sns sent"}, sent: 1, failed: 1},
		{name: "missing topic", tags: map[string]string{ownerTag: "alice@example.com"},
			setup: func(n *fakeNotifier) { n.teamErr = errors.New("sns: channel missing: NotFound") },
			want:  []string{"deactivated email sending", "deactivated email sent", "deactivated sns sending", "deactivated sns failed"}, sent: 1, failed: 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := newFake()
			f.add("alice", soonKey, 400, 1)
			f.users["alice"].tags = tc.tags
			j, n := mem.New(), newNotifier()
			n.ch.Findings = false
			if tc.setup != nil {
				tc.setup(n)
			}
			p := notifyPolicy(7)
			p.Notify.FallbackEmail = tc.fallback
			res := run(t, notified(f, j, n, base), context.Background(), p, "e1")
			if f.status(soonKey) != "Inactive" || res.Run.Outcome != domain.RunCompleted {
				t.Fatalf("status %s outcome %s errors %v", f.status(soonKey), res.Run.Outcome, res.Run.Errors)
			}
			if diff := cmp.Diff(tc.want, noticeLog(t, j, soonKey)); diff != "" {
				t.Errorf("notice records (-want +got):\n%s", diff)
			}
			c := res.Run.Counts
			if c[domain.CountNoticesSent] != tc.sent || c[domain.CountNoticesFailed] != tc.failed || c[domain.CountErrors] != 0 {
				t.Errorf("counts %v, want %d sent, %d failed, no errors", c, tc.sent, tc.failed)
			}
			// The failure is not retried, and not counted again.
			res = run(t, notified(f, j, n, base.Add(time.Hour)), context.Background(), p, "e2")
			if got := res.Run.Counts[domain.CountNoticesFailed]; got != 0 {
				t.Errorf("second run counts %d failed notices again", got)
			}
		})
	}
}

// crashingSettlements loses every notice's settlement, as a run that
// dies between the send and its record would.
type crashingSettlements struct{ *mem.Journal }

func (crashingSettlements) SettleNotice(context.Context, domain.Record) error {
	// A final error: the run does not retry it until its deadline.
	return fmt.Errorf("the function was killed: %w", domain.ErrInvalidRecord)
}

// A crashed send is settled "unknown" by a later run and never sent again.
func TestCrashedNoticeIsSettledUnknown(t *testing.T) {
	f := newFake()
	f.add("alice", soonKey, 88, 1)
	j, n := mem.New(), newNotifier()
	n.ch = engine.Channels{Email: true}
	p := notifyPolicy(7)
	run(t, notified(f, crashingSettlements{j}, n, base), context.Background(), p, "e1")
	res := run(t, notified(f, j, n, day(1)), context.Background(), p, "e2")
	if diff := cmp.Diff([]string{"email warning " + soonKey + " security@example.com"}, n.deliveries()); diff != "" {
		t.Errorf("deliveries (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]string{"warning email sending", "warning email unknown"}, noticeLog(t, j, soonKey)); diff != "" {
		t.Errorf("notice records (-want +got):\n%s", diff)
	}
	if got := res.Run.Counts[domain.CountNoticesUnknown]; got != 1 {
		t.Errorf("counts %v, want one unknown", res.Run.Counts)
	}
}

// Two runs at once (two events) send each notice once.
func TestTwoRunsAtOnceNotifyOnce(t *testing.T) {
	f := newFake()
	f.delay = 5 * time.Millisecond
	for i := range 6 {
		f.add(fmt.Sprintf("user%d", i), fmt.Sprintf("AKIAOLD%013d", i), 400, 1)
		f.add(fmt.Sprintf("user%d", i), fmt.Sprintf("AKIASOON%012d", i), 88, 1)
	}
	j, n := mem.New(), newNotifier()
	p := notifyPolicy(7)
	var wg sync.WaitGroup
	for _, ev := range []string{"x", "y", "z"} {
		wg.Go(func() { run(t, notified(f, j, n, base), context.Background(), p, ev) })
	}
	wg.Wait()
	got := n.deliveries()
	seen := map[string]int{}
	for _, d := range got {
		seen[d]++
	}
	for d, c := range seen {
		if c > 1 {
			t.Errorf("%q delivered %d times", d, c)
		}
	}
	// 6 deactivations (e-mail and team) and 6 warnings.
	if len(got) != 18 {
		t.Errorf("%d deliveries, want 18: %v", len(got), got)
	}
}

// Audit mode warns no one unless the policy says so, and acts on nothing;
// its findings and its run summary still go out.
func TestAuditModeWarnsOnlyWhenAsked(t *testing.T) {
	for _, warnInAudit := range []bool{false, true} {
		f := newFake()
		f.add("alice", soonKey, 87, 1)
		j, n := mem.New(), newNotifier()
		p := notifyPolicy(7)
		p.Mode, p.Notify.WarnInAudit = policy.ModeAudit, warnInAudit
		e := notified(f, j, n, base)
		res := run(t, e, context.Background(), p, "e1")
		if err := e.Announce(context.Background(), res, p, "https://reports.example.com/r1.html", "s3://reports/r1.html"); err != nil {
			t.Fatal(err)
		}
		want := []string{"sns run-summary "}
		if warnInAudit {
			want = []string{"email warning " + soonKey + " security@example.com", "sns run-summary "}
		}
		if diff := cmp.Diff(want, n.deliveries()); diff != "" {
			t.Errorf("warnInAudit %v: deliveries (-want +got):\n%s", warnInAudit, diff)
		}
		if got := n.notices[len(n.notices)-1]; got.Report != "https://reports.example.com/r1.html" || got.Run == nil {
			t.Errorf("run summary %+v", got)
		}
		if diff := cmp.Diff([]string{soonKey + " open"}, n.lastFindings()); diff != "" {
			t.Errorf("findings (-want +got):\n%s", diff)
		}
	}
}

// A summary that does not get through is counted on the run record.
func TestUnpublishedSummaryIsCounted(t *testing.T) {
	f := newFake()
	f.add("bob", "AKIAFRESH00000000001", 10, 1)
	j, n := mem.New(), newNotifier()
	n.teamErr = errors.New("sns: channel missing")
	p := notifyPolicy(7)
	e := notified(f, j, n, base)
	res := run(t, e, context.Background(), p, "e1")
	if err := e.Announce(context.Background(), res, p, "", ""); err != nil {
		t.Fatal(err)
	}
	stored, err := j.GetRun(context.Background(), res.Run.RunID)
	if err != nil {
		t.Fatal(err)
	}
	if stored.Counts[domain.CountNoticesFailed] != 1 || res.Run.Counts[domain.CountNoticesFailed] != 1 {
		t.Errorf("stored counts %v, result counts %v", stored.Counts, res.Run.Counts)
	}
}
