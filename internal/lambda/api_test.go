package lambda_test

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/retry"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/attributevalue"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	ddbtypes "github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	"github.com/aws/aws-sdk-go-v2/service/iam/types"
	"github.com/aws/smithy-go"
	"github.com/google/go-cmp/cmp"

	"github.com/keysweep/keysweep/internal/domain"
	"github.com/keysweep/keysweep/internal/engine"
	"github.com/keysweep/keysweep/internal/httpapi"
	"github.com/keysweep/keysweep/internal/keystore/awsiam"
	"github.com/keysweep/keysweep/internal/lambda"
	"github.com/keysweep/keysweep/internal/trigger"
	"github.com/keysweep/keysweep/internal/wiring"
	"github.com/keysweep/keysweep/policy"
)

// fixtureCaller is the IAM caller the generated fixtures carry in
// requestContext.identity (events/generate-api-events.sh).
const fixtureCaller = "arn:aws:iam::123456789012:user/security-engineer"

// fixtureKey is the key id in the fixtures' paths.
const fixtureKey = "AKIAIOSFODNN7EXAMPLE"

// api wires the API on the scenario's emulator exactly as functions/api
// does, except that sweeps start in-process.
// apiWith is the API with sweeps started by starter.
func (e *env) apiWith(starter httpapi.SweepStarter) *lambda.API {
	a := e.deps.API(nil, starter)
	a.RequireIdentity = true
	return lambda.NewAPI(a.Handler())
}

func (e *env) api() (*lambda.API, *httpapi.LocalStarter) {
	e.t.Helper()
	sw := &lambda.Sweeper{Targets: e.deps.Targets(nil), Policies: e.deps.Journal, ManualKind: "api"}
	starter := &httpapi.LocalStarter{Run: func(ctx context.Context, ev trigger.Event) error {
		_, err := sw.Run(ctx, ev)
		return err
	}}
	a := e.deps.API(nil, starter)
	a.RequireIdentity = true
	e.t.Cleanup(starter.Wait)
	return lambda.NewAPI(a.Handler()), starter
}

// fixture decodes events/<name>, a payload made by `sam local
// generate-event apigateway aws-proxy` and edited per route, with the key
// id in its path replaced by key when key is set.
func fixture(t *testing.T, name, key string) events.APIGatewayProxyRequest {
	t.Helper()
	raw, err := os.ReadFile("../../events/" + name)
	if err != nil {
		t.Fatal(err)
	}
	var ev events.APIGatewayProxyRequest
	if err := json.Unmarshal(raw, &ev); err != nil {
		t.Fatalf("decode %s: %v", name, err)
	}
	if key != "" {
		ev.Path = strings.Replace(ev.Path, fixtureKey, key, 1)
		ev.RequestContext.Path = strings.Replace(ev.RequestContext.Path, fixtureKey, key, 1)
		if _, ok := ev.PathParameters["accessKeyId"]; ok {
			ev.PathParameters["accessKeyId"] = key
		}
	}
	return ev
}

// withBody replaces the event's body (sent plain, as API Gateway does for
// JSON).
func withBody(ev events.APIGatewayProxyRequest, body string) events.APIGatewayProxyRequest {
	ev.Body, ev.IsBase64Encoded = body, false
	return ev
}

// answer is a decoded API answer.
type answer struct {
	status  int
	headers map[string]string
	body    map[string]any
	raw     string
}

func call(t *testing.T, a *lambda.API, ev events.APIGatewayProxyRequest) answer {
	t.Helper()
	resp, err := a.Handle(context.Background(), ev)
	if err != nil {
		t.Fatalf("Handle returned an error: %v", err)
	}
	var body map[string]any
	if err := json.Unmarshal([]byte(resp.Body), &body); err != nil {
		t.Fatalf("answer %d is not a JSON object: %v\n%s", resp.StatusCode, err, resp.Body)
	}
	if ct := resp.Headers["Content-Type"]; !strings.HasPrefix(ct, "application/json") {
		t.Errorf("Content-Type %q", ct)
	}
	return answer{status: resp.StatusCode, headers: resp.Headers, body: body, raw: resp.Body}
}

func (an answer) str(path ...string) string {
	var v any = an.body
	for _, p := range path {
		m, ok := v.(map[string]any)
		if !ok {
			return ""
		}
		v = m[p]
	}
	switch x := v.(type) {
	case string:
		return x
	case nil:
		return ""
	default:
		return fmt.Sprint(x)
	}
}

