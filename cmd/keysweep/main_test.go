package main

import (
	"bytes"
	"context"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/iam"

	"github.com/keysweep/keysweep/app"
	"github.com/keysweep/keysweep/awsiam"
	"github.com/keysweep/keysweep/internal/testenv"
	"github.com/keysweep/keysweep/store"
)

// cli runs the CLI in-process and returns its exit code and output.
func cli(t *testing.T, args ...string) (int, string, string) {
	t.Helper()
	var out, errb bytes.Buffer
	code := run(context.Background(), args, &out, &errb)
	return code, out.String(), errb.String()
}

var seq atomic.Int64

// account sets up the emulator with tables named in the environment and a
// few users, as a user would before running the CLI.
func account(t *testing.T) (*iam.Client, map[string]string) {
	t.Helper()
	emu := testenv.Emulator(t)
	emu.Reset(t)
	n := seq.Add(1)
	t.Setenv(app.EnvPolicyTable, fmt.Sprintf("cli-policy-%d", n))
	t.Setenv(app.EnvAuditTable, fmt.Sprintf("cli-audit-%d", n))
	if code, _, stderr := cli(t, "tables", "create"); code != 0 {
		t.Fatalf("tables create: %d %s", code, stderr)
	}
	d := app.NewDepsFromConfig(emu.Config(t), app.Config{}, awsiam.Options{})
	ids := map[string]string{}
	now := time.Now().UTC()
	for _, u := range []struct {
		name          string
		age, lastUsed int
	}{{"alice", 10, 1}, {"bob", 400, 1}, {"carol", 60, -1}} {
		if _, err := d.IAM.CreateUser(context.Background(), &iam.CreateUserInput{UserName: aws.String(u.name)}); err != nil {
			t.Fatal(err)
		}
		out, err := d.IAM.CreateAccessKey(context.Background(), &iam.CreateAccessKeyInput{UserName: aws.String(u.name)})
		if err != nil {
			t.Fatal(err)
		}
		id := aws.ToString(out.AccessKey.AccessKeyId)
		var last *time.Time
		if u.lastUsed >= 0 {
			l := now.Add(-time.Duration(u.lastUsed) * 24 * time.Hour)
			last = &l
		}
		emu.SetKey(t, id, now.Add(-time.Duration(u.age)*24*time.Hour), last)
		ids[u.name] = id
	}
	return d.IAM, ids
}

