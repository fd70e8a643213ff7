package fanout_test

import (
	"context"
	"fmt"
	"github.com/keysweep/keysweep/internal/fanout"
	"log/slog"
	"sort"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials/stscreds"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	"github.com/aws/aws-sdk-go-v2/service/organizations"
	"github.com/aws/aws-sdk-go-v2/service/sts"

	"github.com/keysweep/keysweep/internal/domain"
	"github.com/keysweep/keysweep/internal/engine"
	"github.com/keysweep/keysweep/internal/journal/dynamo"
	"github.com/keysweep/keysweep/internal/keystore/awsiam"
	"github.com/keysweep/keysweep/internal/testenv"
	"github.com/keysweep/keysweep/policy"
)

var fixedNow = time.Date(2026, 3, 15, 12, 0, 0, 0, time.UTC)

const (
	testRole       = "keysweep-member"
	testExternalID = "ext-3f9a"
)

// testPolicy acts on keys unused for 90 days; the organization section is
// set per test.
func testPolicy(sel *policy.OrgSelection) *policy.Policy {
	return &policy.Policy{
		Version: "org-test-1", Mode: policy.ModeEnforce, MaxInactiveDays: 90, DeleteAfterDays: 7,
		BlastRadius:  policy.BlastRadius{MaxActions: 100, MaxPercent: 100},
		Organization: sel,
	}
}

// member is one member account of the test organization, with its keys.
type member struct {
	id    string
	iam   *iam.Client // acting in the member account, through an assumed role
	fresh string      // key used yesterday: kept
	stale string      // key unused for 200 days: deactivated
}

// testOrg is an organization on the emulator: the default account is the
// management account, where the tables live.
type testOrg struct {
	emu     *testenv.Emu
	cfg     aws.Config
	orgs    *organizations.Client
	journal *dynamo.Journal
	rootID  string
	members []*member
}

var tableSeq atomic.Int64

// putPolicy stores p as the organization's policy.
func (o *testOrg) putPolicy(t *testing.T, p *policy.Policy) {
	t.Helper()
	if err := o.journal.PutPolicy(t.Context(), domain.DefaultPolicyID, p, "test"); err != nil {
		t.Fatalf("put policy: %v", err)
	}
}

// newTestOrg resets the emulator and builds an organization of n member
// accounts, each with a user "alice" (fresh key) and "bob" (stale key),
// created with that account's assumed-role credentials.
func newTestOrg(t *testing.T, n int, p *policy.Policy) *testOrg {
	t.Helper()
	ctx := t.Context()
	emu := testenv.Emulator(t)
	emu.Reset(t)
	t.Cleanup(func() { emu.ClearFaults(t) })
	cfg := emu.Config(t)
	o := &testOrg{emu: emu, cfg: cfg, orgs: organizations.NewFromConfig(cfg)}

	ddb := dynamodb.NewFromConfig(cfg)
	seq := tableSeq.Add(1)
	opts := dynamo.Options{AuditTable: fmt.Sprintf("org-audit-%d", seq), PolicyTable: fmt.Sprintf("org-policy-%d", seq)}
	if err := dynamo.CreateTables(ctx, ddb, opts.PolicyTable, opts.AuditTable); err != nil {
		t.Fatalf("create tables: %v", err)
	}
	o.journal = dynamo.New(ddb, opts)
	if p != nil {
		o.putPolicy(t, p)
	}

	if _, err := o.orgs.CreateOrganization(ctx, &organizations.CreateOrganizationInput{}); err != nil {
		t.Fatalf("create organization: %v", err)
	}
	roots, err := o.orgs.ListRoots(ctx, &organizations.ListRootsInput{})
	if err != nil {
		t.Fatal(err)
	}
	o.rootID = aws.ToString(roots.Roots[0].Id)
	for i := range n {
		o.members = append(o.members, o.addMember(t, fmt.Sprintf("member-%d", i)))
	}
	sort.Slice(o.members, func(i, j int) bool { return o.members[i].id < o.members[j].id })
	return o
}

func (o *testOrg) addMember(t *testing.T, name string) *member {
	t.Helper()
	ctx := t.Context()
	out, err := o.orgs.CreateAccount(ctx, &organizations.CreateAccountInput{AccountName: aws.String(name), Email: aws.String(name + "@example.com")})
	if err != nil {
		t.Fatalf("create account: %v", err)
	}
	m := &member{id: aws.ToString(out.CreateAccountStatus.AccountId)}
	m.iam = iam.NewFromConfig(o.memberConfig(m.id))
	m.fresh = o.addUser(t, m, "alice", 1)
	m.stale = o.addUser(t, m, "bob", 200)
	return m
}