func (an answer) list(name string) []any {
	l, _ := an.body[name].([]any)
	return l
}

// wantError checks an error answer's status and its body's exact shape.
func wantError(t *testing.T, an answer, status int, code string) {
	t.Helper()
	if an.status != status {
		t.Errorf("status %d, want %d: %s", an.status, status, an.raw)
	}
	if len(an.body) != 1 {
		t.Errorf("error body has fields besides error: %s", an.raw)
	}
	e, ok := an.body["error"].(map[string]any)
	if !ok {
		t.Fatalf("no error object: %s", an.raw)
	}
	keys := make([]string, 0, len(e))
	for k := range e {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	if diff := cmp.Diff([]string{"code", "message", "retryable"}, keys); diff != "" {
		t.Errorf("error fields (-want +got):\n%s", diff)
	}
	if e["code"] != code {
		t.Errorf("code %v, want %s: %s", e["code"], code, an.raw)
	}
	if msg, _ := e["message"].(string); msg == "" || strings.Contains(msg, "goroutine ") || strings.Contains(msg, ".go:") {
		t.Errorf("message %q: empty, or a stack trace", msg)
	}
	if _, ok := e["retryable"].(bool); !ok {
		t.Errorf("retryable is not a bool: %s", an.raw)
	}
}

// snapshot is everything a bad request must leave alone: every key in IAM
// with its status, and every item of both tables.
type snapshot struct {
	keys  map[string]string
	items []string
}

func (e *env) snapshot() snapshot {
	e.t.Helper()
	s := snapshot{keys: e.state()}
	for _, table := range []string{e.deps.Config.PolicyTable, e.deps.Config.AuditTable} {
		p := dynamodb.NewScanPaginator(e.deps.DynamoDB, &dynamodb.ScanInput{TableName: aws.String(table), ConsistentRead: aws.Bool(true)})
		for p.HasMorePages() {
			page, err := p.NextPage(e.ctx())
			if err != nil {
				e.t.Fatal(err)
			}
			for _, item := range page.Items {
				s.items = append(s.items, table+" "+itemString(item))
			}
		}
	}
	sort.Strings(s.items)
	return s
}

func itemString(item map[string]ddbtypes.AttributeValue) string {
	var m map[string]any
	if err := attributevalue.UnmarshalMap(item, &m); err != nil {
		return fmt.Sprintf("undecodable item: %v", err)
	}
	b, _ := json.Marshal(m) // map keys sorted
	return string(b)
}

func (e *env) unchanged(before snapshot) {
	e.t.Helper()
	after := e.snapshot()
	if diff := cmp.Diff(before.keys, after.keys); diff != "" {
		e.t.Errorf("IAM changed (-before +after):\n%s", diff)
	}
	if diff := cmp.Diff(before.items, after.items); diff != "" {
		e.t.Errorf("tables changed (-before +after):\n%s", diff)
	}
}

func (e *env) tagUser(name string, tags map[string]string) {
	e.t.Helper()
	in := &iam.TagUserInput{UserName: aws.String(name)}
	for k, v := range tags {
		in.Tags = append(in.Tags, types.Tag{Key: aws.String(k), Value: aws.String(v)})
	}
	if _, err := e.deps.IAM.TagUser(e.ctx(), in); err != nil {
		e.t.Fatal(err)
	}
}

// TestAPIRevokeUsedKey: a key in daily use is deleted on request, with
// an intent before and an outcome after, both naming the caller from the
// request context and the reason.
func TestAPIRevokeUsedKey(t *testing.T) {
	e := newEnv(t)
	e.user("alice", "/", nil)
	id := e.key("alice", 10, 0)
	other := e.key("alice", 10, 0)
	e.putPolicy(enforce)
	a, _ := e.api()

	an := call(t, a, fixture(t, "api-revoke-key.json", id))
	if an.status != http.StatusOK || an.str("outcome") != "done" || an.str("userName") != "alice" || an.str("exempt") != "false" {
		t.Fatalf("answer %d: %s", an.status, an.raw)
	}
	if an.str("policy", "decision") != "keep" || an.str("actor") != fixtureCaller {
		t.Errorf("policy decision %q actor %q", an.str("policy", "decision"), an.str("actor"))
	}
	if diff := cmp.Diff(map[string]string{other: "Active"}, e.state()); diff != "" {
		t.Errorf("IAM (-want +got):\n%s", diff)
	}
	recs, err := e.deps.Journal.ByKey(e.ctx(), id)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]string{"intent:delete", "outcome:delete:done"}, records(t, e, id)); diff != "" {
		t.Errorf("records (-want +got):\n%s", diff)
	}
	for _, r := range recs {
		if r.Actor != fixtureCaller || !strings.Contains(r.Reason, "pushed to a public repository") || r.Decision != policy.Keep || r.Exempt {
			t.Errorf("record %+v", r)
		}
	}
	if len(an.list("records")) != 2 {
		t.Errorf("answer lists %d records", len(an.list("records")))
	}
}