func writeFile(t *testing.T, name, content string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

const enforcePolicy = `
version: cli-1
mode: enforce
maxKeyAgeDays: 90
maxInactiveDays: 45
deleteAfterDays: 7
blastRadius: {maxPercent: 100}
`

func TestHelpAndUsage(t *testing.T) {
	for _, tc := range []struct {
		args []string
		code int
		want string
	}{
		{[]string{"help"}, exitOK, "Commands:"},
		{[]string{}, exitUsage, ""},
		{[]string{"frobnicate"}, exitUsage, ""},
		{[]string{"plan", "--help"}, exitOK, "--at"},
		{[]string{"sweep", "-h"}, exitOK, "--event-id"},
		{[]string{"audit", "--help"}, exitOK, "--key"},
		{[]string{"policy", "--help"}, exitOK, "validate"},
		{[]string{"invoke", "--help"}, exitOK, "sweeper"},
		{[]string{"plan", "--output", "xml"}, exitUsage, ""},
		{[]string{"plan", "--at", "someday"}, exitUsage, ""},
		{[]string{"audit"}, exitUsage, ""},
		{[]string{"policy", "validate"}, exitUsage, ""},
		{[]string{"sweep", "--users", "bad name!"}, exitUsage, ""},
	} {
		t.Run(strings.Join(tc.args, "_"), func(t *testing.T) {
			code, stdout, _ := cli(t, tc.args...)
			if code != tc.code {
				t.Errorf("exit %d, want %d", code, tc.code)
			}
			if tc.want != "" && !strings.Contains(stdout, tc.want) {
				t.Errorf("stdout lacks %q:\n%s", tc.want, stdout)
			}
		})
	}
}

func TestPolicyValidate(t *testing.T) {
	good := writeFile(t, "good.yaml", enforcePolicy)
	if code, stdout, stderr := cli(t, "policy", "validate", good); code != 0 || !strings.Contains(stdout, "valid") {
		t.Errorf("good policy: %d %s %s", code, stdout, stderr)
	}
	for doc, fields := range map[string][]string{
		"version: x\nmode: enforced\nmaxKeyAgeDays: -1\n":     {"mode", "maxKeyAgeDays"},
		"version: x\nmode: audit\nmaxKeyAgeDays: 9\nfoo: 1\n": {"foo", "unknown field"},
	} {
		code, _, stderr := cli(t, "policy", "validate", writeFile(t, "bad.yaml", doc))
		if code != exitUsage {
			t.Errorf("bad policy exit %d", code)
		}
		for _, field := range fields {
			if !strings.Contains(stderr, field) {
				t.Errorf("error does not name %s: %s", field, stderr)
			}
		}
	}
	if code, _, _ := cli(t, "policy", "validate", filepath.Join(t.TempDir(), "missing.yaml")); code != exitUsage {
		t.Errorf("missing file exit %d", code)
	}
}

func TestPlanOutputs(t *testing.T) {
	_, ids := account(t)
	pol := writeFile(t, "p.yaml", enforcePolicy)

	code, stdout, stderr := cli(t, "plan", "--policy", pol)
	if code != 0 {
		t.Fatalf("plan: %d %s", code, stderr)
	}
	if !strings.Contains(stdout, ids["bob"]) || !strings.Contains(stdout, "created 400 days ago, limit 90") || strings.Contains(stdout, "alice") {
		t.Errorf("table:\n%s", stdout)
	}
	if !strings.Contains(stderr, "2 would be acted on") {
		t.Errorf("summary: %s", stderr)
	}

	if code, stdout, _ := cli(t, "plan", "--policy", pol, "--all"); code != 0 || !strings.Contains(stdout, ids["alice"]) {
		t.Errorf("plan --all does not list alice's kept key by id:\n%s", stdout)
	}

	code, stdout, _ = cli(t, "plan", "--policy", pol, "--output", "json")
	var doc struct {
		Plan struct {
			Actions   int `json:"actions"`
			Decisions []struct {
				UserName string `json:"userName"`
				Decision string `json:"decision"`
			} `json:"decisions"`
		} `json:"plan"`
	}
	if code != 0 || json.Unmarshal([]byte(stdout), &doc) != nil || doc.Plan.Actions != 2 || len(doc.Plan.Decisions) != 3 {
		t.Errorf("json: %d %s", code, stdout)
	}

	code, stdout, _ = cli(t, "plan", "--policy", pol, "--output", "csv", "--at", time.Now().AddDate(0, 0, 90).Format(time.DateOnly))
	rows, err := csv.NewReader(strings.NewReader(stdout)).ReadAll()
	if code != 0 || err != nil || len(rows) != 4 {
		t.Fatalf("csv: %d %v\n%s", code, err, stdout)
	}
	for _, r := range rows[1:] {
		if r[0] == "alice" && r[5] != "deactivate" {
			t.Errorf("in 90 days alice's key should be stale: %v", r)
		}
	}
	// Nothing changed.
	if code, stdout, _ := cli(t, "audit", "--key", ids["bob"]); code != exitNotFound {
		t.Errorf("plan wrote records: %d %s", code, stdout)
	}
	// With no tables configured at all, plan judges with the built-in default.
	t.Setenv(app.EnvPolicyTable, "")
	t.Setenv(app.EnvAuditTable, "")
	code, stdout, stderr = cli(t, "plan")
	if code != 0 || !strings.Contains(stderr, "built-in default") || !strings.Contains(stdout, ids["bob"]) {
		t.Errorf("plan without tables: %d\n%s\n%s", code, stdout, stderr)
	}
}

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
	var sum app.Summary
	if code != 0 || json.Unmarshal([]byte(stdout), &sum) != nil {
		t.Fatalf("sweep: %d %s %s", code, stdout, stderr)
	}
	if sum.Counts["deactivated"] != 2 {
		t.Errorf("counts %v", sum.Counts)
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
	if code, _, _ := cli(t, "audit", "--run", "r-nope"); code != exitNotFound {
		t.Errorf("unknown run exit %d", code)
	}
}

func TestSweepBlockedExitCode(t *testing.T) {
	account(t)
	pol := writeFile(t, "p.yaml", strings.Replace(enforcePolicy, "{maxPercent: 100}", "{maxActions: 1, maxPercent: 100}", 1))
	if code, _, stderr := cli(t, "policy", "put", pol); code != 0 {
		t.Fatal(stderr)
	}
	if code, _, stderr := cli(t, "sweep"); code != exitBlocked || !strings.Contains(stderr, "cap") {
		t.Errorf("exit %d: %s", code, stderr)
	}
}

func TestInvokeSweeper(t *testing.T) {
	account(t)
	code, stdout, stderr := cli(t, "invoke", "sweeper", "--event", "../../events/schedule.json")
	var sum app.Summary
	if code != 0 || json.Unmarshal([]byte(stdout), &sum) != nil {
		t.Fatalf("invoke: %d %s %s", code, stdout, stderr)
	}
	if sum.Outcome != store.OutcomeCompleted || sum.PolicySource != app.SourceDefault {
		t.Errorf("summary %+v", sum)
	}
	if !strings.Contains(stderr, `"CloudWatchMetrics"`) {
		t.Errorf("no EMF metrics line on stderr: %s", stderr)
	}
	// Replaying the same scheduled event is a duplicate.
	code, stdout, _ = cli(t, "invoke", "sweeper", "--event", "../../events/schedule.json")
	if code != 0 || !strings.Contains(stdout, `"duplicate": true`) {
		t.Errorf("replay: %d %s", code, stdout)
	}
	bad := writeFile(t, "bad.json", `{"mode":"audit","surprise":1}`)
	if code, _, stderr := cli(t, "invoke", "sweeper", "--event", bad); code != exitUsage || !strings.Contains(stderr, "surprise") {
		t.Errorf("bad event: %d %s", code, stderr)
	}
}

// TestDemo runs what `make demo` runs, on its own emulator.
func TestDemo(t *testing.T) {
	for _, k := range []string{"AWS_ENDPOINT_URL", "AWS_REGION", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_EC2_METADATA_DISABLED", "AWS_PROFILE", "AWS_SESSION_TOKEN"} {
		// Restored after the demo points them at its own emulator.
		if v, ok := os.LookupEnv(k); ok {
			t.Cleanup(func() { os.Setenv(k, v) })
		} else {
			t.Cleanup(func() { os.Unsetenv(k) })
		}
	}
	code, stdout, stderr := cli(t, "demo")
	if code != 0 {
		t.Fatalf("demo: %d\n%s\n%s", code, stdout, stderr)
	}
	for _, want := range []string{"built-in default", "deactivated 4", "already handled", "deleted 5", "History of bob's key"} {
		if !strings.Contains(stdout, want) {
			t.Errorf("demo output lacks %q", want)
		}
	}
}
