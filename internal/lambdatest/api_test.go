package lambdatest_test

import (
	"bytes"
	"encoding/json"
	"net/http"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/keysweep/keysweep/internal/lambdatest"
)

// fixtureKey and fixtureCaller are the key id in the API fixtures' paths
// and the IAM caller they carry (events/generate-api-events.sh).
const (
	fixtureKey    = "AKIAIOSFODNN7EXAMPLE"
	fixtureCaller = "arn:aws:iam::123456789012:user/security-engineer"
)

// proxyResponse is the API Gateway proxy answer the function returns.
type proxyResponse struct {
	StatusCode        int                 `json:"statusCode"`
	Headers           map[string]string   `json:"headers"`
	MultiValueHeaders map[string][]string `json:"multiValueHeaders"`
	Body              string              `json:"body"`
}

// header reads a header from either map, whatever its case.
func (p proxyResponse) header(name string) string {
	for k, v := range p.Headers {
		if strings.EqualFold(k, name) {
			return v
		}
	}
	for k, v := range p.MultiValueHeaders {
		if strings.EqualFold(k, name) {
			return strings.Join(v, ", ")
		}
	}
	return ""
}

// json decodes the answer's body.
func (p proxyResponse) json(t *testing.T) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal([]byte(p.Body), &m); err != nil {
		t.Fatalf("body of the %d answer is not a JSON object: %v\n%s", p.StatusCode, err, p.Body)
	}
	return m
}

// field follows keys into a decoded body; "" when missing.
func field(m map[string]any, path ...string) string {
	var v any = m
	for _, k := range path {
		obj, ok := v.(map[string]any)
		if !ok {
			return ""
		}
		v = obj[k]
	}
	switch x := v.(type) {
	case nil:
		return ""
	case string:
		return x
	default:
		raw, _ := json.Marshal(x)
		return string(raw)
	}
}

// withKey is an API fixture with the fixtures' key id replaced.
func withKey(raw []byte, key string) []byte {
	return bytes.ReplaceAll(raw, []byte(fixtureKey), []byte(key))
}

// TestAPIRevoke: the deployed API function, on the generated API Gateway
// event, deletes the key, answers who did it, and records the intent and
// the outcome under the caller's ARN; a GET then shows the key gone with
// its history.
func TestAPIRevoke(t *testing.T) {
	e := newEnv(t, nil)
	leaked := e.userWithKey(e.iam, "", "ci-bot", 30, 1)
	e.putPolicy(enforcePolicy)

	fn := lambdatest.Run(t, e.stack, "ApiFunction")
	resp := answer[proxyResponse](t, invoke(t, fn, withKey(event(t, "api-revoke-key.json"), leaked)))

	body := resp.json(t)
	got := map[string]string{
		"status": http.StatusText(resp.StatusCode), "outcome": field(body, "outcome"),
		"action": field(body, "action"), "userName": field(body, "userName"), "actor": field(body, "actor"),
	}
	want := map[string]string{"status": "OK", "outcome": "done", "action": "delete", "userName": "ci-bot", "actor": fixtureCaller}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("revoke answer (-want +got):\n%s\n%s", diff, resp.Body)
	}
	if got := e.keyStatus(e.iam, "ci-bot", leaked); got != "gone" {
		t.Errorf("revoked key is %s; want gone", got)
	}
	var steps, actors []string
	for _, r := range e.records(leaked) {
		steps = append(steps, strings.TrimSuffix(r.Kind+":"+r.Action+":"+r.Result, ":"))
		actors = append(actors, r.Actor)
	}
	if diff := cmp.Diff([]string{"intent:delete", "outcome:delete:done"}, steps); diff != "" {
		t.Errorf("audit records (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]string{fixtureCaller, fixtureCaller}, actors); diff != "" {
		t.Errorf("record actors (-want +got):\n%s", diff)
	}

	// The same function, warm: the key's page shows it gone and why.
	get := answer[proxyResponse](t, invoke(t, fn, withKey(event(t, "api-get-key.json"), leaked)))
	page := get.json(t)
	if get.StatusCode != http.StatusOK || field(page, "exists") != "false" || field(page, "state", "stage") != "deleted" {
		t.Errorf("GET after the revoke: %d exists %s stage %s\n%s", get.StatusCode, field(page, "exists"), field(page, "state", "stage"), get.Body)
	}
}

// TestAPIRefusals: requests the function refuses are answers with the
// API's error shape, never function errors (which API Gateway would turn
// into a bare 502): an unknown route, a wrong method, a bad key id, and a
// request without a caller. api-revoke.json is generate-event's payload
// as it comes, with no IAM caller in it: the deployed function requires
// one, and refuses it before it looks at the key id.
func TestAPIRefusals(t *testing.T) {
	e := newEnv(t, nil)
	fn := lambdatest.Run(t, e.stack, "ApiFunction")
	tests := []struct {
		fixture string
		status  int
		code    string
		allow   string
	}{
		{"api-unknown-route.json", http.StatusNotFound, "unknown_route", ""},
		{"api-wrong-method.json", http.StatusMethodNotAllowed, "method_not_allowed", "GET"},
		{"api-revoke.json", http.StatusForbidden, "no_identity", ""},
		{"api-bad-key-id.json", http.StatusBadRequest, "invalid_key_id", ""},
	}
	for _, tc := range tests {
		t.Run(tc.fixture, func(t *testing.T) {
			resp := answer[proxyResponse](t, invoke(t, fn, event(t, tc.fixture)))
			body := resp.json(t)
			got := []string{http.StatusText(resp.StatusCode), field(body, "error", "code"), field(body, "error", "retryable"), resp.header("Allow")}
			want := []string{http.StatusText(tc.status), tc.code, "false", tc.allow}
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("status, code, retryable, Allow (-want +got):\n%s\n%s", diff, resp.Body)
			}
		})
	}
}
