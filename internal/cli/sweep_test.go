package cli

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/iam"

	"github.com/keysweep/keysweep/internal/domain"
	"github.com/keysweep/keysweep/internal/engine"
	"github.com/keysweep/keysweep/internal/lambda"
	"github.com/keysweep/keysweep/internal/wiring"
)

func TestPolicyPutGetSweepAudit(t *testing.T) {
	client, ids := account(t)
	// No policy: get shows the default, sweep audits.
	code, stdout, stderr := cli(t, "policy", "get")
	if code != 0 || !strings.Contains(stderr, "built-in default") || !strings.Contains(stdout, "mode: audit") {
		t.Errorf("get with no policy: %d\n%s\n%s", code, stdout, stderr)
	}
	code, _, stderr = cli(t, "sweep")
	if code != 0 || !strings.Contains(stderr, "built-in default") {
		t.Errorf("default sweep: %d %s", code, stderr)
	}
	pol := writeFile(t, "p.yaml", enforcePolicy)
	if code, _, stderr := cli(t, "policy", "put", pol, "--by", "tester"); code != 0 {
		t.Fatalf("put: %d %s", code, stderr)
	}
	if code, stdout, _ := cli(t, "policy", "get", "--output", "json"); code != 0 || !strings.Contains(stdout, `"version": "cli-1"`) {
		t.Errorf("get: %d %s", code, stdout)
	}
	code, stdout, stderr = cli(t, "sweep", "--output", "json", "--event-id", "cli-run-1")
	var sum lambda.Summary
	if code != 0 || json.Unmarshal([]byte(stdout), &sum) != nil {
		t.Fatalf("sweep: %d %s %s", code, stdout, stderr)
	}
	if sum.Counts["deactivated"] != 2 || sum.Target != domain.DefaultTarget {
		t.Errorf("summary %+v", sum.Summary)
	}
	keys, _ := client.ListAccessKeys(context.Background(), &iam.ListAccessKeysInput{UserName: aws.String("bob")})
	if len(keys.AccessKeyMetadata) != 1 || keys.AccessKeyMetadata[0].Status != "Inactive" {
		t.Errorf("bob's key: %+v", keys.AccessKeyMetadata)
	}
	// The same event id again does nothing.
	code, stdout, _ = cli(t, "sweep", "--output", "json", "--event-id", "cli-run-1")
	if code != 0 || !strings.Contains(stdout, `"duplicate": true`) {
		t.Errorf("duplicate: %d %s", code, stdout)
	}
	code, stdout, _ = cli(t, "audit", "--key", ids["bob"], "--output", "csv")
	if code != 0 || !strings.Contains(stdout, "intent") || !strings.Contains(stdout, "outcome") {
		t.Errorf("audit --key: %d %s", code, stdout)
	}
	code, stdout, stderr = cli(t, "audit", "--run", sum.RunID)
	if code != 0 || !strings.Contains(stderr, "completed") || !strings.Contains(stdout, ids["carol"]) {
		t.Errorf("audit --run: %d\n%s\n%s", code, stdout, stderr)
	}
	if code, stdout, _ := cli(t, "audit", "--user", "carol", "--output", "json"); code != 0 || !strings.Contains(stdout, ids["carol"]) {
		t.Errorf("audit --user: %d %s", code, stdout)
	}
	if code, _, _ := cli(t, "audit", "--run", "r-nope"); code != ExitNotFound {
		t.Errorf("unknown run exit %d", code)
	}
	if code, _, stderr := cli(t, "sweep", "--target", "nope"); code != ExitUsage || !strings.Contains(stderr, "nope") {
		t.Errorf("unknown target: %d %s", code, stderr)
	}
}

func TestSweepBlockedExitCode(t *testing.T) {
	account(t)
	putPolicy(t, strings.Replace(enforcePolicy, "{maxPercent: 100}", "{maxActions: 1, maxPercent: 100}", 1))
	if code, _, stderr := cli(t, "sweep"); code != ExitBlocked || !strings.Contains(stderr, "cap") {
		t.Errorf("exit %d: %s", code, stderr)
	}
}

