package cli

import (
	"context"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials/stscreds"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	"github.com/aws/aws-sdk-go-v2/service/organizations"
	"github.com/aws/aws-sdk-go-v2/service/sts"

	"github.com/keysweep/keysweep/internal/domain"
	"github.com/keysweep/keysweep/internal/fanout"
	"github.com/keysweep/keysweep/internal/testenv"
)

// orgMember is a member account of the emulator's organization, with a
// user "bob" whose keys were last used 200 days ago, created through the
// member role.
type orgMember struct {
	id    string
	iam   *iam.Client
	stale []string
}

// organization sets up tables named in the environment and an organization
// with a member account for each count, holding that many stale keys (on
// as many users: bob, bob1, bob2, ...).
func organization(t *testing.T, keys ...int) []orgMember {
	t.Helper()
	ctx := context.Background()
	emu := emulator(t)
	t.Cleanup(func() { emu.ClearFaults(t) })
	t.Setenv(fanout.EnvExternalID, "")
	t.Setenv(fanout.EnvRoleName, "")
	tables(t, "cli-org")
	cfg := emu.Config(t)
	orgs := organizations.NewFromConfig(cfg)
	if _, err := orgs.CreateOrganization(ctx, &organizations.CreateOrganizationInput{}); err != nil {
		t.Fatal(err)
	}
	var members []orgMember
	for i, n := range keys {
		out, err := orgs.CreateAccount(ctx, &organizations.CreateAccountInput{AccountName: aws.String(fmt.Sprintf("m%d", i)), Email: aws.String(fmt.Sprintf("m%d@example.com", i))})
		if err != nil {
			t.Fatal(err)
		}
		id := aws.ToString(out.CreateAccountStatus.AccountId)
		mcfg := cfg.Copy()
		mcfg.Credentials = aws.NewCredentialsCache(stscreds.NewAssumeRoleProvider(sts.NewFromConfig(cfg), fanout.RoleARN("aws", id, "sweeper-role")))
		m := orgMember{id: id, iam: iam.NewFromConfig(mcfg)}
		for k := range n {
			m.stale = append(m.stale, m.addStaleKey(t, emu, fmt.Sprintf("bob%d", k)))
		}
		members = append(members, m)
	}
	return members
}

// addStaleKey creates a user with a key last used 200 days ago.
func (m orgMember) addStaleKey(t *testing.T, emu *testenv.Emu, user string) string {
	t.Helper()
	ctx := context.Background()
	if user == "bob0" {
		user = "bob"
	}
	if _, err := m.iam.CreateUser(ctx, &iam.CreateUserInput{UserName: aws.String(user)}); err != nil {
		t.Fatal(err)
	}
	key, err := m.iam.CreateAccessKey(ctx, &iam.CreateAccessKeyInput{UserName: aws.String(user)})
	if err != nil {
		t.Fatal(err)
	}
	kid := aws.ToString(key.AccessKey.AccessKeyId)
	last := time.Now().Add(-200 * 24 * time.Hour)
	emu.SetKeyFacts(t, kid, testenv.KeyFacts{Account: m.id, Created: time.Now().Add(-300 * 24 * time.Hour), LastUsed: &last, SetLastUsed: true})
	return kid
}

// putOrgPolicy stores an enforcing policy that sweeps the members: keys
// unused for 90 days are deactivated, and deleted 7 days later, at most
// maxActions of them in one account.
func putOrgPolicy(t *testing.T, version string, maxActions int, members ...orgMember) {
	t.Helper()
	ids := make([]string, len(members))
	for i, m := range members {
		ids[i] = strconv.Quote(m.id)
	}
	putPolicy(t, fmt.Sprintf(`
version: %s
mode: enforce
maxInactiveDays: 90
deleteAfterDays: 7
blastRadius: {maxActions: %d, maxPercent: 100}
organization: {accounts: [%s]}
`, version, maxActions, strings.Join(ids, ", ")))
}

func (m orgMember) keyStatus(t *testing.T) string {
	t.Helper()
	out, err := m.iam.ListAccessKeys(context.Background(), &iam.ListAccessKeysInput{UserName: aws.String("bob")})
	if err != nil || len(out.AccessKeyMetadata) != 1 {
		t.Fatalf("keys of bob in %s: %v", m.id, err)
	}
	return string(out.AccessKeyMetadata[0].Status)
}

