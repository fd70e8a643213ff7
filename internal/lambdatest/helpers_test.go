package lambdatest_test

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/attributevalue"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	ddbtypes "github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/aws-sdk-go-v2/service/iam"

	"github.com/keysweep/keysweep/internal/lambdatest"
	"github.com/keysweep/keysweep/internal/testenv"
	"github.com/keysweep/keysweep/policy"
)

func TestMain(m *testing.M) {
	code := m.Run()
	lambdatest.CleanupBuilds()
	testenv.Shutdown()
	os.Exit(code)
}

// policyID is the policy the functions read: POLICY_ID is not in the
// template, so they read the default one.
const policyID = "default"

// enforcePolicy deactivates keys older than 90 days or unused for 45.
const enforcePolicy = `
version: rie-1
mode: enforce
maxKeyAgeDays: 90
maxInactiveDays: 45
deleteAfterDays: 7
blastRadius: {maxActions: 100, maxPercent: 100}
`

// env is one scenario: a fresh emulator account and the template's
// resources made in it.
type env struct {
	t     *testing.T
	emu   *testenv.Emu
	cfg   aws.Config
	stack *lambdatest.Stack
	iam   *iam.Client
	ddb   *dynamodb.Client
	now   time.Time
}

// newEnv resets the emulator and makes a local stack of template.yaml with
// the given parameters.
func newEnv(t *testing.T, params map[string]string) *env {
	t.Helper()
	lambdatest.SkipShort(t)
	emu := testenv.Emulator(t)
	emu.Reset(t)
	t.Cleanup(func() { emu.ClearFaults(t) })
	cfg := emu.Config(t)
	stack, err := lambdatest.NewStack(context.Background(), cfg, repoTemplate(t), lambdatest.StackOptions{Parameters: params})
	if err != nil {
		t.Fatal(err)
	}
	return &env{t: t, emu: emu, cfg: cfg, stack: stack, iam: iam.NewFromConfig(cfg), ddb: dynamodb.NewFromConfig(cfg), now: time.Now().UTC()}
}

var (
	tmplOnce sync.Once
	tmpl     *lambdatest.Template
	tmplErr  error
)

func repoRoot(t testing.TB) string {
	t.Helper()
	root, err := testenv.RepoRoot()
	if err != nil {
		t.Fatal(err)
	}
	return root
}

func repoTemplate(t testing.TB) *lambdatest.Template {
	t.Helper()
	root := repoRoot(t)
	tmplOnce.Do(func() { tmpl, tmplErr = lambdatest.ReadTemplate(filepath.Join(root, "template.yaml")) })
	if tmplErr != nil {
		t.Fatal(tmplErr)
	}
	return tmpl
}

// event reads events/<name>.
func event(t testing.TB, name string) []byte {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join(repoRoot(t), "events", name))
	if err != nil {
		t.Fatal(err)
	}
	return raw
}

// ref is the stack's !Ref of a parameter or resource.
func (e *env) ref(id string) string {
	e.t.Helper()
	v, err := e.stack.Ref(context.Background(), id)
	if err != nil {
		e.t.Fatal(err)
	}
	return v
}

// invoke runs one invocation and times it.
func invoke(t *testing.T, r *lambdatest.Runtime, payload []byte) *lambdatest.Result {
	t.Helper()
	start := time.Now()
	res, err := r.Invoke(context.Background(), payload)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("invoke %s: %s, %d bytes", r.Function().LogicalID, time.Since(start).Round(time.Millisecond), len(res.Body))
	return res
}

// answer requires an answer, not a function error, and decodes it.
func answer[T any](t *testing.T, res *lambdatest.Result) T {
	t.Helper()
	var v T
	if res.Error != nil {
		t.Fatalf("function error %v; want an answer", res.Error)
	}
	if err := json.Unmarshal(res.Body, &v); err != nil {
		t.Fatalf("decode the answer: %v\n%s", err, res.Body)
	}
	return v
}

// user creates an IAM user with one key, created ageDays ago and last
// used lastUsedDays ago (-1: never), in the default account.
func (e *env) userWithKey(cl *iam.Client, account, user string, ageDays, lastUsedDays int) string {
	e.t.Helper()
	ctx := context.Background()
	if _, err := cl.CreateUser(ctx, &iam.CreateUserInput{UserName: aws.String(user)}); err != nil {
		e.t.Fatalf("create user %s: %v", user, err)
	}
	out, err := cl.CreateAccessKey(ctx, &iam.CreateAccessKeyInput{UserName: aws.String(user)})
	if err != nil {
		e.t.Fatalf("create key for %s: %v", user, err)
	}
	id := aws.ToString(out.AccessKey.AccessKeyId)
	f := testenv.KeyFacts{Account: account, Created: e.now.AddDate(0, 0, -ageDays), SetLastUsed: true}
	if lastUsedDays >= 0 {
		last := e.now.AddDate(0, 0, -lastUsedDays).Add(-time.Hour)
		f.LastUsed = &last
	}
	e.emu.SetKeyFacts(e.t, id, f)
	return id
}

