package huaweiiam

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	sdksigner "github.com/huaweicloud/huaweicloud-sdk-go-v3/core/auth/signer"
	sdkrequest "github.com/huaweicloud/huaweicloud-sdk-go-v3/core/request"
)

// call signs a request with the vendor SDK's signer (a third implementation:
// neither the adapter's nor the server's), lets mutate spoil it, sends it
// and returns the status and the decoded JSON body.
func call(t *testing.T, s *Server, cred Credential, method, path string, query url.Values, body string, mutate func(*http.Request)) (int, map[string]any) {
	t.Helper()
	u, _ := url.Parse(s.URL)
	b := sdkrequest.NewHttpRequestBuilder().WithEndpoint(s.URL).WithPath(path).WithMethod(method).
		AddHeaderParam("Host", u.Host).AddHeaderParam("X-Sdk-Date", time.Now().UTC().Format("20060102T150405Z"))
	for k, vs := range query {
		for _, v := range vs {
			b = b.AddQueryParam(k, reflect.ValueOf(v))
		}
	}
	if cred.SecurityToken != "" {
		b = b.AddHeaderParam("X-Security-Token", cred.SecurityToken)
	}
	if body != "" {
		b = b.WithBody("application/json", body)
	}
	signed, err := sdksigner.Sign(b.Build(), cred.AccessKeyID, cred.SecretAccessKey)
	if err != nil {
		t.Fatal(err)
	}
	u.Path, u.RawQuery = path, encodeQuery(query)
	req, err := http.NewRequest(method, u.String(), strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json;charset=utf8")
	req.Header.Set("X-Sdk-Date", b.Build().GetHeaderParams()["X-Sdk-Date"])
	if cred.SecurityToken != "" {
		req.Header.Set("X-Security-Token", cred.SecurityToken)
	}
	for k, v := range signed {
		req.Header.Set(k, v)
	}
	if mutate != nil {
		mutate(req)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(resp.Body)
	var out map[string]any
	if len(data) > 0 {
		if err := json.Unmarshal(data, &out); err != nil {
			t.Fatalf("%s %s: answer is not JSON: %s", method, path, data)
		}
	}
	return resp.StatusCode, out
}

func encodeQuery(q url.Values) string {
	var parts []string
	for k, vs := range q {
		for _, v := range vs {
			parts = append(parts, uriEncode(k)+"="+uriEncode(v))
		}
	}
	return strings.Join(parts, "&")
}

// The "API Request Signing Guide" example, verified as the gateway would.
func TestVerifyAcceptsTheGuidesExample(t *testing.T) {
	when := time.Date(2019, 11, 15, 3, 36, 55, 0, time.UTC)
	s := Start(t, Options{Now: func() time.Time { return when.Add(time.Minute) }})
	s.AddCredential(Credential{AccessKeyID: "QTWAOYTTINDUT2QVKYUC", SecretAccessKey: "MFyfvK41ba2giqM7Uio6PznpdUKGpownRZlmVmHc"})
	r := httptest.NewRequest(http.MethodGet, "https://service.region.example.com/v1/77b6a44cba5143ab91d13ab9a8ff44fd/vpcs?limit=2&marker=13551d6b-755d-4757-b956-536f674975c0", nil)
	r.Header.Set("Content-Type", "application/json")
	r.Header.Set("X-Sdk-Date", "20191115T033655Z")
	r.Header.Set("Authorization", "SDK-HMAC-SHA256 Access=QTWAOYTTINDUT2QVKYUC, SignedHeaders=content-type;host;x-sdk-date, "+
		"Signature=7be6668032f70418fcc22abc52071e57aff61b84a1d2381bb430d6870f4f6ebe")
	if ak, err := s.verify(r); err != nil || ak != "QTWAOYTTINDUT2QVKYUC" {
		t.Fatalf("verify = %q, %v", ak, err)
	}
	r.Header.Set("Content-Type", "application/json;charset=utf8")
	if _, err := s.verify(r); err == nil {
		t.Fatal("a changed signed header passed")
	}
}

func TestSignatureRefusals(t *testing.T) {
	s := Start(t, Options{})
	temp := Credential{AccessKeyID: "TEMPAK00000000000001", SecretAccessKey: "temp-sk", SecurityToken: "token-1"}
	s.AddCredential(temp)
	caller := s.Caller()
	tests := []struct {
		name   string
		cred   Credential
		mutate func(*http.Request)
	}{
		{"wrong secret key", Credential{AccessKeyID: caller.AccessKeyID, SecretAccessKey: "not-the-secret"}, nil},
		{"unknown access key", Credential{AccessKeyID: "NOSUCHAK000000000000", SecretAccessKey: "x"}, nil},
		{"no authorization", caller, func(r *http.Request) { r.Header.Del("Authorization") }},
		{"malformed authorization", caller, func(r *http.Request) {
			r.Header.Set("Authorization", strings.Replace(r.Header.Get("Authorization"), ", ", ",", 1))
		}},
		{"date in another format", caller, func(r *http.Request) { r.Header.Set("X-Sdk-Date", time.Now().UTC().Format(time.RFC3339)) }},
		{"date too old", caller, func(r *http.Request) {
			r.Header.Set("X-Sdk-Date", time.Now().UTC().Add(-16*time.Minute).Format("20060102T150405Z"))
		}},
		{"query changed after signing", caller, func(r *http.Request) { r.URL.RawQuery = "domain_id=other" }},
		{"path changed after signing", caller, func(r *http.Request) { r.URL.Path = "/v3/users/x" }},
		{"temporary credentials without their token", temp, func(r *http.Request) { r.Header.Del("X-Security-Token") }},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			status, body := call(t, s, tc.cred, http.MethodGet, "/v3/users", url.Values{"domain_id": {s.DomainID()}}, "", tc.mutate)
			if status != http.StatusUnauthorized || body["error_code"] != "APIG.0301" ||
				!strings.HasPrefix(body["error_msg"].(string), "Incorrect IAM authentication information") {
				t.Errorf("got %d %v, want 401 APIG.0301", status, body)
			}
		})
	}
	t.Run("temporary credentials with their token pass", func(t *testing.T) {
		if status, body := call(t, s, temp, http.MethodGet, "/v3/users", nil, "", nil); status != http.StatusOK {
			t.Errorf("got %d %v", status, body)
		}
	})
}