// TestAPIRevokeExemptKey: an exemption does not block an explicit
// revocation, but the answer and the records say the key was exempt.
func TestAPIRevokeExemptKey(t *testing.T) {
	e := newEnv(t)
	e.user("robot", "/", map[string]string{"keysweep:exempt": "true"})
	id := e.key("robot", 400, 200)
	e.putPolicy(enforce)
	a, _ := e.api()

	an := call(t, a, fixture(t, "api-revoke-key.json", id))
	if an.status != http.StatusOK || an.str("exempt") != "true" || an.str("policy", "decision") != "exempt" || an.str("outcome") != "done" {
		t.Fatalf("answer %d: %s", an.status, an.raw)
	}
	if !strings.Contains(an.raw, "exempt") || len(an.list("notes")) == 0 {
		t.Errorf("answer does not explain the exemption: %s", an.raw)
	}
	if _, ok := e.state()[id]; ok {
		t.Error("exempt key not deleted")
	}
	recs, _ := e.deps.Journal.ByKey(e.ctx(), id)
	if len(recs) != 2 {
		t.Fatalf("records %+v", recs)
	}
	for _, r := range recs {
		if !r.Exempt || r.Decision != policy.Exempt || !strings.Contains(r.Reason, "exempt") {
			t.Errorf("record does not say exempt: %+v", r)
		}
	}
}

// TestAPIRevokeTwice: the second request answers that the key is gone,
// with the first request's records, and IAM is not called to change it.
func TestAPIRevokeTwice(t *testing.T) {
	e := newEnv(t)
	e.user("alice", "/", nil)
	id := e.key("alice", 10, 0)
	e.putPolicy(enforce)
	a, _ := e.api()

	first := call(t, a, fixture(t, "api-revoke-key.json", id))
	if first.status != http.StatusOK || first.str("outcome") != "done" {
		t.Fatalf("first: %d %s", first.status, first.raw)
	}
	before := e.snapshot()
	second := call(t, a, fixture(t, "api-revoke-key.json", id))
	if second.status != http.StatusOK || second.str("outcome") != "gone" {
		t.Fatalf("second: %d %s", second.status, second.raw)
	}
	if diff := cmp.Diff(first.body["records"], second.body["records"]); diff != "" {
		t.Errorf("second answer's records are not the first's (-first +second):\n%s", diff)
	}
	if second.str("userName") != "alice" {
		t.Errorf("gone answer without the owner: %s", second.raw)
	}
	calls := e.emu.Calls(t)
	if calls["IAM.DeleteAccessKey"] != 1 || calls["IAM.UpdateAccessKey"] != 0 {
		t.Errorf("IAM changes: %d deletes, %d updates", calls["IAM.DeleteAccessKey"], calls["IAM.UpdateAccessKey"])
	}
	e.unchanged(before)
}

// TestAPIRevokeUnknownKey: a key IAM does not know and keysweep never saw
// is 404 and changes nothing.
func TestAPIRevokeUnknownKey(t *testing.T) {
	e := newEnv(t)
	e.user("alice", "/", nil)
	e.key("alice", 10, 0)
	e.putPolicy(enforce)
	a, _ := e.api()
	before := e.snapshot()
	wantError(t, call(t, a, fixture(t, "api-revoke-key.json", "AKIANOSUCHKEY0000001")), http.StatusNotFound, "key_not_found")
	wantError(t, call(t, a, fixture(t, "api-get-key.json", "AKIANOSUCHKEY0000001")), http.StatusNotFound, "key_not_found")
	e.unchanged(before)
}