// keyStatus is a key's IAM status, or "gone".
func (e *env) keyStatus(cl *iam.Client, user, id string) string {
	e.t.Helper()
	out, err := cl.ListAccessKeys(context.Background(), &iam.ListAccessKeysInput{UserName: aws.String(user)})
	if err != nil {
		e.t.Fatalf("list keys of %s: %v", user, err)
	}
	for _, k := range out.AccessKeyMetadata {
		if aws.ToString(k.AccessKeyId) == id {
			return string(k.Status)
		}
	}
	return "gone"
}

// putPolicy stores doc in the policy table as the CLI's `policy put`
// does: the policy's attributes, its id and when it was put.
func (e *env) putPolicy(doc string) {
	e.t.Helper()
	p, err := policy.Parse([]byte(doc))
	if err != nil {
		e.t.Fatal(err)
	}
	item, err := attributevalue.MarshalMap(p.Item())
	if err != nil {
		e.t.Fatal(err)
	}
	item["id"] = &ddbtypes.AttributeValueMemberS{Value: policyID}
	item["updatedAt"] = &ddbtypes.AttributeValueMemberS{Value: e.now.Format(time.RFC3339Nano)}
	e.putItem(e.ref("PolicyTable"), item)
}

func (e *env) putItem(table string, item map[string]ddbtypes.AttributeValue) {
	e.t.Helper()
	if _, err := e.ddb.PutItem(context.Background(), &dynamodb.PutItemInput{TableName: aws.String(table), Item: item}); err != nil {
		e.t.Fatalf("put item into %s: %v", table, err)
	}
}

// auditRecord is what the tests read of a history record (docs/AUDIT.md).
type auditRecord struct {
	Kind    string `dynamodbav:"kind"`
	RunID   string `dynamodbav:"runId"`
	Account string `dynamodbav:"account"`
	Action  string `dynamodbav:"action"`
	Result  string `dynamodbav:"result"`
	Actor   string `dynamodbav:"actor"`
}

// records reads a key's history records from the audit table, oldest
// first: items KEY#<id> whose sort key starts with REC#.
func (e *env) records(accessKeyID string) []auditRecord {
	e.t.Helper()
	out, err := e.ddb.Query(context.Background(), &dynamodb.QueryInput{
		TableName:              aws.String(e.ref("AuditTable")),
		KeyConditionExpression: aws.String("pk = :pk AND begins_with(sk, :rec)"),
		ExpressionAttributeValues: map[string]ddbtypes.AttributeValue{
			":pk": &ddbtypes.AttributeValueMemberS{Value: "KEY#" + accessKeyID}, ":rec": &ddbtypes.AttributeValueMemberS{Value: "REC#"},
		},
		ConsistentRead: aws.Bool(true),
	})
	if err != nil {
		e.t.Fatalf("query the records of %s: %v", accessKeyID, err)
	}
	var recs []auditRecord
	if err := attributevalue.UnmarshalListOfMaps(out.Items, &recs); err != nil {
		e.t.Fatal(err)
	}
	return recs
}

// steps is a key's history as kind[:action[:result]], oldest first.
func (e *env) steps(accessKeyID string) []string {
	e.t.Helper()
	var out []string
	for _, r := range e.records(accessKeyID) {
		parts := []string{r.Kind}
		for _, p := range []string{r.Action, r.Result} {
			if p != "" {
				parts = append(parts, p)
			}
		}
		out = append(out, strings.Join(parts, ":"))
	}
	return out
}

// runRecord reads a run's record (RUN#<id>, RUN) from the audit table.
func (e *env) runRecord(runID string) map[string]any {
	e.t.Helper()
	out, err := e.ddb.GetItem(context.Background(), &dynamodb.GetItemInput{
		TableName: aws.String(e.ref("AuditTable")),
		Key: map[string]ddbtypes.AttributeValue{
			"pk": &ddbtypes.AttributeValueMemberS{Value: "RUN#" + runID}, "sk": &ddbtypes.AttributeValueMemberS{Value: "RUN"},
		},
		ConsistentRead: aws.Bool(true),
	})
	if err != nil {
		e.t.Fatalf("get run %s: %v", runID, err)
	}
	var m map[string]any
	if err := attributevalue.UnmarshalMap(out.Item, &m); err != nil {
		e.t.Fatal(err)
	}
	return m
}