// memberConfig acts in account through the member role, as the worker does.
func (o *testOrg) memberConfig(account string) aws.Config {
	cfg := o.cfg.Copy()
	cfg.Credentials = aws.NewCredentialsCache(stscreds.NewAssumeRoleProvider(sts.NewFromConfig(o.cfg), fanout.RoleARN("aws", account, testRole), func(ao *stscreds.AssumeRoleOptions) {
		ao.ExternalID = aws.String(testExternalID)
	}))
	return cfg
}

// addUser creates a user with one key last used daysAgo days ago.
func (o *testOrg) addUser(t *testing.T, m *member, user string, daysAgo int) string {
	t.Helper()
	ctx := t.Context()
	if _, err := m.iam.CreateUser(ctx, &iam.CreateUserInput{UserName: aws.String(user)}); err != nil {
		t.Fatalf("create user %s in %s: %v", user, m.id, err)
	}
	key, err := m.iam.CreateAccessKey(ctx, &iam.CreateAccessKeyInput{UserName: aws.String(user)})
	if err != nil {
		t.Fatalf("create key for %s in %s: %v", user, m.id, err)
	}
	id := aws.ToString(key.AccessKey.AccessKeyId)
	now := time.Now().UTC()
	last := now.Add(-time.Duration(daysAgo) * 24 * time.Hour)
	o.emu.SetKeyFacts(t, id, testenv.KeyFacts{Account: m.id, Created: now.Add(-400 * 24 * time.Hour), LastUsed: &last, SetLastUsed: true})
	return id
}

// keyStatus reads a key's status in its account.
func (o *testOrg) keyStatus(t *testing.T, m *member, user, id string) string {
	t.Helper()
	out, err := m.iam.ListAccessKeys(t.Context(), &iam.ListAccessKeysInput{UserName: aws.String(user)})
	if err != nil {
		t.Fatalf("list keys of %s in %s: %v", user, m.id, err)
	}
	for _, k := range out.AccessKeyMetadata {
		if aws.ToString(k.AccessKeyId) == id {
			return string(k.Status)
		}
	}
	return "gone"
}

// statuses gives every member's keys as "account alice/bob status".
func (o *testOrg) statuses(t *testing.T) []string {
	t.Helper()
	var out []string
	for _, m := range o.members {
		out = append(out, fmt.Sprintf("%s alice %s bob %s", m.id, o.keyStatus(t, m, "alice", m.fresh), o.keyStatus(t, m, "bob", m.stale)))
	}
	return out
}

func (o *testOrg) dispatcher(q fanout.Queue) fanout.Dispatcher {
	return fanout.Dispatcher{
		Orgs: o.orgs, Queue: q, Journal: o.journal, Policies: o.journal, PolicyID: domain.DefaultPolicyID,
		AccountID: func(context.Context) (string, error) { return "123456789012", nil },
		PageSize:  2, // every listing of more than two pages
		Logger:    quietLogger(),
	}
}

func (o *testOrg) worker() fanout.Worker {
	return fanout.Worker{
		Journal: o.journal, Policies: o.journal, PolicyID: domain.DefaultPolicyID,
		Accounts: &fanout.AssumeRoleOpener{
			STS: sts.NewFromConfig(o.cfg), Config: o.cfg, RoleName: testRole, ExternalID: testExternalID,
			Provider: awsiam.Options{PollInterval: 10 * time.Millisecond},
		},
		Engine: func(p engine.KeyStore) *engine.Engine {
			return &engine.Engine{Store: p, Journal: o.journal, Logger: quietLogger()}
		},
		Logger: quietLogger(),
	}
}

func (o *testOrg) local(concurrency int) *fanout.Local {
	return &fanout.Local{Dispatcher: o.dispatcher(nil), Worker: o.worker(), Concurrency: concurrency}
}

func quietLogger() *slog.Logger {
	return slog.New(slog.DiscardHandler)
}

func ids(ms ...*member) []string {
	out := make([]string, len(ms))
	for i, m := range ms {
		out[i] = m.id
	}
	return out
}