// TestAPIDeactivateThenDelete: deactivate, deactivate again (no IAM
// call, and the answer says so), then delete.
func TestAPIDeactivateThenDelete(t *testing.T) {
	e := newEnv(t)
	e.user("alice", "/", nil)
	id := e.key("alice", 10, 0)
	e.putPolicy(enforce)
	a, _ := e.api()
	deactivate := withBody(fixture(t, "api-revoke-key.json", id), `{"action": "deactivate", "reason": "rotating"}`)

	an := call(t, a, deactivate)
	if an.status != http.StatusOK || an.str("outcome") != "done" || an.str("action") != "deactivate" {
		t.Fatalf("deactivate: %d %s", an.status, an.raw)
	}
	if got := e.state()[id]; got != "Inactive" {
		t.Fatalf("status %s after deactivate", got)
	}
	an = call(t, a, deactivate)
	if an.status != http.StatusOK || an.str("outcome") != string(domain.KeyAlreadyInactive) || !strings.Contains(an.str("message"), "not called") {
		t.Fatalf("second deactivate: %d %s", an.status, an.raw)
	}
	if n := e.emu.Calls(t)["IAM.UpdateAccessKey"]; n != 1 {
		t.Errorf("%d UpdateAccessKey calls, want 1", n)
	}
	an = call(t, a, withBody(fixture(t, "api-revoke-key.json", id), `{"action": "delete"}`))
	if an.status != http.StatusOK || an.str("outcome") != "done" || an.str("statusBefore") != "Inactive" {
		t.Fatalf("delete: %d %s", an.status, an.raw)
	}
	if _, ok := e.state()[id]; ok {
		t.Error("key not deleted")
	}
	want := []string{"intent:deactivate", "outcome:deactivate:done", "decision:deactivate:already-inactive", "intent:delete", "outcome:delete:done"}
	if diff := cmp.Diff(want, records(t, e, id)); diff != "" {
		t.Errorf("records (-want +got):\n%s", diff)
	}
	st, err := e.deps.Journal.KeyState(e.ctx(), id)
	if err != nil || st == nil || st.Stage != domain.StageDeleted || st.Intent != nil {
		t.Errorf("state %+v, %v", st, err)
	}
}

// TestAPIGetKeyWithHistory: a key a sweep deactivated shows its owner,
// status, dates, the decision the policy gives it now, keysweep's state and
// its audit history; GET changes nothing.
func TestAPIGetKeyWithHistory(t *testing.T) {
	e := newEnv(t)
	e.user("old", "/", nil)
	id := e.key("old", 400, 1)
	e.putPolicy(enforce)
	e.mustSweep(e.scheduled())
	a, _ := e.api()

	before := e.snapshot()
	an := call(t, a, fixture(t, "api-get-key.json", id))
	if an.status != http.StatusOK {
		t.Fatalf("%d %s", an.status, an.raw)
	}
	for path, want := range map[string]string{
		"accessKeyId": id, "userName": "old", "status": "Inactive", "exists": "true", "account": "123456789012",
		"policy/decision": "keep", "policy/policyVersion": "t-1", "policy/policySource": engine.SourceStored, "state/stage": "deactivated",
	} {
		if got := an.str(strings.Split(path, "/")...); got != want {
			t.Errorf("%s = %q, want %q", path, got, want)
		}
	}
	if !strings.Contains(an.str("policy", "reason"), "delete due") {
		t.Errorf("reason %q does not say when the delete is due", an.str("policy", "reason"))
	}
	if an.str("createdAt") == "" || an.str("lastUsedAt") == "" {
		t.Errorf("dates missing: %s", an.raw)
	}
	hist := an.list("history")
	if len(hist) != 2 {
		t.Fatalf("history %v", hist)
	}
	if k := hist[0].(map[string]any)["kind"]; k != "intent" {
		t.Errorf("first record kind %v", k)
	}
	e.unchanged(before)

	// Once deleted, the key is shown from its history.
	call(t, a, fixture(t, "api-revoke-key.json", id))
	an = call(t, a, fixture(t, "api-get-key.json", id))
	if an.status != http.StatusOK || an.str("exists") != "false" || len(an.list("history")) != 4 || an.str("state", "stage") != "deleted" {
		t.Errorf("deleted key: %d %s", an.status, an.raw)
	}
}

