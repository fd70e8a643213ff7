package main

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"testing"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/iam"

	"github.com/keysweep/keysweep/app"
	"github.com/keysweep/keysweep/awsiam"
	"github.com/keysweep/keysweep/internal/testenv"
	"github.com/keysweep/keysweep/store"
)

// keyStatus is the key's IAM status, or "gone".
func keyStatus(t *testing.T, client *iam.Client, user, id string) string {
	t.Helper()
	out, err := client.ListAccessKeys(context.Background(), &iam.ListAccessKeysInput{UserName: aws.String(user)})
	if err != nil {
		t.Fatal(err)
	}
	for _, k := range out.AccessKeyMetadata {
		if aws.ToString(k.AccessKeyId) == id {
			return string(k.Status)
		}
	}
	return "gone"
}

func auditStore(t *testing.T) *store.Dynamo {
	t.Helper()
	emu := testenv.Emulator(t)
	return app.NewDepsFromConfig(emu.Config(t), app.Config{AuditTable: os.Getenv(app.EnvAuditTable), PolicyTable: os.Getenv(app.EnvPolicyTable)}, awsiam.Options{}).Store
}

// TestRevokeAndKeyCommands: revoke and key run the API's code path: the
// same checks, records and answers, with the CLI's exit codes.
func TestRevokeAndKeyCommands(t *testing.T) {
	client, ids := account(t)
	bob := ids["bob"]

	code, stdout, stderr := cli(t, "key", bob)
	if code != exitOK || !strings.Contains(stdout, "key "+bob+" of bob") || !strings.Contains(stdout, "no audit records") {
		t.Fatalf("key: %d\n%s%s", code, stdout, stderr)
	}
	code, stdout, stderr = cli(t, "revoke", bob, "--deactivate", "--reason", "found in a log")
	if code != exitOK || !strings.Contains(stdout, "deactivated access key "+bob) {
		t.Fatalf("revoke --deactivate: %d\n%s%s", code, stdout, stderr)
	}
	if got := keyStatus(t, client, "bob", bob); got != "Inactive" {
		t.Errorf("status %s after --deactivate", got)
	}
	code, stdout, _ = cli(t, "revoke", bob, "--output", "json")
	var rev struct {
		Outcome, Actor, Action string
		Records                []store.Record
	}
	if err := json.Unmarshal([]byte(stdout), &rev); err != nil || code != exitOK {
		t.Fatalf("revoke --output json: %d %v\n%s", code, err, stdout)
	}
	if rev.Outcome != "done" || rev.Action != "delete" || rev.Actor != "cli:"+osUser() || keyStatus(t, client, "bob", bob) != "gone" {
		t.Errorf("answer %+v", rev)
	}
	code, stdout, _ = cli(t, "revoke", bob)
	if code != exitOK || !strings.Contains(stdout, "no longer exists") {
		t.Errorf("revoking a deleted key: %d\n%s", code, stdout)
	}
	code, stdout, _ = cli(t, "key", bob, "--output", "json")
	if code != exitOK || !strings.Contains(stdout, `"exists": false`) {
		t.Errorf("key of a deleted key: %d\n%s", code, stdout)
	}
	recs, err := auditStore(t).ByKey(context.Background(), bob)
	if err != nil || len(recs) != 4 {
		t.Fatalf("records %v, %v", recs, err)
	}
	if recs[0].Actor != "cli:"+osUser() || !strings.Contains(recs[0].Reason, "found in a log") {
		t.Errorf("first record %+v", recs[0])
	}

	for _, tc := range []struct {
		args []string
		code int
	}{
		{[]string{"key", "AKIANOSUCHKEY0000001"}, exitNotFound},
		{[]string{"revoke", "AKIANOSUCHKEY0000001"}, exitNotFound},
		{[]string{"revoke", "AKIA-SHORT"}, exitUsage},
		{[]string{"revoke", ids["alice"], "--reason", strings.Repeat("x", app.MaxReasonChars+1)}, exitUsage},
		{[]string{"revoke", ids["alice"], "--output", "csv"}, exitUsage},
		{[]string{"revoke"}, exitUsage},
		{[]string{"key", "a", "b"}, exitUsage},
	} {
		t.Run(strings.Join(tc.args, "_")[:min(40, len(strings.Join(tc.args, "_")))], func(t *testing.T) {
			if code, stdout, stderr := cli(t, tc.args...); code != tc.code {
				t.Errorf("exit %d, want %d\n%s%s", code, tc.code, stdout, stderr)
			}
		})
	}
	if got := keyStatus(t, client, "alice", ids["alice"]); got != "Active" {
		t.Errorf("bad input changed alice's key: %s", got)
	}
}