func TestSweepOrg(t *testing.T) {
	m := organization(t, 1, 1, 1)
	putOrgPolicy(t, "org-cli-1", 10, m[0], m[1])

	code, stdout, stderr := cli(t, "sweep", "--org", "--role", "sweeper-role", "--external-id", "ext-cli", "--concurrency", "2", "--output", "json", "--event-id", "cli-org-1")
	if code != ExitOK {
		t.Fatalf("sweep --org: exit %d\n%s", code, stderr)
	}
	var res struct {
		Run      domain.OrgRun          `json:"run"`
		Accounts []domain.AccountResult `json:"accounts"`
	}
	if err := json.Unmarshal([]byte(stdout), &res); err != nil {
		t.Fatalf("json output: %v\n%s", err, stdout)
	}
	if res.Run.Outcome != domain.RunCompleted || res.Run.AccountsDone != 2 || res.Run.Counts["deactivated"] != 2 || len(res.Accounts) != 2 {
		t.Errorf("organization run: %+v", res)
	}
	for i, want := range []string{"Inactive", "Inactive", "Active"} {
		if got := m[i].keyStatus(t); got != want {
			t.Errorf("account %d (%s): key %s, want %s", i, m[i].id, got, want)
		}
	}

	// The same event id again does nothing; the output says so.
	code, _, stderr = cli(t, "sweep", "--org", "--role", "sweeper-role", "--external-id", "ext-cli", "--event-id", "cli-org-1")
	if code != ExitOK || !strings.Contains(stderr, "event already handled by organization run "+res.Run.RunID) {
		t.Errorf("second sweep --org: exit %d\n%s", code, stderr)
	}

	// audit --run of the organization run lists its accounts, each with
	// its outcome and its own run id, and keeps the organization's fields.
	code, stdout, stderr = cli(t, "audit", "--run", res.Run.RunID)
	if code != ExitOK {
		t.Fatalf("audit --run: exit %d\n%s", code, stderr)
	}
	for _, a := range res.Accounts {
		wantContains(t, "audit --run table", stdout, a.Account, a.RunID, "completed")
	}
	wantContains(t, "audit --run notes", stderr, "organization run "+res.Run.RunID+": completed")
	code, stdout, _ = cli(t, "audit", "--run", res.Run.RunID, "--output", "json")
	var doc struct {
		Run      map[string]any         `json:"run"`
		Accounts []domain.AccountResult `json:"accounts"`
	}
	if code != ExitOK || json.Unmarshal([]byte(stdout), &doc) != nil {
		t.Fatalf("audit --run json: %d %s", code, stdout)
	}
	for _, k := range []string{"organizationId", "accounts", "accountsDone", "accountsPlanned", "counts"} {
		if _, ok := doc.Run[k]; !ok {
			t.Errorf("audit --run json drops run.%s:\n%s", k, stdout)
		}
	}
	if len(doc.Accounts) != 2 || doc.Accounts[0].RunID == "" {
		t.Errorf("accounts %+v", doc.Accounts)
	}
	// Each account's run is an ordinary run to audit --run.
	for _, mm := range m[:2] {
		if mm.id != res.Accounts[0].Account {
			continue
		}
		if code, stdout, stderr := cli(t, "audit", "--run", res.Accounts[0].RunID); code != ExitOK || !strings.Contains(stdout, mm.stale[0]) {
			t.Errorf("audit --run of an account run: %d\n%s\n%s", code, stdout, stderr)
		}
	}
}