// TestAPIStartSweepAndReadBack: POST /sweeps queues a run and answers 202
// with its id at once; the sweep runs (in-process here, the sweeper
// Lambda when deployed) and GET /sweeps/{runId} shows its record.
func TestAPIStartSweepAndReadBack(t *testing.T) {
	e := newEnv(t)
	e.user("alice", "/", nil)
	alice := e.key("alice", 400, 200)
	e.user("bob", "/", nil)
	e.key("bob", 10, 1)
	e.user("carol", "/", nil)
	carol := e.key("carol", 400, 200)
	e.putPolicy(enforce)
	a, starter := e.api()

	an := call(t, a, fixture(t, "api-start-sweep.json", "")) // {"mode": "audit", "users": ["alice", "bob"]}
	if an.status != http.StatusAccepted || an.str("outcome") != string(domain.RunQueued) {
		t.Fatalf("%d %s", an.status, an.raw)
	}
	runID := an.str("runId")
	if !strings.HasPrefix(runID, "r-") || an.headers["Location"] != "/prod/sweeps/"+runID || an.str("location") != "/prod/sweeps/"+runID {
		t.Errorf("run id %q, Location %q", runID, an.headers["Location"])
	}
	starter.Wait()

	get := fixture(t, "api-get-sweep.json", "")
	get.Path = "/sweeps/" + runID
	get.PathParameters["runId"] = runID
	an = call(t, a, get)
	if an.status != http.StatusOK {
		t.Fatalf("%d %s", an.status, an.raw)
	}
	for path, want := range map[string]string{
		"run/runId": runID, "run/outcome": string(domain.RunCompleted), "run/mode": "audit",
		"run/trigger/kind": "api", "run/trigger/source": fixtureCaller, "run/counts/evaluated": "2", "run/counts/deactivate": "1",
	} {
		if got := an.str(strings.Split(path, "/")...); got != want {
			t.Errorf("%s = %q, want %q", path, got, want)
		}
	}
	if diff := cmp.Diff(map[string]string{alice: "Active", carol: "Active"}, map[string]string{alice: e.state()[alice], carol: e.state()[carol]}); diff != "" {
		t.Errorf("an audit sweep changed IAM (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]string{"decision:planned"}, records(t, e, alice)); diff != "" {
		t.Errorf("records of alice (-want +got):\n%s", diff)
	}
	if recs := records(t, e, carol); len(recs) != 0 {
		t.Errorf("carol was outside the narrowed sweep, records %v", recs)
	}
}

// TestAPIStartSweepInvokesSweeperAsynchronously: in Lambda, POST /sweeps
// invokes the sweeper with InvocationType Event and the manual payload
// the sweeper parses; a failed invocation marks the queued run failed.
func TestAPIStartSweepInvokesSweeperAsynchronously(t *testing.T) {
	e := newEnv(t)
	inv := &fakeInvoker{status: 202}
	a := e.apiWith(&httpapi.LambdaStarter{Client: inv, Function: "keysweep-SweeperFunction-X"})

	an := call(t, a, withBody(fixture(t, "api-start-sweep.json", ""), `{"users": ["alice"]}`))
	if an.status != http.StatusAccepted || len(inv.calls) != 1 {
		t.Fatalf("%d %s, %d invocations", an.status, an.raw, len(inv.calls))
	}
	in := inv.calls[0]
	if aws.ToString(in.FunctionName) != "keysweep-SweeperFunction-X" || in.InvocationType != "Event" {
		t.Errorf("invocation %s %s", aws.ToString(in.FunctionName), in.InvocationType)
	}
	ev, err := trigger.Parse(in.Payload)
	if err != nil || ev.RunID != an.str("runId") || !cmp.Equal(ev.Users, []string{"alice"}) || ev.Kind != "api" || ev.Source != fixtureCaller {
		t.Errorf("payload %s parses to %+v, %v", in.Payload, ev, err)
	}
	run, err := e.deps.Journal.GetRun(e.ctx(), ev.RunID)
	if err != nil || run.Outcome != domain.RunQueued || run.Trigger.Source != fixtureCaller {
		t.Errorf("queued run %+v, %v", run, err)
	}

	inv.err = &smithy.GenericAPIError{Code: "TooManyRequestsException", Message: "Rate exceeded", Fault: smithy.FaultClient}
	an = call(t, a, fixture(t, "api-start-sweep.json", ""))
	wantError(t, an, http.StatusServiceUnavailable, "throttled")
	failed := inv.calls[len(inv.calls)-1]
	fev, _ := trigger.Parse(failed.Payload)
	run, err = e.deps.Journal.GetRun(e.ctx(), fev.RunID)
	if err != nil || run.Outcome != domain.RunFailed || len(run.Errors) == 0 {
		t.Errorf("run of a failed invocation %+v, %v", run, err)
	}
}

// TestAPIConflictWithPendingIntent: a key another run is acting on is 409,
// retryable, and IAM is not called.
func TestAPIConflictWithPendingIntent(t *testing.T) {
	e := newEnv(t)
	e.user("alice", "/", nil)
	id := e.key("alice", 10, 0)
	if err := e.deps.Journal.WriteIntent(e.ctx(), domain.Record{Kind: domain.KindIntent, RunID: "r-inflight", Account: "123456789012",
		UserName: "alice", AccessKeyID: id, Action: "deactivate", At: time.Now()}); err != nil {
		t.Fatal(err)
	}
	a, _ := e.api()
	before := e.snapshot()
	an := call(t, a, fixture(t, "api-revoke-key.json", id))
	wantError(t, an, http.StatusConflict, "conflict")
	if an.str("error", "retryable") != "true" || !strings.Contains(an.str("error", "message"), "r-inflight") {
		t.Errorf("conflict answer %s", an.raw)
	}
	e.unchanged(before)
}

// TestAPIUpstreamFailures: IAM and DynamoDB failures are 502 or 503 with a
// retryable hint; a failure before the IAM call changes nothing, and one of
// the IAM call itself is recorded as a failed outcome.
func TestAPIUpstreamFailures(t *testing.T) {
	for _, tc := range []struct {
		name, op, code string
		status         int
		wantStatus     int
		wantCode       string
		retryable      bool
		recorded       bool // the failure is after the intent
	}{
		{"iam throttled", "IAM.DeleteAccessKey", "Throttling", 400, http.StatusServiceUnavailable, "throttled", true, true},
		{"iam denied", "IAM.DeleteAccessKey", "AccessDenied", 403, http.StatusBadGateway, "upstream_error", false, true},
		{"iam unavailable", "IAM.GetAccessKeyLastUsed", "ServiceUnavailable", 503, http.StatusBadGateway, "upstream_error", true, false},
		{"dynamodb throttled", "DynamoDB.TransactWriteItems", "ThrottlingException", 400, http.StatusServiceUnavailable, "throttled", true, false},
		{"dynamodb policy read fails", "DynamoDB.GetItem", "InternalServerError", 500, http.StatusBadGateway, "upstream_error", true, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t)
			// One attempt per call: the SDK's retries would only slow the test.
			cfg := e.emu.Config(t)
			cfg.Retryer = func() aws.Retryer { return retry.AddWithMaxAttempts(retry.NewStandard(), 1) }
			e.deps = wiring.NewDepsFromConfig(cfg, e.deps.Config, awsiam.Options{})
			e.user("alice", "/", nil)
			id := e.key("alice", 10, 0)
			a, _ := e.api()
			before := e.snapshot()
			e.emu.Fault(t, tc.op, tc.code, tc.status, 0)
			an := call(t, a, fixture(t, "api-revoke-key.json", id))
			e.emu.ClearFaults(t)
			wantError(t, an, tc.wantStatus, tc.wantCode)
			if got := an.str("error", "retryable"); got != fmt.Sprint(tc.retryable) {
				t.Errorf("retryable %s, want %v: %s", got, tc.retryable, an.raw)
			}
			if !strings.Contains(an.str("error", "message"), tc.code) {
				t.Errorf("message does not name the service's error %s: %s", tc.code, an.raw)
			}
			if !tc.recorded {
				e.unchanged(before)
				return
			}
			if diff := cmp.Diff(before.keys, e.state()); diff != "" {
				t.Errorf("IAM changed (-before +after):\n%s", diff)
			}
			if diff := cmp.Diff([]string{"intent:delete", "outcome:delete:failed"}, records(t, e, id)); diff != "" {
				t.Errorf("records (-want +got):\n%s", diff)
			}
		})
	}
}