// withKey writes a copy of an events/ fixture with its example key id
// replaced.
func withKey(t *testing.T, name, key string) string {
	t.Helper()
	raw, err := os.ReadFile("../../events/" + name)
	if err != nil {
		t.Fatal(err)
	}
	return writeFile(t, name, strings.ReplaceAll(string(raw), "AKIAIOSFODNN7EXAMPLE", key))
}

// TestInvokeAPI: `keysweep invoke api` runs the handler on the generated
// fixtures and prints the proxy response.
func TestInvokeAPI(t *testing.T) {
	client, ids := account(t)
	for _, tc := range []struct {
		file   string
		status int
		code   int
	}{
		{"../../events/api-get-key.json", 404, exitNotFound}, // the example key is not in the account
		{"../../events/api-bad-key-id.json", 400, exitUsage},
		{"../../events/api-revoke.json", 400, exitUsage},
		{"../../events/api-unknown-route.json", 404, exitUsage},
		{"../../events/api-wrong-method.json", 405, exitUsage},
		{"../../events/api-get-sweep.json", 404, exitNotFound},
		{withKey(t, "api-get-key.json", ids["carol"]), 200, exitOK},
		{withKey(t, "api-revoke-key.json", ids["carol"]), 200, exitOK},
	} {
		t.Run(tc.file[strings.LastIndex(tc.file, "/")+1:], func(t *testing.T) {
			code, stdout, stderr := cli(t, "invoke", "api", "--event", tc.file)
			var resp events.APIGatewayProxyResponse
			if err := json.Unmarshal([]byte(stdout), &resp); err != nil {
				t.Fatalf("stdout is not a proxy response: %v\n%s%s", err, stdout, stderr)
			}
			if resp.StatusCode != tc.status || code != tc.code {
				t.Errorf("status %d exit %d, want %d and %d\n%s", resp.StatusCode, code, tc.status, tc.code, resp.Body)
			}
		})
	}
	if got := keyStatus(t, client, "carol", ids["carol"]); got != "gone" {
		t.Errorf("carol's key after the revoke fixture: %s", got)
	}
	recs, err := auditStore(t).ByKey(context.Background(), ids["carol"])
	if err != nil || len(recs) != 2 || recs[0].Actor != "arn:aws:iam::123456789012:user/security-engineer" {
		t.Errorf("records %+v, %v: the actor is the event's caller", recs, err)
	}

	// A sweep started from an event runs in-process to the end.
	code, stdout, stderr := cli(t, "invoke", "api", "--event", "../../events/api-start-sweep.json")
	var resp events.APIGatewayProxyResponse
	if err := json.Unmarshal([]byte(stdout), &resp); err != nil || code != exitOK || resp.StatusCode != 202 {
		t.Fatalf("start sweep: %d %v\n%s%s", code, err, stdout, stderr)
	}
	var acc app.SweepAccepted
	if err := json.Unmarshal([]byte(resp.Body), &acc); err != nil {
		t.Fatal(err)
	}
	run, err := auditStore(t).GetRun(context.Background(), acc.RunID)
	if err != nil || run.Outcome != store.OutcomeCompleted || run.Mode != "audit" {
		t.Errorf("run %+v, %v", run, err)
	}
	if code, _, _ := cli(t, "invoke", "api", "--event", writeFile(t, "sched.json", `{"detail-type": "Scheduled Event"}`)); code != exitUsage {
		t.Errorf("a non-API event: exit %d", code)
	}
}