// TestSweepTimeout: with the key store unreachable, a sweep stops at its
// --timeout, as partial, instead of retrying for many minutes.
func TestSweepTimeout(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	dead := "http://" + ln.Addr().String()
	ln.Close() // nothing listens there now: every call is refused
	for k, v := range map[string]string{
		"AWS_ENDPOINT_URL": dead, "AWS_REGION": "us-east-1", "AWS_ACCESS_KEY_ID": "testing",
		"AWS_SECRET_ACCESS_KEY": "testing", "AWS_EC2_METADATA_DISABLED": "true", "AWS_PROFILE": "",
		wiring.EnvPolicyTable: "p", wiring.EnvAuditTable: "a",
	} {
		t.Setenv(k, v)
	}
	start := time.Now()
	code, stdout, stderr := cli(t, "sweep", "--timeout", "5s")
	took := time.Since(start)
	// Stopped by the deadline: partial. The SDK's jittered backoff may
	// also give up on its own before the deadline: then the run failed, and
	// says why.
	switch {
	case code == ExitPartial && strings.Contains(stderr, "--timeout 5s"):
	case code == ExitFailure && took < 5*time.Second && strings.Contains(stderr, "connect"):
	default:
		t.Errorf("exit %d after %s, want %d (or %d before the deadline)\n%s%s", code, took, ExitPartial, ExitFailure, stdout, stderr)
	}
	// A bound, not a measurement: without the deadline the SDK retries
	// each call ten times with up to 20 s between attempts.
	if took > 15*time.Second {
		t.Errorf("sweep --timeout 5s took %s", took)
	}
	t.Logf("sweep --timeout 5s against a dead endpoint returned in %s", took.Round(time.Millisecond))
}

func TestSweepExit(t *testing.T) {
	partial := &engine.Summary{RunID: "r1", Outcome: domain.RunPartial, ResumeAfter: "bob"}
	for _, tc := range []struct {
		name     string
		sums     []*engine.Summary
		err      error
		timedOut bool
		want     int
	}{
		{"completed", []*engine.Summary{{Outcome: domain.RunCompleted}}, nil, false, ExitOK},
		{"duplicate", []*engine.Summary{{Outcome: domain.RunDuplicate}}, nil, false, ExitOK},
		{"partial", []*engine.Summary{partial}, nil, false, ExitPartial},
		{"blocked", []*engine.Summary{{Outcome: domain.RunBlocked}}, engine.ErrBlocked, false, ExitBlocked},
		{"invalid policy", []*engine.Summary{{Outcome: domain.RunFailed}}, engine.ErrPolicy, false, ExitBlocked},
		{"failed", []*engine.Summary{{Outcome: domain.RunFailed}}, context.Canceled, false, ExitFailure},
		{"timed out", []*engine.Summary{{Outcome: domain.RunFailed}}, context.DeadlineExceeded, true, ExitPartial},
		{"cut short by the margin before the deadline", nil, fmt.Errorf("account id: %w", context.DeadlineExceeded), false, ExitPartial},
		{"one of two failed", []*engine.Summary{{Outcome: domain.RunCompleted}, {Outcome: domain.RunFailed}}, context.Canceled, false, ExitFailure},
		{"blocked and partial", []*engine.Summary{partial, {Outcome: domain.RunBlocked}}, engine.ErrBlocked, false, ExitBlocked},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := code(sweepExit(tc.sums, tc.err, tc.timedOut, time.Minute)); got != tc.want {
				t.Errorf("exit %d, want %d", got, tc.want)
			}
		})
	}
}

func TestInvokeSweeper(t *testing.T) {
	account(t)
	code, stdout, stderr := cli(t, "invoke", "sweeper", "--event", "../../events/schedule.json")
	var sum lambda.Summary
	if code != 0 || json.Unmarshal([]byte(stdout), &sum) != nil {
		t.Fatalf("invoke: %d %s %s", code, stdout, stderr)
	}
	if sum.Outcome != domain.RunCompleted || sum.PolicySource != engine.SourceDefault {
		t.Errorf("summary %+v", sum.Summary)
	}
	wantContains(t, "stderr (EMF metrics)", stderr, `"CloudWatchMetrics"`)
	// Replaying the same scheduled event is a duplicate.
	code, stdout, _ = cli(t, "invoke", "sweeper", "--event", "../../events/schedule.json")
	if code != 0 || !strings.Contains(stdout, `"duplicate": true`) {
		t.Errorf("replay: %d %s", code, stdout)
	}
	bad := writeFile(t, "bad.json", `{"mode":"audit","surprise":1}`)
	if code, _, stderr := cli(t, "invoke", "sweeper", "--event", bad); code != ExitUsage || !strings.Contains(stderr, "surprise") {
		t.Errorf("bad event: %d %s", code, stderr)
	}
	// A payload may name a field once, spelled exactly.
	dup := writeFile(t, "dup.json", `{"mode":"audit","mode":"enforce"}`)
	if code, _, stderr := cli(t, "invoke", "sweeper", "--event", dup); code != ExitUsage {
		t.Errorf("duplicate field: %d %s", code, stderr)
	}
}