// TestAPIBadInput: every bad request gets its status and a JSON error with
// a stable code, and changes neither IAM nor the tables.
func TestAPIBadInput(t *testing.T) {
	e := newEnv(t)
	e.user("alice", "/", nil)
	id := e.key("alice", 400, 200)
	e.putPolicy(strings.Replace(enforce, "mode: enforce", "mode: audit", 1))
	e.mustSweep(e.scheduled()) // some history, so the tables are not empty
	a, _ := e.api()

	revoke := func(body string) events.APIGatewayProxyRequest {
		return withBody(fixture(t, "api-revoke-key.json", id), body)
	}
	revokeB64 := func(body string) events.APIGatewayProxyRequest {
		ev := fixture(t, "api-revoke-key.json", id)
		ev.Body, ev.IsBase64Encoded = body, true
		return ev
	}
	sweeps := func(body string) events.APIGatewayProxyRequest {
		return withBody(fixture(t, "api-start-sweep.json", ""), body)
	}
	withPath := func(name, path string, params map[string]string) events.APIGatewayProxyRequest {
		ev := fixture(t, name, "")
		ev.Path, ev.PathParameters = path, params
		return ev
	}
	// The fixture `make events` generates, with the caller AWS_IAM adds.
	generated := fixture(t, "api-revoke.json", "")
	generated.RequestContext.Identity = fixture(t, "api-revoke-key.json", "").RequestContext.Identity
	noIdentity := fixture(t, "api-revoke-key.json", id)
	noIdentity.RequestContext.Identity = events.APIGatewayRequestIdentity{SourceIP: "127.0.0.1"}
	long := strings.Repeat("x", httpapi.MaxReasonChars+1)

	for _, tc := range []struct {
		name   string
		ev     events.APIGatewayProxyRequest
		status int
		code   string
		allow  string
	}{
		{"generated fixture: key id too short", generated, 400, "invalid_key_id", ""},
		{"key id with a dash", fixture(t, "api-bad-key-id.json", ""), 400, "invalid_key_id", ""},
		{"key id of 15 characters", fixture(t, "api-revoke-key.json", "AKIA12345678901"), 400, "invalid_key_id", ""},
		{"key id of 129 characters", fixture(t, "api-revoke-key.json", "A"+strings.Repeat("K", 128)), 400, "invalid_key_id", ""},
		{"key id not ASCII", fixture(t, "api-revoke-key.json", "AKIAÉÉÉÉÉÉÉÉÉÉÉÉÉÉÉÉ"), 400, "invalid_key_id", ""},
		{"key id with a slash", withPath("api-get-key.json", "/keys/AKIA..%2F..%2Fsweeps", map[string]string{"accessKeyId": "AKIA../../sweeps"}), 400, "invalid_key_id", ""},
		{"get: key id too short", fixture(t, "api-get-key.json", "AKIA1"), 400, "invalid_key_id", ""},
		{"malformed JSON", revoke(`{"reason": "x"`), 400, "invalid_body", ""},
		{"body an array", revoke(`["delete"]`), 400, "invalid_body", ""},
		{"body a string", revoke(`"delete"`), 400, "invalid_body", ""},
		{"body null", revoke(`null`), 400, "invalid_body", ""},
		{"trailing data", revoke(`{"action": "delete"} {"action": "delete"}`), 400, "invalid_body", ""},
		{"not UTF-8", revoke("{\"reason\": \"\xff\xfe\"}"), 400, "invalid_body", ""},
		{"not base64", revokeB64("{not base64}"), 400, "invalid_body", ""},
		{"oversized body", revoke(`{"reason": "` + strings.Repeat("x", httpapi.MaxBodyBytes) + `"}`), 413, "body_too_large", ""},
		{"oversized base64 body", revokeB64(base64.StdEncoding.EncodeToString([]byte(strings.Repeat(" ", 2*httpapi.MaxBodyBytes)))), 413, "body_too_large", ""},
		{"unknown field", revoke(`{"reason": "x", "force": true}`), 400, "unknown_field", ""},
		{"field in another case", revoke(`{"Action": "deactivate"}`), 400, "unknown_field", ""},
		{"field given twice", revoke(`{"action": "deactivate", "action": "delete"}`), 400, "invalid_body", ""},
		{"reason too long", revoke(`{"reason": "` + long + `"}`), 400, "reason_too_long", ""},
		{"reason not a string", revoke(`{"reason": 42}`), 400, "invalid_body", ""},
		{"reason with a control character", revoke(`{"reason": "a\u0000b"}`), 400, "invalid_reason", ""},
		{"reason with a right-to-left override", revoke(`{"reason": "leaked in \u202egnp.yek"}`), 400, "invalid_reason", ""},
		{"unknown action", revoke(`{"action": "destroy"}`), 400, "invalid_action", ""},
		{"action in capitals", revoke(`{"action": "DELETE"}`), 400, "invalid_action", ""},
		{"action not a string", revoke(`{"action": ["delete"]}`), 400, "invalid_body", ""},
		{"unknown route", fixture(t, "api-unknown-route.json", ""), 404, "unknown_route", ""},
		{"route with a trailing slash", withPath("api-unknown-route.json", "/sweeps/", nil), 404, "unknown_route", ""},
		{"empty key id", withPath("api-unknown-route.json", "/keys//revoke", nil), 404, "unknown_route", ""},
		{"wrong method on a key", fixture(t, "api-wrong-method.json", ""), 405, "method_not_allowed", "GET"},
		{"GET revoke", func() events.APIGatewayProxyRequest {
			ev := fixture(t, "api-revoke-key.json", id)
			ev.HTTPMethod = http.MethodGet
			return ev
		}(), 405, "method_not_allowed", "POST"},
		{"PUT sweeps", func() events.APIGatewayProxyRequest {
			ev := fixture(t, "api-start-sweep.json", "")
			ev.HTTPMethod = http.MethodPut
			return ev
		}(), 405, "method_not_allowed", "POST"},
		{"unknown key", fixture(t, "api-revoke-key.json", "AKIANOSUCHKEY0000001"), 404, "key_not_found", ""},
		{"sweep: run id is the API's", sweeps(`{"runId": "r-mine"}`), 400, "unknown_field", ""},
		{"sweep: event id", sweeps(`{"eventId": "e-1"}`), 400, "unknown_field", ""},
		{"sweep: scheduled event", sweeps(`{"detail-type": "Scheduled Event"}`), 400, "unknown_field", ""},
		{"sweep: empty user list", sweeps(`{"users": []}`), 400, "invalid_sweep", ""},
		{"sweep: bad user name", sweeps(`{"users": ["bad name!"]}`), 400, "invalid_sweep", ""},
		{"sweep: unknown mode", sweeps(`{"mode": "destroy"}`), 400, "invalid_sweep", ""},
		{"sweep: enforce over an audit policy", sweeps(`{"mode": "enforce"}`), 400, "mode_not_allowed", ""},
		{"sweep: malformed", sweeps(`{"users": ["alice"],}`), 400, "invalid_body", ""},
		{"sweep: bad run id", withPath("api-get-sweep.json", "/sweeps/r 1", map[string]string{"runId": "r 1"}), 400, "invalid_run_id", ""},
		{"sweep: unknown run", withPath("api-get-sweep.json", "/sweeps/r-nosuchrun", map[string]string{"runId": "r-nosuchrun"}), 404, "run_not_found", ""},
		{"no caller identity", noIdentity, 403, "no_identity", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			before := e.snapshot()
			an := call(t, a, tc.ev)
			wantError(t, an, tc.status, tc.code)
			if an.str("error", "retryable") != "false" {
				t.Errorf("a client error is retryable: %s", an.raw)
			}
			if got := an.headers["Allow"]; got != tc.allow {
				t.Errorf("Allow %q, want %q", got, tc.allow)
			}
			e.unchanged(before)
		})
	}
}

