package engine_test

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/keysweep/keysweep/internal/domain"
	"github.com/keysweep/keysweep/internal/engine"
	"github.com/keysweep/keysweep/internal/journal/mem"
	"github.com/keysweep/keysweep/policy"
)

// A fresh-again key's finding is resolved, a deleted one's archived, and
// findings that did not get through are counted and tried again.
func TestFindingsFollowTheKeys(t *testing.T) {
	f := newFake()
	f.add("alice", soonKey, 60, 40) // inactivity: stale in 6 days
	f.add("bob", "AKIAOLD0000000000001", 400, 1)
	j, n := mem.New(), newNotifier()
	p := enforcePolicy(7) // no notify section: findings are the deployment's choice
	p.Mode = policy.ModeAudit
	n.hubErr = errors.New("securityhub: channel missing: not enabled")
	res := run(t, notified(f, j, n, base), context.Background(), p, "e1")
	if res.Run.Counts[domain.CountNoticesFailed] != 2 || len(n.deliveries()) != 0 {
		t.Fatalf("counts %v deliveries %v", res.Run.Counts, n.deliveries())
	}
	n.hubErr = nil
	run(t, notified(f, j, n, base.Add(time.Hour)), context.Background(), p, "e2")
	if diff := cmp.Diff([]string{"AKIAOLD0000000000001 open", soonKey + " open"}, n.lastFindings()); diff != "" {
		t.Errorf("findings (-want +got):\n%s", diff)
	}
	used := day(1)
	f.users["alice"].keys[0].LastUsedAt = &used // fresh again
	run(t, notified(f, j, n, day(1)), context.Background(), p, "e3")
	if diff := cmp.Diff([]string{"AKIAOLD0000000000001 open", soonKey + " fresh"}, n.lastFindings()); diff != "" {
		t.Errorf("findings (-want +got):\n%s", diff)
	}
	p.Mode = policy.ModeEnforce
	p.DeleteAfterDays = 0
	run(t, notified(f, j, n, day(2)), context.Background(), p, "e4")
	if diff := cmp.Diff([]string{"AKIAOLD0000000000001 deleted"}, n.lastFindings()); diff != "" {
		t.Errorf("findings (-want +got):\n%s", diff)
	}
	open, _ := j.OpenFindings(context.Background(), "111122223333")
	if len(open) != 0 {
		t.Errorf("open findings left: %+v", open)
	}
}

// A journal that cannot claim notices sends none, and says so.
func TestNoClaimsNoNotices(t *testing.T) {
	f := newFake()
	f.add("alice", soonKey, 400, 1)
	n := newNotifier()
	res := run(t, notified(f, failingIntents{mem.New()}, n, base), context.Background(), notifyPolicy(7), "e1")
	if len(n.deliveries()) != 0 || len(n.findings) != 0 {
		t.Errorf("delivered %v", n.deliveries())
	}
	if !strings.Contains(strings.Join(res.Run.Notes, "\n"), "notices are off") {
		t.Errorf("notes %v", res.Run.Notes)
	}
}

// A revocation tells the owner and the team, once.
func TestRevocationIsTold(t *testing.T) {
	f := newFake()
	f.add("alice", soonKey, 10, 1)
	f.users["alice"].tags = map[string]string{ownerTag: "alice@example.com"}
	j, n := mem.New(), newNotifier()
	rev, err := notified(f, j, n, base).Revoke(context.Background(), engine.RevokeRequest{
		AccessKeyID: soonKey, Action: policy.Delete, Reason: "pushed to a public repository", Actor: "arn:aws:iam::111122223333:user/sec",
		Policy: notifyPolicy(7), PolicySource: "test",
	})
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"email revoked " + soonKey + " alice@example.com", "sns revoked " + soonKey}
	if diff := cmp.Diff(want, n.deliveries()); diff != "" {
		t.Errorf("deliveries (-want +got):\n%s", diff)
	}
	if len(rev.Notices) != 2 || n.notices[0].RequestedBy != "arn:aws:iam::111122223333:user/sec" || n.notices[0].RequestReason == "" {
		t.Errorf("revocation notices %+v, notice %+v", rev.Notices, n.notices[0])
	}
}

