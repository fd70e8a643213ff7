package cli

import (
	"encoding/csv"
	"encoding/json"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	iamtypes "github.com/aws/aws-sdk-go-v2/service/iam/types"
	"github.com/google/go-cmp/cmp"

	"github.com/keysweep/keysweep/internal/testenv"
	"github.com/keysweep/keysweep/internal/wiring"
)

func TestPolicyValidate(t *testing.T) {
	good := writeFile(t, "good.yaml", enforcePolicy)
	if code, stdout, stderr := cli(t, "policy", "validate", good); code != 0 || !strings.Contains(stdout, "valid") {
		t.Errorf("good policy: %d %s %s", code, stdout, stderr)
	}
	for doc, fields := range map[string][]string{
		"version: x\nmode: enforced\nmaxKeyAgeDays: -1\n":     {"mode", "maxKeyAgeDays"},
		"version: x\nmode: audit\nmaxKeyAgeDays: 9\nfoo: 1\n": {"foo", "unknown field"},
		// AWS IAM keys have no expiry date: the rule is refused for the
		// default target, naming the rule and the store.
		"version: x\nmode: audit\nmaxKeyAgeDays: 9\nmaxKeyLifetimeDays: 30\n": {"maxKeyLifetimeDays", "AWS IAM"},
	} {
		code, _, stderr := cli(t, "policy", "validate", writeFile(t, "bad.yaml", doc))
		if code != ExitUsage {
			t.Errorf("bad policy exit %d", code)
		}
		wantContains(t, "error", stderr, fields...)
	}
	if code, _, _ := cli(t, "policy", "validate", filepath.Join(t.TempDir(), "missing.yaml")); code != ExitUsage {
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
	wantContains(t, "summary", stderr, "2 would be acted on")

	if code, stdout, _ := cli(t, "plan", "--policy", pol, "--all"); code != 0 || !strings.Contains(stdout, ids["alice"]) {
		t.Errorf("plan --all does not list alice's kept key by id:\n%s", stdout)
	}

	code, stdout, _ = cli(t, "plan", "--policy", pol, "--output", "json")
	var doc struct {
		Target string `json:"target"`
		Plan   struct {
			Actions   int `json:"actions"`
			Decisions []struct {
				UserName string `json:"userName"`
				Decision string `json:"decision"`
			} `json:"decisions"`
		} `json:"plan"`
	}
	if code != 0 || json.Unmarshal([]byte(stdout), &doc) != nil || doc.Plan.Actions != 2 || len(doc.Plan.Decisions) != 3 || doc.Target != "aws" {
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
	if code, stdout, _ := cli(t, "audit", "--key", ids["bob"]); code != ExitNotFound {
		t.Errorf("plan wrote records: %d %s", code, stdout)
	}
	if code, _, stderr := cli(t, "plan", "--target", "nope"); code != ExitUsage || !strings.Contains(stderr, `no target "nope"`) {
		t.Errorf("unknown target: %d %s", code, stderr)
	}
	// With no tables configured at all, plan judges with the built-in default.
	t.Setenv(wiring.EnvPolicyTable, "")
	t.Setenv(wiring.EnvAuditTable, "")
	code, stdout, stderr = cli(t, "plan")
	if code != 0 || !strings.Contains(stderr, "built-in default") || !strings.Contains(stdout, ids["bob"]) {
		t.Errorf("plan without tables: %d\n%s\n%s", code, stdout, stderr)
	}
}

// TestPlanBlockedByInvalidStoredPolicy: a stored policy that does not
// validate blocks a plan and a sweep with exit 3, and changes nothing.
func TestPlanBlockedByInvalidStoredPolicy(t *testing.T) {
	account(t)
	ddbPutRawPolicy(t, map[string]any{"version": "broken", "mode": "enforced", "maxKeyAgeDays": -3})
	if code, _, stderr := cli(t, "plan"); code != ExitBlocked || !strings.Contains(stderr, "stored policy") {
		t.Errorf("plan: %d %s", code, stderr)
	}
	if code, _, stderr := cli(t, "sweep"); code != ExitBlocked {
		t.Errorf("sweep: %d %s", code, stderr)
	}
}

// plan --notices lists what each channel would receive and to whom, with
// the subject, and sends and changes nothing.
func TestPlanNotices(t *testing.T) {
	client, ids := account(t)
	emu := testenv.Emulator(t)
	ids["dave"] = addUser(t, emu, client, "dave", 88, 1, time.Now().UTC()) // stale in 3 days
	if _, err := client.TagUser(t.Context(), &iam.TagUserInput{UserName: aws.String("dave"),
		Tags: []iamtypes.Tag{{Key: aws.String("owner-email"), Value: aws.String("dave@example.com")}}}); err != nil {
		t.Fatal(err)
	}
	pol := writeFile(t, "p.yaml", enforcePolicy+"notify:\n  ownerEmailTag: owner-email\n  fallbackEmail: security@example.com\n")

	code, stdout, stderr := cli(t, "plan", "--policy", pol, "--notices", "--output", "csv")
	if code != 0 {
		t.Fatalf("plan --notices: %d %s", code, stderr)
	}
	rows, err := csv.NewReader(strings.NewReader(stdout)).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, r := range rows[1:] {
		got = append(got, strings.Join(r[:4], " "))
		if r[0] == "email" && r[2] == "warning" && !strings.Contains(r[6], "becomes stale on") {
			t.Errorf("warning subject %q", r[6])
		}
	}
	sort.Strings(got)
	topic := "(the stack's topic)"
	want := []string{
		"email dave@example.com warning dave",
		"email security@example.com deactivated bob",
		"email security@example.com deactivated carol",
		"securityhub Security Hub finding bob",
		"securityhub Security Hub finding carol",
		"securityhub Security Hub finding dave",
		"sns " + topic + " deactivated bob",
		"sns " + topic + " deactivated carol",
		"sns " + topic + " run-summary ",
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("planned notices (-want +got):\n%s", diff)
	}

	code, stdout, stderr = cli(t, "plan", "--policy", pol, "--notices")
	if code != 0 {
		t.Fatalf("plan --notices: %d %s", code, stderr)
	}
	wantContains(t, "footer", stderr, "9 notices a sweep at", "nothing was sent", "no notice channel is set here")
	wantContains(t, "table", stdout, "CHANNEL", "dave@example.com", ids["dave"])
	if code, _, _ := cli(t, "audit", "--key", ids["bob"]); code != ExitNotFound {
		t.Errorf("a plan wrote records for bob (exit %d)", code)
	}
}