func TestBodyAndBodySignature(t *testing.T) {
	s := Start(t, Options{})
	ak := s.AddKey(s.AddUser("alice", nil), time.Now().Add(-time.Hour), nil)
	path := "/v3.0/OS-CREDENTIAL/credentials/" + ak
	tamper := func(r *http.Request) {
		r.Body = io.NopCloser(strings.NewReader(`{"credential":{"status":"active"}}`))
		r.ContentLength = int64(len(`{"credential":{"status":"active"}}`))
	}
	if status, _ := call(t, s, s.Caller(), http.MethodPut, path, nil, `{"credential":{"status":"inactive"}}`, tamper); status != http.StatusUnauthorized {
		t.Errorf("a body changed after signing: %d, want 401", status)
	}
	tests := []struct {
		name, body string
		status     int
		code       string
	}{
		{"no credential wrapper", `{"status":"inactive"}`, 400, "IAM.0011"},
		{"unknown status", `{"credential":{"status":"disabled"}}`, 400, "IAM.0007"},
		{"unknown field", `{"credential":{"status":"inactive","enabled":false}}`, 400, "IAM.0011"},
		{"not JSON", `status=inactive`, 400, "IAM.0011"},
		{"deactivate", `{"credential":{"status":"inactive"}}`, 200, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			status, body := call(t, s, s.Caller(), http.MethodPut, path, nil, tc.body, nil)
			if status != tc.status || (tc.code != "" && body["error_code"] != tc.code) {
				t.Errorf("got %d %v, want %d %s", status, body, tc.status, tc.code)
			}
		})
	}
	if k, _ := s.Key(ak); k.Status != "inactive" {
		t.Errorf("status %s after deactivate", k.Status)
	}
}