// A store without status gives notice instead of deactivating: the owner
// is told the key is due, with its deletion date.
func TestNoStatusStoreGivesNotice(t *testing.T) {
	f := newFake()
	f.caps = domain.Capabilities{LastUsed: true}
	f.listed = true
	f.add("carol", "key-0001", 120, 1)
	for i := range f.users["carol"].keys {
		f.users["carol"].keys[i].Status = domain.StatusNone
	}
	j, n := mem.New(), newNotifier()
	n.ch.Findings = false
	p := notifyPolicy(14)
	res := run(t, notified(f, j, n, base), context.Background(), p, "e1")
	if res.Run.Counts[domain.CountMarkedDue] != 1 {
		t.Fatalf("counts %v notes %v", res.Run.Counts, res.Run.Notes)
	}
	want := []string{"email due key-0001 security@example.com", "sns due key-0001"}
	if diff := cmp.Diff(want, n.deliveries()); diff != "" {
		t.Errorf("deliveries (-want +got):\n%s", diff)
	}
	if d := n.notices[0].DeleteOn; d == nil || !d.Equal(day(14)) {
		t.Errorf("due notice deletes on %v, want %v", d, day(14))
	}
}

// plan --notices lists who would be told what, and sends nothing.
func TestPlanNotices(t *testing.T) {
	f := newFake()
	f.add("alice", soonKey, 87, 1)
	f.users["alice"].tags = map[string]string{ownerTag: "not-an-address"}
	f.add("bob", "AKIAOLD0000000000001", 400, 1)
	f.users["bob"].tags = map[string]string{ownerTag: "bob@example.com"}
	f.add("carol", "AKIAFRESH00000000001", 10, 1)
	n := newNotifier()
	np, err := notified(f, mem.New(), n, base).PlanNotices(context.Background(), notifyPolicy(7), base, nil, n.ch)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, pn := range np.Notices {
		s := pn.Channel + " " + pn.Kind + " " + pn.KeyID + " " + pn.Recipient
		if pn.Problem != "" {
			s += " !"
		}
		got = append(got, s)
	}
	sort.Strings(got)
	want := []string{
		"email deactivated AKIAOLD0000000000001 bob@example.com",
		"email warning " + soonKey + " security@example.com !",
		"securityhub finding AKIAOLD0000000000001 ",
		"securityhub finding " + soonKey + " ",
		"sns deactivated AKIAOLD0000000000001 " + n.ch.Topic,
		"sns run-summary  " + n.ch.Topic,
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("planned notices (-want +got):\n%s", diff)
	}
	if len(n.deliveries()) != 0 || f.Calls()["Deactivate"] != 0 {
		t.Errorf("a plan delivered %v and deactivated %d", n.deliveries(), f.Calls()["Deactivate"])
	}
}

// lostOutcomes loses every outcome, as a run killed right after its key
// store call would.
type lostOutcomes struct{ *mem.Journal }

func (lostOutcomes) WriteOutcome(context.Context, domain.Record) error {
	return fmt.Errorf("the function was killed: %w", domain.ErrInvalidRecord)
}

// A run that crashed after deactivating a key told no one; the run that
// settles its intent tells the owner and the team, once. A run that lost
// only its outcome record (and told them) is not repeated by the
// settlement: the notice is claimed under the acting run's id either way.
func TestSettledActionIsTold(t *testing.T) {
	for _, toldBefore := range []bool{false, true} {
		f := newFake()
		f.add("alice", soonKey, 400, 1)
		j, n := mem.New(), newNotifier()
		n.ch.Findings = false
		p := notifyPolicy(7)
		first := notified(f, lostOutcomes{j}, n, base)
		if !toldBefore {
			first.Notifier = nil // it died before its notices
		}
		run(t, first, context.Background(), p, "e1")
		if f.status(soonKey) != "Inactive" {
			t.Fatalf("crashed run: status %s", f.status(soonKey))
		}
		for _, ev := range []string{"e2", "e3"} { // the next day: the claim holds across dates
			res := run(t, notified(f, j, n, day(1)), context.Background(), p, ev)
			if ev == "e2" && res.Run.Counts[domain.CountSettled] != 1 {
				t.Fatalf("counts %v", res.Run.Counts)
			}
		}
		want := []string{"email deactivated " + soonKey + " security@example.com", "sns deactivated " + soonKey}
		if diff := cmp.Diff(want, n.deliveries()); diff != "" {
			t.Errorf("told before the crash %v: deliveries (-want +got):\n%s", toldBefore, diff)
		}
	}
}
