package engine_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/keysweep/keysweep/internal/domain"
	"github.com/keysweep/keysweep/internal/engine"
	"github.com/keysweep/keysweep/internal/journal/mem"
	"github.com/keysweep/keysweep/policy"
)

// The revocation tests run on the in-process fake and the in-memory journal, for the
// fault paths; the API tests runs the same cases on the emulator.

func revoker(f *fakeStore, j *mem.Journal) *engine.Engine {
	return &engine.Engine{Store: f, Journal: j, Now: func() time.Time { return base }}
}

func revokeReq(id string, action policy.Verdict, p *policy.Policy) engine.RevokeRequest {
	return engine.RevokeRequest{AccessKeyID: id, Action: action, Reason: "leaked", Actor: "arn:aws:iam::111122223333:user/sec", Policy: p, PolicySource: "test"}
}

func TestRevokeUsedKey(t *testing.T) {
	f := newFake()
	f.add("alice", "AKIAALICE0000000001", 10, 1)
	j := mem.New()
	rev, err := revoker(f, j).Revoke(context.Background(), revokeReq("AKIAALICE0000000001", policy.Delete, enforcePolicy(7)))
	if err != nil {
		t.Fatal(err)
	}
	if rev.Outcome != domain.ResultDone || rev.UserName != "alice" || rev.Exempt || rev.Policy.Verdict != policy.Keep {
		t.Errorf("revocation %+v", rev)
	}
	if diff := cmp.Diff([]string{"intent:delete", "outcome:delete:done"}, kinds(t, j, "AKIAALICE0000000001")); diff != "" {
		t.Errorf("records (-want +got):\n%s", diff)
	}
	if f.status("AKIAALICE0000000001") != "gone" {
		t.Error("key not deleted")
	}
	for _, r := range rev.Records {
		if r.Actor != "arn:aws:iam::111122223333:user/sec" || !strings.Contains(r.Reason, "leaked") || r.RunID != rev.RevocationID {
			t.Errorf("record %+v", r)
		}
	}
}

func TestRevokeExemptKeyIsRecordedAsExempt(t *testing.T) {
	f := newFake()
	f.add("robot", "AKIAROBOT0000000001", 400, 200)
	p := enforcePolicy(7)
	p.Exemptions.Users = []string{"robot"}
	j := mem.New()
	rev, err := revoker(f, j).Revoke(context.Background(), revokeReq("AKIAROBOT0000000001", policy.Deactivate, p))
	if err != nil {
		t.Fatal(err)
	}
	if !rev.Exempt || rev.Outcome != domain.ResultDone || f.status("AKIAROBOT0000000001") != "Inactive" {
		t.Errorf("revocation %+v, status %s", rev, f.status("AKIAROBOT0000000001"))
	}
	recs, _ := j.ByKey(context.Background(), "AKIAROBOT0000000001")
	for _, r := range recs {
		if !r.Exempt || r.Decision != policy.Exempt {
			t.Errorf("record does not say exempt: %+v", r)
		}
	}
}

func TestRevokeTwiceAnswersGone(t *testing.T) {
	f := newFake()
	f.add("alice", "AKIAALICE0000000001", 10, 1)
	j := mem.New()
	r := revoker(f, j)
	if _, err := r.Revoke(context.Background(), revokeReq("AKIAALICE0000000001", policy.Delete, enforcePolicy(7))); err != nil {
		t.Fatal(err)
	}
	rev, err := r.Revoke(context.Background(), revokeReq("AKIAALICE0000000001", policy.Delete, enforcePolicy(7)))
	if err != nil {
		t.Fatal(err)
	}
	if rev.Outcome != domain.ResultGone || len(rev.Records) != 2 || rev.UserName != "alice" {
		t.Errorf("second revocation %+v", rev)
	}
	if diff := cmp.Diff([]string{"delete"}, f.acted["AKIAALICE0000000001"]); diff != "" {
		t.Errorf("IAM changes (-want +got):\n%s", diff)
	}
}

func TestRevokeUnknownKey(t *testing.T) {
	f := newFake()
	j := mem.New()
	_, err := revoker(f, j).Revoke(context.Background(), revokeReq("AKIANOSUCHKEY000001", policy.Delete, enforcePolicy(7)))
	if !errors.Is(err, engine.ErrNotFound) {
		t.Fatalf("err %v, want ErrNotFound", err)
	}
	if n := len(f.acted); n != 0 {
		t.Errorf("%d IAM changes", n)
	}
}

func TestRevokeDeactivateInactiveMakesNoCall(t *testing.T) {
	f := newFake()
	f.add("alice", "AKIAALICE0000000001", 10, 1)
	f.users["alice"].keys[0].Status = domain.StatusInactive
	j := mem.New()
	rev, err := revoker(f, j).Revoke(context.Background(), revokeReq("AKIAALICE0000000001", policy.Deactivate, enforcePolicy(7)))
	if err != nil {
		t.Fatal(err)
	}
	if rev.Outcome != domain.ResultAlreadyInactive || f.calls["Deactivate"] != 0 {
		t.Errorf("outcome %s, Deactivate calls %d", rev.Outcome, f.calls["Deactivate"])
	}
	if diff := cmp.Diff([]string{"decision:deactivate:already-inactive"}, kinds(t, j, "AKIAALICE0000000001")); diff != "" {
		t.Errorf("records (-want +got):\n%s", diff)
	}
}

