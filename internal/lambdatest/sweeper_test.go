package lambdatest_test

import (
	"strings"
	"testing"

	ddbtypes "github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/google/go-cmp/cmp"

	"github.com/keysweep/keysweep/internal/lambdatest"
	"github.com/keysweep/keysweep/internal/testenv"
)

// summary is what the tests read of the sweeper's answer.
type summary struct {
	RunID   string `json:"runId"`
	Outcome string `json:"outcome"`
	Mode    string `json:"mode"`
	Actions []struct {
		AccessKeyID string `json:"accessKeyId"`
		Decision    string `json:"decision"`
		Outcome     string `json:"outcome"`
	} `json:"actions"`
}

func (s summary) actions() map[string]string {
	out := map[string]string{}
	for _, a := range s.Actions {
		out[a.AccessKeyID] = a.Decision + "/" + a.Outcome
	}
	return out
}

// TestScheduledSweepActs: the deployed sweeper, on the EventBridge event,
// deactivates the stale key under an enforce policy, keeps the fresh one,
// and writes the intent, the outcome and the run to the audit table.
func TestScheduledSweepActs(t *testing.T) {
	e := newEnv(t, nil)
	old := e.userWithKey(e.iam, "", "old", 400, 200)
	fresh := e.userWithKey(e.iam, "", "fresh", 10, 1)
	e.putPolicy(enforcePolicy)

	fn := lambdatest.Run(t, e.stack, "SweeperFunction")
	sum := answer[summary](t, invoke(t, fn, event(t, "schedule.json")))

	if sum.Outcome != "completed" || sum.Mode != "enforce" || sum.RunID == "" {
		t.Fatalf("run %q outcome %q mode %q; want a completed enforce run", sum.RunID, sum.Outcome, sum.Mode)
	}
	if diff := cmp.Diff(map[string]string{old: "deactivate/done"}, sum.actions()); diff != "" {
		t.Errorf("actions (-want +got):\n%s", diff)
	}
	got := map[string]string{old: e.keyStatus(e.iam, "old", old), fresh: e.keyStatus(e.iam, "fresh", fresh)}
	if diff := cmp.Diff(map[string]string{old: "Inactive", fresh: "Active"}, got); diff != "" {
		t.Errorf("IAM after the sweep (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]string{"intent:deactivate", "outcome:deactivate:done"}, e.steps(old)); diff != "" {
		t.Errorf("audit records of the stale key (-want +got):\n%s", diff)
	}
	if recs := e.records(old); len(recs) > 0 && recs[0].RunID != sum.RunID {
		t.Errorf("records name run %q, the answer %q", recs[0].RunID, sum.RunID)
	}
	if got := e.runRecord(sum.RunID)["outcome"]; got != "completed" {
		t.Errorf("run record outcome %v, want completed", got)
	}

	// Lambda delivers a scheduled event again after a failure: the same
	// event is a duplicate, and changes nothing.
	again := answer[summary](t, invoke(t, fn, event(t, "schedule.json")))
	if again.RunID != sum.RunID || len(again.Actions) != 0 {
		t.Errorf("second delivery: run %q with %d actions; want run %q again, no action", again.RunID, len(again.Actions), sum.RunID)
	}
}

// TestManualAuditChangesNothing: events/manual-audit.json narrows an
// enforce policy to audit: the stale key is reported, not touched.
func TestManualAuditChangesNothing(t *testing.T) {
	e := newEnv(t, nil)
	old := e.userWithKey(e.iam, "", "old", 400, 200)
	e.putPolicy(enforcePolicy)

	fn := lambdatest.Run(t, e.stack, "SweeperFunction")
	sum := answer[summary](t, invoke(t, fn, event(t, "manual-audit.json")))

	if sum.Outcome != "completed" || sum.Mode != "audit" {
		t.Fatalf("outcome %q mode %q; want a completed audit run", sum.Outcome, sum.Mode)
	}
	if diff := cmp.Diff(map[string]string{old: "deactivate/planned"}, sum.actions()); diff != "" {
		t.Errorf("actions (-want +got):\n%s", diff)
	}
	if got := e.keyStatus(e.iam, "old", old); got != "Active" {
		t.Errorf("stale key %s after an audit run; want Active", got)
	}
}

// TestInvalidStoredPolicyIsFunctionError: a policy edited by hand into
// something invalid fails the invocation as a function error (so the
// Errors alarm fires and Lambda retries), naming the bad field, and
// changes nothing in IAM.
func TestInvalidStoredPolicyIsFunctionError(t *testing.T) {
	e := newEnv(t, nil)
	old := e.userWithKey(e.iam, "", "old", 400, 200)
	e.putItem(e.ref("PolicyTable"), map[string]ddbtypes.AttributeValue{
		"id":              &ddbtypes.AttributeValueMemberS{Value: policyID},
		"version":         &ddbtypes.AttributeValueMemberS{Value: "broken-1"},
		"mode":            &ddbtypes.AttributeValueMemberS{Value: "enforce"},
		"maxKeyAgeDays":   &ddbtypes.AttributeValueMemberN{Value: "90"},
		"maxInactiveDays": &ddbtypes.AttributeValueMemberN{Value: "-5"},
	})

	fn := lambdatest.Run(t, e.stack, "SweeperFunction")
	res := invoke(t, fn, event(t, "schedule.json"))

	if res.Error == nil {
		t.Fatalf("answer %s; want a function error", res.Body)
	}
	t.Logf("function error: %v", res.Error)
	if !strings.Contains(res.Error.Message, "maxInactiveDays") {
		t.Errorf("error %q does not name maxInactiveDays", res.Error.Message)
	}
	if got := e.keyStatus(e.iam, "old", old); got != "Active" {
		t.Errorf("stale key %s after a failed run; want Active", got)
	}
	if recs := e.steps(old); len(recs) != 0 {
		t.Errorf("records %v after a failed run; want none", recs)
	}
}

// TestInitFailureIsFunctionError: a bootstrap that exits during its init
// phase (here a retention the function refuses, as `sam local invoke
// --env-vars` could set it) fails the invocation as a function error with
// the runtime's exit, not as a harness error or an empty answer.
func TestInitFailureIsFunctionError(t *testing.T) {
	lambdatest.SkipShort(t)
	emu := testenv.Emulator(t)
	emu.Reset(t)
	stack, err := lambdatest.NewStack(t.Context(), emu.Config(t), repoTemplate(t), lambdatest.StackOptions{
		EnvVars: map[string]map[string]string{"SweeperFunction": {"AUDIT_RETENTION_DAYS": "0"}},
	})
	if err != nil {
		t.Fatal(err)
	}
	fn := lambdatest.Run(t, stack, "SweeperFunction")
	res := invoke(t, fn, event(t, "manual-audit.json"))
	if res.Error == nil || res.Error.Type != lambdatest.ErrorTypeRuntime || !strings.Contains(res.Error.Message, "exit status 1") {
		t.Fatalf("status %d, error %v, body %q; want a runtime exit", res.Status, res.Error, res.Body)
	}
	if !strings.Contains(fn.Logs(), "AUDIT_RETENTION_DAYS") {
		t.Errorf("the function's log does not name AUDIT_RETENTION_DAYS:\n%s", fn.Logs())
	}
}
