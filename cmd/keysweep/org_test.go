package main

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials/stscreds"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	"github.com/aws/aws-sdk-go-v2/service/organizations"
	"github.com/aws/aws-sdk-go-v2/service/sts"

	"github.com/keysweep/keysweep/app"
	"github.com/keysweep/keysweep/internal/testenv"
	"github.com/keysweep/keysweep/org"
	"github.com/keysweep/keysweep/store"
)

// orgMember is a member account of the emulator's organization with one
// stale key, created through the member role.
type orgMember struct {
	id    string
	iam   *iam.Client
	stale string
}

// organization sets up tables named in the environment and an organization
// of n member accounts, each with a user "bob" whose key was last used 200
// days ago.
func organization(t *testing.T, n int) []orgMember {
	t.Helper()
	ctx := context.Background()
	emu := testenv.Emulator(t)
	emu.Reset(t)
	t.Cleanup(func() { emu.ClearFaults(t) })
	k := seq.Add(1)
	t.Setenv(app.EnvPolicyTable, fmt.Sprintf("cli-org-policy-%d", k))
	t.Setenv(app.EnvAuditTable, fmt.Sprintf("cli-org-audit-%d", k))
	t.Setenv(org.EnvExternalID, "")
	t.Setenv(org.EnvRoleName, "")
	if code, _, stderr := cli(t, "tables", "create"); code != 0 {
		t.Fatalf("tables create: %d %s", code, stderr)
	}
	cfg := emu.Config(t)
	orgs := organizations.NewFromConfig(cfg)
	if _, err := orgs.CreateOrganization(ctx, &organizations.CreateOrganizationInput{}); err != nil {
		t.Fatal(err)
	}
	var members []orgMember
	for i := range n {
		out, err := orgs.CreateAccount(ctx, &organizations.CreateAccountInput{AccountName: aws.String(fmt.Sprintf("m%d", i)), Email: aws.String(fmt.Sprintf("m%d@example.com", i))})
		if err != nil {
			t.Fatal(err)
		}
		id := aws.ToString(out.CreateAccountStatus.AccountId)
		mcfg := cfg.Copy()
		mcfg.Credentials = aws.NewCredentialsCache(stscreds.NewAssumeRoleProvider(sts.NewFromConfig(cfg), org.RoleARN("aws", id, "sweeper-role")))
		m := orgMember{id: id, iam: iam.NewFromConfig(mcfg)}
		if _, err := m.iam.CreateUser(ctx, &iam.CreateUserInput{UserName: aws.String("bob")}); err != nil {
			t.Fatal(err)
		}
		key, err := m.iam.CreateAccessKey(ctx, &iam.CreateAccessKeyInput{UserName: aws.String("bob")})
		if err != nil {
			t.Fatal(err)
		}
		m.stale = aws.ToString(key.AccessKey.AccessKeyId)
		last := time.Now().Add(-200 * 24 * time.Hour)
		emu.SetKeyFacts(t, m.stale, testenv.KeyFacts{Account: id, Created: time.Now().Add(-300 * 24 * time.Hour), LastUsed: &last, SetLastUsed: true})
		members = append(members, m)
	}
	return members
}

func (m orgMember) keyStatus(t *testing.T) string {
	t.Helper()
	out, err := m.iam.ListAccessKeys(context.Background(), &iam.ListAccessKeysInput{UserName: aws.String("bob")})
	if err != nil || len(out.AccessKeyMetadata) != 1 {
		t.Fatalf("keys of bob in %s: %v", m.id, err)
	}
	return string(out.AccessKeyMetadata[0].Status)
}

// putPolicyFile stores the policy document given as YAML through the CLI.
func putPolicyFile(t *testing.T, doc string) {
	t.Helper()
	if code, _, stderr := cli(t, "policy", "put", writeFile(t, "policy.yaml", doc)); code != 0 {
		t.Fatalf("policy put: %d %s", code, stderr)
	}
}