// TestAPIFixturesDecode: every API fixture decodes into the proxy event
// with the route, identity and body the tests rely on.
func TestAPIFixturesDecode(t *testing.T) {
	for _, tc := range []struct {
		file, method, resource, body string
	}{
		{"api-revoke-key.json", "POST", "/keys/{accessKeyId}/revoke", `{"reason": "pushed to a public repository", "action": "delete"}`},
		{"api-get-key.json", "GET", "/keys/{accessKeyId}", ""},
		{"api-start-sweep.json", "POST", "/sweeps", `{"mode": "audit", "users": ["alice", "bob"]}`},
		{"api-get-sweep.json", "GET", "/sweeps/{runId}", ""},
		{"api-bad-key-id.json", "POST", "/keys/{accessKeyId}/revoke", "{}"},
		{"api-unknown-route.json", "GET", "/{proxy+}", ""},
		{"api-wrong-method.json", "DELETE", "/keys/{accessKeyId}", ""},
	} {
		t.Run(tc.file, func(t *testing.T) {
			ev := fixture(t, tc.file, "")
			body := ev.Body
			if ev.IsBase64Encoded {
				b, err := base64.StdEncoding.DecodeString(ev.Body)
				if err != nil {
					t.Fatal(err)
				}
				body = string(b)
			}
			if ev.HTTPMethod != tc.method || ev.Resource != tc.resource || body != tc.body {
				t.Errorf("got %s %s body %q", ev.HTTPMethod, ev.Resource, body)
			}
			if ev.RequestContext.Identity.UserArn != fixtureCaller {
				t.Errorf("identity %+v", ev.RequestContext.Identity)
			}
		})
	}
}