func TestRoutesAndErrorBodies(t *testing.T) {
	s := Start(t, Options{})
	uid := s.AddUser("bob", nil)
	created := time.Date(2025, 1, 2, 3, 4, 5, 123456000, time.UTC)
	ak := s.AddKey(uid, created, nil)
	caller := s.Caller()

	status, body := call(t, s, caller, http.MethodGet, "/v3.0/OS-CREDENTIAL/credentials/"+ak, nil, "", nil)
	want := map[string]any{"credential": map[string]any{"user_id": uid, "access": ak, "status": "active",
		"create_time": "2025-01-02T03:04:05.123456Z", "last_use_time": "2025-01-02T03:04:05.123456Z", "description": ""}}
	if diff := cmp.Diff(want, body); status != 200 || diff != "" {
		t.Errorf("show never-used key: %d (-want +got)\n%s", status, diff)
	}
	status, body = call(t, s, caller, http.MethodGet, "/v3.0/OS-CREDENTIAL/credentials", url.Values{"user_id": {uid}}, "", nil)
	if list := body["credentials"].([]any); status != 200 || len(list) != 1 || list[0].(map[string]any)["last_use_time"] != nil {
		t.Errorf("list keys: %d %v (the listing carries no last_use_time)", status, body)
	}
	tests := []struct {
		name, method, path string
		query              url.Values
		status             int
		want               map[string]any
	}{
		{"delete", http.MethodDelete, "/v3.0/OS-CREDENTIAL/credentials/" + ak, nil, 204, nil},
		{"delete again", http.MethodDelete, "/v3.0/OS-CREDENTIAL/credentials/" + ak, nil, 404,
			map[string]any{"error_code": "IAM.0004", "error_msg": "Could not find credential: " + ak + "."}},
		{"keystone 404", http.MethodGet, "/v3/users/nobody", nil, 404,
			map[string]any{"error": map[string]any{"code": 404.0, "message": "Could not find user: nobody.", "title": "Not Found"}}},
		{"unknown query parameter", http.MethodGet, "/v3.0/OS-CREDENTIAL/credentials", url.Values{"userid": {uid}}, 400,
			map[string]any{"error_code": "IAM.0007", "error_msg": "Request parameter userid is invalid."}},
		{"no v5 on this endpoint", http.MethodGet, "/v5/users", nil, 404,
			map[string]any{"error_code": "APIG.0101", "error_msg": msgNoSuchAPI}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			status, body := call(t, s, caller, tc.method, tc.path, tc.query, "", nil)
			delete(body, "request_id")
			if diff := cmp.Diff(tc.want, body); status != tc.status || diff != "" {
				t.Errorf("got %d, want %d (-want +got)\n%s", status, tc.status, diff)
			}
		})
	}
}

func TestUsersPageThroughNextLinks(t *testing.T) {
	s := Start(t, Options{UsersPageSize: 2})
	for _, n := range []string{"a", "b", "c", "d", "e"} {
		s.AddUser(n, nil)
	}
	var names []string
	path, query := "/v3/users", url.Values{"domain_id": {s.DomainID()}}
	for pages := 1; ; pages++ {
		status, body := call(t, s, s.Caller(), http.MethodGet, path, query, "", nil)
		if status != 200 || pages > 5 {
			t.Fatalf("page %d: %d %v", pages, status, body)
		}
		for _, u := range body["users"].([]any) {
			names = append(names, u.(map[string]any)["name"].(string))
		}
		next, _ := body["links"].(map[string]any)["next"].(string)
		if next == "" {
			break
		}
		u, _ := url.Parse(next)
		path, query = u.Path, u.Query()
	}
	if diff := cmp.Diff([]string{"a", "b", "c", "d", "e"}, names); diff != "" {
		t.Errorf("users (-want +got)\n%s", diff)
	}
	if got := s.Calls()[RouteListUsers]; got != 3 {
		t.Errorf("%d pages, want 3", got)
	}
}