// TestServeHandler: keysweep serve's handler over HTTP answers as the
// API does, and refuses browser requests and foreign Host names.
func TestServeHandler(t *testing.T) {
	client, ids := account(t)
	c := common{policyTable: os.Getenv(app.EnvPolicyTable), auditTable: os.Getenv(app.EnvAuditTable), policyID: store.DefaultPolicyID}
	a, starter, err := localAPI(context.Background(), &c, "local:test")
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(serveHandler(a, true))
	defer srv.Close()

	do := func(method, path, body string, header map[string]string) (int, http.Header, map[string]any) {
		t.Helper()
		req, err := http.NewRequest(method, srv.URL+path, strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		for k, v := range header {
			if k == "Host" {
				req.Host = v
				continue
			}
			req.Header.Set(k, v)
		}
		resp, err := srv.Client().Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		raw, _ := io.ReadAll(resp.Body)
		var m map[string]any
		if err := json.Unmarshal(raw, &m); err != nil {
			t.Fatalf("%s %s: not JSON: %s", method, path, raw)
		}
		return resp.StatusCode, resp.Header, m
	}
	errCode := func(m map[string]any) string {
		e, _ := m["error"].(map[string]any)
		s, _ := e["code"].(string)
		return s
	}

	alice := ids["alice"]
	if st, _, m := do("GET", "/keys/"+alice, "", nil); st != 200 || m["userName"] != "alice" {
		t.Errorf("GET key: %d %v", st, m)
	}
	// A browser page posting to the local API is refused, and changes nothing.
	if st, _, m := do("POST", "/keys/"+alice+"/revoke", "", map[string]string{"Origin": "https://evil.example"}); st != 403 || errCode(m) != "browser_request" {
		t.Errorf("cross-site POST: %d %v", st, m)
	}
	if st, _, m := do("POST", "/keys/"+alice+"/revoke", "", map[string]string{"Sec-Fetch-Site": "cross-site"}); st != 403 || errCode(m) != "browser_request" {
		t.Errorf("Sec-Fetch-Site cross-site: %d %v", st, m)
	}
	if st, _, m := do("GET", "/keys/"+alice, "", map[string]string{"Host": "rebind.evil.example:8080"}); st != 403 || errCode(m) != "forbidden_host" {
		t.Errorf("foreign Host: %d %v", st, m)
	}
	if keyStatus(t, client, "alice", alice) != "Active" {
		t.Fatal("a refused request changed IAM")
	}
	if st, _, m := do("POST", "/keys/"+alice+"/revoke", `{"action": "deactivate", "reason": "curl test"}`, map[string]string{"Content-Type": "application/json", "Host": "localhost"}); st != 200 || m["outcome"] != "done" || m["actor"] != "local:test" {
		t.Errorf("POST revoke: %d %v", st, m)
	}
	if keyStatus(t, client, "alice", alice) != "Inactive" {
		t.Error("revoke over HTTP did not deactivate")
	}
	if st, h, m := do("DELETE", "/keys/"+alice, "", nil); st != 405 || h.Get("Allow") != "GET" || errCode(m) != "method_not_allowed" {
		t.Errorf("DELETE: %d %v %v", st, h, m)
	}
	if st, _, m := do("GET", "/nope", "", nil); st != 404 || errCode(m) != "unknown_route" {
		t.Errorf("unknown route: %d %v", st, m)
	}
	if st, _, m := do("POST", "/keys/"+alice+"/revoke", strings.Repeat(" ", app.MaxBodyBytes+10), nil); st != 413 || errCode(m) != "body_too_large" {
		t.Errorf("oversized body: %d %v", st, m)
	}
	st, h, m := do("POST", "/sweeps", `{"users": ["bob"]}`, nil)
	if st != 202 || h.Get("Location") != "/sweeps/"+m["runId"].(string) {
		t.Fatalf("POST sweeps: %d %v %v", st, h, m)
	}
	starter.Wait()
	st, _, m = do("GET", "/sweeps/"+m["runId"].(string), "", nil)
	run, _ := m["run"].(map[string]any)
	if st != 200 || run["outcome"] != store.OutcomeCompleted {
		t.Errorf("GET sweep: %d %v", st, m)
	}
}

// TestServeBinding: serve binds to loopback unless told otherwise, and
// says that it has no authorization.
func TestServeBinding(t *testing.T) {
	account(t)
	for _, addr := range []string{"0.0.0.0:0", ":0", "example.com:0", "nonsense"} {
		code, _, stderr := cli(t, "serve", "--addr", addr)
		if code != exitUsage {
			t.Errorf("--addr %s: exit %d, want %d\n%s", addr, code, exitUsage, stderr)
		}
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel() // serve starts, then stops at once
	for _, args := range [][]string{{"serve", "--addr", "127.0.0.1:0"}, {"serve", "--addr", "0.0.0.0:0", "--insecure-bind"}} {
		var out, errb bytes.Buffer
		if code := run(ctx, args, &out, &errb); code != exitOK {
			t.Errorf("%v: exit %d\n%s", args, code, errb.String())
		}
		if !strings.Contains(errb.String(), "NO AUTHORIZATION") {
			t.Errorf("%v: no warning:\n%s", args, errb.String())
		}
	}
}