func TestSweepOrg(t *testing.T) {
	m := organization(t, 3)
	putPolicyFile(t, fmt.Sprintf(`
version: org-cli-1
mode: enforce
maxInactiveDays: 90
deleteAfterDays: 7
blastRadius: {maxActions: 10, maxPercent: 100}
organization:
  accounts: ["%s", "%s"]
`, m[0].id, m[1].id))

	code, stdout, stderr := cli(t, "sweep", "--org", "--role", "sweeper-role", "--external-id", "ext-cli", "--concurrency", "2", "--output", "json", "--event-id", "cli-org-1")
	if code != exitOK {
		t.Fatalf("sweep --org: exit %d\n%s", code, stderr)
	}
	var res struct {
		Run      store.OrgRun          `json:"run"`
		Accounts []store.AccountResult `json:"accounts"`
	}
	if err := json.Unmarshal([]byte(stdout), &res); err != nil {
		t.Fatalf("json output: %v\n%s", err, stdout)
	}
	if res.Run.Outcome != store.OutcomeCompleted || res.Run.AccountsDone != 2 || res.Run.Counts["deactivated"] != 2 || len(res.Accounts) != 2 {
		t.Errorf("organization run: %+v", res)
	}
	for i, want := range []string{"Inactive", "Inactive", "Active"} {
		if got := m[i].keyStatus(t); got != want {
			t.Errorf("account %d (%s): key %s, want %s", i, m[i].id, got, want)
		}
	}

	// The same event id again does nothing; the table says so.
	code, _, stderr = cli(t, "sweep", "--org", "--role", "sweeper-role", "--external-id", "ext-cli", "--event-id", "cli-org-1")
	if code != exitOK || !strings.Contains(stderr, "event already handled by organization run "+res.Run.RunID) {
		t.Errorf("second sweep --org: exit %d\n%s", code, stderr)
	}

	// The organization run is an ordinary run to `audit --run`.
	code, stdout, stderr = cli(t, "audit", "--run", res.Run.RunID, "--output", "json")
	if code != exitOK || !strings.Contains(stdout, `"deactivated": 2`) {
		t.Errorf("audit --run: exit %d\n%s\n%s", code, stdout, stderr)
	}
}

func TestSweepOrgFailedAccountExitCode(t *testing.T) {
	m := organization(t, 2)
	putPolicyFile(t, fmt.Sprintf(`
version: org-cli-2
mode: enforce
maxInactiveDays: 90
deleteAfterDays: 7
blastRadius: {maxActions: 10, maxPercent: 100}
organization: {accounts: ["%s", "%s"]}
`, m[0].id, m[1].id))
	testenv.Emulator(t).FaultMatching(t, "STS.AssumeRole", "AccessDenied", 403, 0, org.RoleARN("aws", m[1].id, "keysweep-member"))
	code, stdout, stderr := cli(t, "sweep", "--org", "--external-id", "ext-cli")
	if code != exitFailure {
		t.Errorf("exit %d, want %d (an account failed)\n%s", code, exitFailure, stderr)
	}
	if !strings.Contains(stdout, m[1].id+"  failed") || !strings.Contains(stderr, "1 of 2 accounts failed") {
		t.Errorf("output does not show the failed account:\n%s\n%s", stdout, stderr)
	}
	if got := m[0].keyStatus(t); got != "Inactive" {
		t.Errorf("the healthy account's key is %s, want Inactive", got)
	}
}

// When an account's result cannot be counted in the organization run (its
// DynamoDB write keeps failing), the run is unfinished, and sweep --org
// says so with a failing exit code instead of 0.
func TestSweepOrgUnfinishedExitCode(t *testing.T) {
	m := organization(t, 1)
	putPolicyFile(t, fmt.Sprintf(`
version: org-cli-3
mode: audit
maxInactiveDays: 90
organization: {accounts: ["%s"]}
`, m[0].id))
	testenv.Emulator(t).FaultMatching(t, "DynamoDB.TransactWriteItems", "ValidationException", 400, 0, "ACCOUNT#"+m[0].id)
	code, _, stderr := cli(t, "sweep", "--org", "--external-id", "ext-cli")
	if code != exitFailure || !strings.Contains(stderr, "is unfinished: 0 of 1 accounts recorded") {
		t.Errorf("exit %d, want %d (the organization run is unfinished)\n%s", code, exitFailure, stderr)
	}
}

func TestSweepOrgUsage(t *testing.T) {
	for _, args := range [][]string{
		{"sweep", "--org", "--users", "alice"},
		{"sweep", "--org", "--concurrency", "0"},
		{"sweep", "--org", "--role", "bad/role"},
	} {
		organization(t, 0)
		if code, _, stderr := cli(t, args...); code != exitUsage {
			t.Errorf("%v: exit %d, want %d\n%s", args, code, exitUsage, stderr)
		}
	}
}
