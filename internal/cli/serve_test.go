package cli

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

	"github.com/keysweep/keysweep/internal/domain"
	"github.com/keysweep/keysweep/internal/httpapi"
)

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

// TestInvokeAPI: `keysweep invoke api` runs the API Lambda's handler on the
// generated fixtures and prints the proxy response.
func TestInvokeAPI(t *testing.T) {
	client, ids := account(t)
	for _, tc := range []struct {
		file   string
		status int
		code   int
	}{
		{"../../events/api-get-key.json", 404, ExitNotFound}, // the example key is not in the account
		{"../../events/api-bad-key-id.json", 400, ExitUsage},
		{"../../events/api-revoke.json", 400, ExitUsage},
		{"../../events/api-unknown-route.json", 404, ExitUsage},
		{"../../events/api-wrong-method.json", 405, ExitUsage},
		{"../../events/api-get-sweep.json", 404, ExitNotFound},
		{withKey(t, "api-get-key.json", ids["carol"]), 200, ExitOK},
		{withKey(t, "api-revoke-key.json", ids["carol"]), 200, ExitOK},
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
	j, _ := journalOf(t)
	recs, err := j.ByKey(context.Background(), ids["carol"])
	if err != nil || len(recs) != 2 || recs[0].Actor != "arn:aws:iam::123456789012:user/security-engineer" {
		t.Errorf("records %+v, %v: the actor is the event's caller", recs, err)
	}

	// A sweep started from an event runs in-process to the end.
	code, stdout, stderr := cli(t, "invoke", "api", "--event", "../../events/api-start-sweep.json")
	var resp events.APIGatewayProxyResponse
	if err := json.Unmarshal([]byte(stdout), &resp); err != nil || code != ExitOK || resp.StatusCode != 202 {
		t.Fatalf("start sweep: %d %v\n%s%s", code, err, stdout, stderr)
	}
	var acc httpapi.SweepAccepted
	if err := json.Unmarshal([]byte(resp.Body), &acc); err != nil {
		t.Fatal(err)
	}
	run, err := j.GetRun(context.Background(), acc.RunID)
	if err != nil || run.Outcome != domain.RunCompleted || run.Mode != "audit" {
		t.Errorf("run %+v, %v", run, err)
	}
	if code, _, _ := cli(t, "invoke", "api", "--event", writeFile(t, "sched.json", `{"detail-type": "Scheduled Event"}`)); code != ExitUsage {
		t.Errorf("a non-API event: exit %d", code)
	}
}

// serveTest serves `keysweep serve`'s handler on an httptest server.
type serveTest struct {
	t   *testing.T
	srv *httptest.Server
}

func (st serveTest) do(method, path, body string, header map[string]string) (int, http.Header, map[string]any) {
	st.t.Helper()
	req, err := http.NewRequest(method, st.srv.URL+path, strings.NewReader(body))
	if err != nil {
		st.t.Fatal(err)
	}
	for k, v := range header {
		if k == "Host" {
			req.Host = v
			continue
		}
		req.Header.Set(k, v)
	}
	resp, err := st.srv.Client().Do(req)
	if err != nil {
		st.t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	var m map[string]any
	if err := json.Unmarshal(raw, &m); err != nil {
		st.t.Fatalf("%s %s: not JSON: %s", method, path, raw)
	}
	return resp.StatusCode, resp.Header, m
}

func errCode(m map[string]any) string {
	e, _ := m["error"].(map[string]any)
	s, _ := e["code"].(string)
	return s
}

// TestServeHandler: keysweep serve's handler over HTTP answers as the API
// does, refuses browser requests and foreign Host names, and routes on the
// escaped path.
func TestServeHandler(t *testing.T) {
	client, ids := account(t)
	s, _, _ := testStreams()
	o := &serveOptions{}
	d, err := o.deps(context.Background(), s, true)
	if err != nil {
		t.Fatal(err)
	}
	starter := o.localStarter(d, s)
	api := d.API(s.log, starter)
	api.DefaultActor = "local:test"
	srv := httptest.NewServer(serveHandler(api.Handler(), true))
	defer srv.Close()
	st := serveTest{t: t, srv: srv}

	alice := ids["alice"]
	if code, _, m := st.do("GET", "/keys/"+alice, "", nil); code != 200 || m["userName"] != "alice" {
		t.Errorf("GET key: %d %v", code, m)
	}
	// A browser page posting to the local API is refused, and changes nothing.
	if code, _, m := st.do("POST", "/keys/"+alice+"/revoke", "", map[string]string{"Origin": "https://evil.example"}); code != 403 || errCode(m) != "browser_request" {
		t.Errorf("cross-site POST: %d %v", code, m)
	}
	if code, _, m := st.do("POST", "/keys/"+alice+"/revoke", "", map[string]string{"Sec-Fetch-Site": "cross-site"}); code != 403 || errCode(m) != "browser_request" {
		t.Errorf("Sec-Fetch-Site cross-site: %d %v", code, m)
	}
	if code, _, m := st.do("GET", "/keys/"+alice, "", map[string]string{"Host": "rebind.evil.example:8080"}); code != 403 || errCode(m) != "forbidden_host" {
		t.Errorf("foreign Host: %d %v", code, m)
	}
	// An escaped "/" stays in the key id's segment: the path is the key
	// route, which takes no POST, and never the revoke route.
	for _, path := range []string{"/keys/" + alice + "%2Frevoke", "/keys/" + alice + "%2frevoke", "/targets/aws/keys/" + alice + "%2Frevoke"} {
		code, _, m := st.do("POST", path, `{"action": "delete"}`, nil)
		if code != 405 && code != 400 {
			t.Errorf("POST %s: %d %v, want 405 or 400", path, code, m)
		}
	}
	if keyStatus(t, client, "alice", alice) != "Active" {
		t.Fatal("a refused request changed IAM")
	}
	if code, _, m := st.do("POST", "/keys/"+alice+"/revoke", `{"action": "deactivate", "reason": "curl test"}`, map[string]string{"Content-Type": "application/json", "Host": "localhost"}); code != 200 || m["outcome"] != "done" || m["actor"] != "local:test" {
		t.Errorf("POST revoke: %d %v", code, m)
	}
	if keyStatus(t, client, "alice", alice) != "Inactive" {
		t.Error("revoke over HTTP did not deactivate")
	}
	if code, h, m := st.do("DELETE", "/keys/"+alice, "", nil); code != 405 || h.Get("Allow") != "GET" || errCode(m) != "method_not_allowed" {
		t.Errorf("DELETE: %d %v %v", code, h, m)
	}
	if code, _, m := st.do("GET", "/nope", "", nil); code != 404 || errCode(m) != "unknown_route" {
		t.Errorf("unknown route: %d %v", code, m)
	}
	if code, _, m := st.do("POST", "/keys/"+alice+"/revoke", strings.Repeat(" ", httpapi.MaxBodyBytes+10), nil); code != 413 || errCode(m) != "body_too_large" {
		t.Errorf("oversized body: %d %v", code, m)
	}
	code, h, m := st.do("POST", "/sweeps", `{"users": ["bob"]}`, nil)
	if code != 202 || h.Get("Location") != "/sweeps/"+m["runId"].(string) {
		t.Fatalf("POST sweeps: %d %v %v", code, h, m)
	}
	starter.Wait()
	code, _, m = st.do("GET", "/sweeps/"+m["runId"].(string), "", nil)
	run, _ := m["run"].(map[string]any)
	if code != 200 || run["outcome"] != string(domain.RunCompleted) {
		t.Errorf("GET sweep: %d %v", code, m)
	}
}

// TestServeBinding: serve binds to loopback unless told otherwise, and
// says that it has no authorization.
func TestServeBinding(t *testing.T) {
	account(t)
	for _, addr := range []string{"0.0.0.0:0", ":0", "example.com:0", "nonsense"} {
		code, _, stderr := cli(t, "serve", "--addr", addr)
		if code != ExitUsage {
			t.Errorf("--addr %s: exit %d, want %d\n%s", addr, code, ExitUsage, stderr)
		}
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel() // serve starts, then stops at once
	for _, args := range [][]string{{"serve", "--addr", "127.0.0.1:0"}, {"serve", "--addr", "0.0.0.0:0", "--insecure-bind"}} {
		var out, errb bytes.Buffer
		if code := Run(ctx, args, &out, &errb); code != ExitOK {
			t.Errorf("%v: exit %d\n%s", args, code, errb.String())
		}
		wantContains(t, "serve's warning", errb.String(), "NO AUTHORIZATION")
	}
}