func TestRevokePendingIntentIsConflict(t *testing.T) {
	f := newFake()
	f.add("alice", "AKIAALICE0000000001", 10, 1)
	j := mem.New()
	if err := j.WriteIntent(context.Background(), domain.Record{Kind: domain.KindIntent, RunID: "r-other", Account: "111122223333",
		UserName: "alice", AccessKeyID: "AKIAALICE0000000001", Action: "deactivate", At: base}); err != nil {
		t.Fatal(err)
	}
	_, err := revoker(f, j).Revoke(context.Background(), revokeReq("AKIAALICE0000000001", policy.Delete, enforcePolicy(7)))
	if !errors.Is(err, engine.ErrConflict) || !strings.Contains(err.Error(), "r-other") {
		t.Fatalf("err %v, want ErrConflict naming r-other", err)
	}
	if f.calls["Delete"] != 0 {
		t.Error("IAM called despite the pending intent")
	}
}

func TestRevokeIAMFailureIsUpstreamAndRecorded(t *testing.T) {
	f := newFake()
	f.add("alice", "AKIAALICE0000000001", 10, 1)
	f.failDeactivate["AKIAALICE0000000001"] = errors.New("boom")
	j := mem.New()
	_, err := revoker(f, j).Revoke(context.Background(), revokeReq("AKIAALICE0000000001", policy.Deactivate, enforcePolicy(7)))
	var ue *domain.ServiceError
	if !errors.As(err, &ue) || ue.Service != "IAM" {
		t.Fatalf("err %v, want an IAM UpstreamError", err)
	}
	recs, _ := j.ByKey(context.Background(), "AKIAALICE0000000001")
	if len(recs) != 2 || recs[1].Result != domain.ResultFailed || recs[1].Error == "" {
		t.Errorf("records %+v", recs)
	}
	if st, _ := j.KeyState(context.Background(), "AKIAALICE0000000001"); st == nil || st.Intent != nil {
		t.Errorf("state %+v: the failed outcome must settle the intent", st)
	}
}

func TestRevokeWithoutPolicyGoesAhead(t *testing.T) {
	f := newFake()
	f.add("alice", "AKIAALICE0000000001", 10, 1)
	j := mem.New()
	req := revokeReq("AKIAALICE0000000001", policy.Delete, nil)
	req.PolicyErr = errors.New("policy: maxInactiveDays: must not be negative")
	rev, err := revoker(f, j).Revoke(context.Background(), req)
	if err != nil {
		t.Fatal(err)
	}
	if rev.Outcome != domain.ResultDone || rev.Policy != nil || len(rev.Notes) == 0 || !strings.Contains(rev.Notes[0], "not judged") {
		t.Errorf("revocation %+v", rev)
	}
}

func TestRevokeRefusesUnknownAction(t *testing.T) {
	f := newFake()
	f.add("alice", "AKIAALICE0000000001", 10, 1)
	_, err := revoker(f, mem.New()).Revoke(context.Background(), revokeReq("AKIAALICE0000000001", policy.Keep, nil))
	if !errors.Is(err, engine.ErrBadRequest) || len(f.calls) != 0 {
		t.Fatalf("err %v, calls %v", err, f.calls)
	}
}

func TestInspectLiveAndGone(t *testing.T) {
	f := newFake()
	f.add("alice", "AKIAALICE0000000001", 400, 1)
	j := mem.New()
	r := revoker(f, j)
	v, err := r.Inspect(context.Background(), "AKIAALICE0000000001", enforcePolicy(7), "test", nil)
	if err != nil {
		t.Fatal(err)
	}
	if !v.Exists || v.UserName != "alice" || v.Status != policy.StatusActive || v.Policy.Verdict != policy.Deactivate || len(v.History) != 0 {
		t.Errorf("view %+v", v)
	}
	if _, err := r.Revoke(context.Background(), revokeReq("AKIAALICE0000000001", policy.Delete, enforcePolicy(7))); err != nil {
		t.Fatal(err)
	}
	v, err = r.Inspect(context.Background(), "AKIAALICE0000000001", enforcePolicy(7), "test", nil)
	if err != nil {
		t.Fatal(err)
	}
	if v.Exists || len(v.History) != 2 || v.State == nil || v.State.Stage != domain.StageDeleted {
		t.Errorf("view of a deleted key %+v", v)
	}
	if _, err := r.Inspect(context.Background(), "AKIANOSUCHKEY000001", enforcePolicy(7), "test", nil); !errors.Is(err, engine.ErrNotFound) {
		t.Errorf("unknown key: %v", err)
	}
}