// TestSweepOrgFailedAccount: an account whose role cannot be assumed fails
// that account only, the run is completed-with-failures (exit 1), and the
// AssumeRole error is printed once.
func TestSweepOrgFailedAccount(t *testing.T) {
	m := organization(t, 1, 1)
	putOrgPolicy(t, "org-cli-2", 10, m[0], m[1])
	testenv.Emulator(t).FaultMatching(t, "STS.AssumeRole", "AccessDenied", 403, 0, fanout.RoleARN("aws", m[1].id, "keysweep-member"))
	code, stdout, stderr := cli(t, "sweep", "--org", "--external-id", "ext-cli")
	if code != ExitFailure {
		t.Errorf("exit %d, want %d (an account failed)\n%s", code, ExitFailure, stderr)
	}
	if !strings.Contains(stdout, m[1].id+"  failed") || !strings.Contains(stderr, "completed-with-failures: 1 of 2 accounts failed") {
		t.Errorf("output does not show the failed account:\n%s\n%s", stdout, stderr)
	}
	t.Logf("sweep --org with a failed account:\n%s%s", stdout, stderr)
	if n := strings.Count(stdout+stderr, "AccessDenied"); n != 1 {
		t.Errorf("the AssumeRole error is printed %d times, want once:\n%s\n%s", n, stdout, stderr)
	}
	if got := m[0].keyStatus(t); got != "Inactive" {
		t.Errorf("the healthy account's key is %s, want Inactive", got)
	}
}

// TestSweepOrgBlocked: an account blocked by the cap makes the
// organization run blocked (exit 3), and the output names the cap.
func TestSweepOrgBlocked(t *testing.T) {
	// The second account has 5 stale keys: over the cap of 3.
	m := organization(t, 1, 5)
	big := m[1]
	putOrgPolicy(t, "org-cli-4", 3, m[0], big)
	code, stdout, stderr := cli(t, "sweep", "--org", "--external-id", "ext-cli")
	if code != ExitBlocked {
		t.Errorf("exit %d, want %d (an account was blocked)\n%s\n%s", code, ExitBlocked, stdout, stderr)
	}
	wantContains(t, "output", stdout+stderr, big.id, "blocked", "blast-radius cap")
	t.Logf("sweep --org with a blocked account:\n%s%s", stdout, stderr)
	if got := m[0].keyStatus(t); got != "Inactive" {
		t.Errorf("the account within the cap: key %s, want Inactive", got)
	}
	if got := big.keyStatus(t); got != "Active" {
		t.Errorf("the blocked account: key %s, want Active (nothing changed)", got)
	}
}

// When an account's result cannot be counted in the organization run (its
// DynamoDB write keeps failing), the run is unfinished, and sweep --org
// says so with a failing exit code instead of 0.
func TestSweepOrgUnfinishedExitCode(t *testing.T) {
	m := organization(t, 1)
	putPolicy(t, fmt.Sprintf(`
version: org-cli-3
mode: audit
maxInactiveDays: 90
organization: {accounts: ["%s"]}
`, m[0].id))
	testenv.Emulator(t).FaultMatching(t, "DynamoDB.TransactWriteItems", "ValidationException", 400, 0, "ACCOUNT#"+m[0].id)
	code, _, stderr := cli(t, "sweep", "--org", "--external-id", "ext-cli")
	if code != ExitFailure || !strings.Contains(stderr, "is unfinished: 0 of 1 accounts recorded") {
		t.Errorf("exit %d, want %d (the organization run is unfinished)\n%s", code, ExitFailure, stderr)
	}
}

// TestSweepOrgUsage: bad --org flags, and a missing external id, are usage
// errors found before any AWS call.
func TestSweepOrgUsage(t *testing.T) {
	emu := emulator(t)
	organization(t)
	for _, args := range [][]string{
		{"sweep", "--org", "--external-id", "ext-cli", "--users", "alice"},
		{"sweep", "--org", "--external-id", "ext-cli", "--concurrency", "0"},
		{"sweep", "--org", "--external-id", "ext-cli", "--role", "bad/role"},
		{"sweep", "--org", "--external-id", "ext-cli", "--target", "otc"},
		{"sweep", "--org", "--external-id", "x"},
		{"sweep", "--org"},
	} {
		emu.Reset(t)
		code, _, stderr := cli(t, args...)
		if code != ExitUsage {
			t.Errorf("%v: exit %d, want %d\n%s", args, code, ExitUsage, stderr)
		}
		if calls := emu.Calls(t); len(calls) != 0 {
			t.Errorf("%v: AWS calls before the usage error: %v", args, calls)
		}
	}
	_, _, stderr := cli(t, "sweep", "--org")
	wantContains(t, "missing external id", stderr, "--external-id", "MEMBER_EXTERNAL_ID", "required")
}