func TestFaults(t *testing.T) {
	s := Start(t, Options{V5: true})
	uid := s.AddUser("carol", map[string]string{"keysweep:exempt": "true"})
	s.Fail(RouteListUsers, http.StatusTooManyRequests, 1)
	status, body := call(t, s, s.Caller(), http.MethodGet, "/v3/users", nil, "", nil)
	if status != 429 || body["error_code"] != "APIG.0308" {
		t.Errorf("throttled: %d %v", status, body)
	}
	if status, _ := call(t, s, s.Caller(), http.MethodGet, "/v3/users", nil, "", nil); status != 200 {
		t.Errorf("after the throttle: %d", status)
	}
	s.Deny(RouteTagsV5)
	if status, body := call(t, s, s.Caller(), http.MethodGet, "/v5/user/"+uid+"/tags", nil, "", nil); status != 403 || body["error_code"] != "IAM.0002" {
		t.Errorf("denied: %d %v", status, body)
	}
	s.ClearFaults()
	status, body = call(t, s, s.Caller(), http.MethodGet, "/v5/user/"+uid+"/tags", nil, "", nil)
	want := map[string]any{"tags": []any{map[string]any{"tag_key": "keysweep:exempt", "tag_value": "true"}}}
	if diff := cmp.Diff(want, body); status != 200 || diff != "" {
		t.Errorf("tags: %d (-want +got)\n%s", status, diff)
	}
	if status, _ := call(t, s, s.Caller(), http.MethodGet, "/v5/users/"+uid+"/tags", nil, "", nil); status != 400 {
		t.Errorf("resource type users (not user): %d, want 400", status)
	}
}

func TestV5KeysAndThrottleEvery(t *testing.T) {
	s := Start(t, Options{V5: true})
	uid := s.AddUser("dan", nil)
	used := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	a1 := s.AddKey(uid, used.Add(-48*time.Hour), &used)
	a2 := s.AddKey(uid, used.Add(-24*time.Hour), nil)
	status, body := call(t, s, s.Caller(), http.MethodGet, "/v5/users/"+uid+"/access-keys", url.Values{"limit": {"1"}}, "", nil)
	next, _ := body["page_info"].(map[string]any)["next_marker"].(string)
	if status != 200 || len(body["access_keys"].([]any)) != 1 || next == "" {
		t.Fatalf("first page: %d %v", status, body)
	}
	status, body = call(t, s, s.Caller(), http.MethodGet, "/v5/users/"+uid+"/access-keys", url.Values{"limit": {"1"}, "marker": {next}}, "", nil)
	if status != 200 || body["access_keys"].([]any)[0].(map[string]any)["access_key_id"] != a2 || body["page_info"].(map[string]any)["next_marker"] != nil {
		t.Fatalf("second page: %d %v", status, body)
	}
	for ak, want := range map[string]map[string]any{a1: {"last_used_at": "2026-01-02T03:04:05.000Z"}, a2: {}} {
		status, body := call(t, s, s.Caller(), http.MethodGet, "/v5/users/"+uid+"/access-keys/"+ak+"/last-used", nil, "", nil)
		if diff := cmp.Diff(map[string]any{"access_key_last_used": want}, body); status != 200 || diff != "" {
			t.Errorf("last used of %s: %d (-want +got)\n%s", ak, status, diff)
		}
	}
	s.ResetCounts()
	s.ThrottleEvery(3)
	for range 6 {
		call(t, s, s.Caller(), http.MethodGet, "/v3/users", nil, "", nil)
	}
	if diff := cmp.Diff(map[int]int{200: 4, 429: 2}, s.Statuses()); diff != "" {
		t.Errorf("every third throttled (-want +got)\n%s", diff)
	}
}
