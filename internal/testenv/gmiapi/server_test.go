package gmiapi_test

import (
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/keysweep/keysweep/internal/testenv/gmiapi"
)

const org = "a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11"

type fixture struct {
	srv   *gmiapi.Server
	tok   gmiapi.Tokens
	owner gmiapi.User
	key   gmiapi.Key // owned by owner, expires
	bare  gmiapi.Key // no owner, no expiry
}

func setup(t *testing.T) fixture {
	t.Helper()
	srv := gmiapi.New(t)
	owner := srv.AddUser(org, gmiapi.User{FirstName: "Ada", LastName: "Lovelace", Role: gmiapi.RoleOwner})
	tok, err := srv.Login(org, owner.ID, "ks1")
	if err != nil {
		t.Fatal(err)
	}
	created := time.Unix(1738812775, 0)
	key := srv.AddKey(org, gmiapi.Key{Name: "ci", CreatedAt: created, ExpiresAt: created.Add(24 * time.Hour),
		Owner: &gmiapi.Owner{ID: owner.ID, FirstName: "Ada", LastName: "Lovelace"}})
	bare := srv.AddKey(org, gmiapi.Key{Name: "orphan", CreatedAt: created, Scope: "ce_resource"})
	return fixture{srv: srv, tok: tok, owner: owner, key: key, bare: bare}
}

// do sends a request and returns the status and decoded JSON body (nil
// when empty).
func do(t *testing.T, method, url string, header map[string]string, body string) (int, map[string]any) {
	t.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, err := http.NewRequest(method, url, rd)
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range header {
		req.Header.Set(k, v)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	if len(b) == 0 {
		return resp.StatusCode, nil
	}
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		return resp.StatusCode, map[string]any{"text": string(b)}
	}
	return resp.StatusCode, m
}

func bearer(tok string) map[string]string { return map[string]string{"Authorization": "Bearer " + tok} }

func invalid(field, expr string, value any, reason string) map[string]any {
	return map[string]any{"group": "request", "code": 0.0, "validationDetail": []any{
		map[string]any{"field": field, "expression": expr, "originalValue": value, "reason": reason}}}
}

func TestValidation(t *testing.T) {
	f := setup(t)
	keys := f.srv.Endpoint() + "/organizations/" + org + "/api-keys"
	orgGone := map[string]any{"group": "organization", "code": 2.0, "message": "Organization does not exist."}
	tests := []struct {
		name       string
		method     string
		url        string
		header     map[string]string
		body       string
		wantStatus int
		wantBody   map[string]any
	}{
		{"no Authorization", "GET", keys, nil, "", 401, nil},
		{"not a bearer", "GET", keys, map[string]string{"Authorization": "Basic " + f.tok.AccessToken}, "", 401, nil},
		{"unknown token", "GET", keys, bearer("eyJ.x.y"), "", 401, nil},
		{"org not a UUID", "GET", f.srv.Endpoint() + "/organizations/acme/api-keys", bearer(f.tok.AccessToken), "", 400,
			invalid("orgId", "uuid", "acme", "Should be a valid UUID.")},
		{"unknown org", "GET", f.srv.Endpoint() + "/organizations/" + gmiapi.NewUUID() + "/api-keys", bearer(f.tok.AccessToken), "", 404, orgGone},
		{"paging parameter", "GET", keys + "?page=2", bearer(f.tok.AccessToken), "", 400,
			invalid("page", "unknown", "2", "This operation takes no query parameter.")},
		{"body on a GET", "GET", keys, bearer(f.tok.AccessToken), "{}", 400,
			invalid("body", "empty", nil, "This operation takes no request body.")},
		{"key not a UUID", "DELETE", keys + "/key1", bearer(f.tok.AccessToken), "", 400,
			invalid("apiKeyId", "uuid", "key1", "Should be a valid UUID.")},
		{"unknown key", "DELETE", keys + "/" + gmiapi.NewUUID(), bearer(f.tok.AccessToken), "", 404,
			map[string]any{"group": "api-key", "code": 2.0, "message": "API key does not exist."}},
		{"delete in unknown org", "DELETE", f.srv.Endpoint() + "/organizations/" + gmiapi.NewUUID() + "/api-keys/" + f.key.ID,
			bearer(f.tok.AccessToken), "", 404, orgGone},
		{"undocumented method", "POST", keys + "/" + f.key.ID, bearer(f.tok.AccessToken), "", 405,
			map[string]any{"text": "Method Not Allowed\n"}},
		{"undocumented path", "GET", f.srv.Endpoint() + "/organizations/" + org, bearer(f.tok.AccessToken), "", 404,
			map[string]any{"text": "404 page not found\n"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			status, body := do(t, tc.method, tc.url, tc.header, tc.body)
			if status != tc.wantStatus {
				t.Errorf("status = %d, want %d", status, tc.wantStatus)
			}
			if diff := cmp.Diff(tc.wantBody, body); diff != "" {
				t.Errorf("body (-want +got):\n%s", diff)
			}
		})
	}
	if got := len(f.srv.Keys(org)); got != 2 {
		t.Errorf("a refused request changed the keys: %d left, want 2", got)
	}
}

func TestListAndDelete(t *testing.T) {
	f := setup(t)
	keys := f.srv.Endpoint() + "/organizations/" + org + "/api-keys"
	status, body := do(t, "GET", keys, bearer(f.tok.AccessToken), "")
	if status != 200 {
		t.Fatalf("list: %d %v", status, body)
	}
	byID := map[string]any{}
	for _, k := range body["keys"].([]any) {
		byID[k.(map[string]any)["id"].(string)] = k
	}
	want := map[string]any{
		f.key.ID: map[string]any{"id": f.key.ID, "name": "ci", "type": "ie_model", "scope": "ie_model",
			"partialKey": f.key.PartialKey, "createdAt": 1738812775.0, "expiresAt": 1738812775.0 + 86400,
			"owner": map[string]any{"id": f.owner.ID, "firstName": "Ada", "lastName": "Lovelace"}},
		f.bare.ID: map[string]any{"id": f.bare.ID, "name": "orphan", "type": "ie_model", "scope": "ce_resource",
			"partialKey": f.bare.PartialKey, "createdAt": 1738812775.0},
	}
	if diff := cmp.Diff(want, byID); diff != "" {
		t.Errorf("listing (-want +got):\n%s", diff)
	}
	if status, body := do(t, "DELETE", keys+"/"+f.key.ID, bearer(f.tok.AccessToken), ""); status != 200 || body != nil {
		t.Errorf("delete = %d %v, want 200 without a body", status, body)
	}
	if got := f.srv.Keys(org); len(got) != 1 || got[0].ID != f.bare.ID {
		t.Errorf("keys after delete = %+v", got)
	}
	wantCalls := map[string]int{gmiapi.OpListAPIKeys: 1, gmiapi.OpDeleteAPIKey: 1}
	if diff := cmp.Diff(wantCalls, f.srv.Calls()); diff != "" {
		t.Errorf("calls (-want +got):\n%s", diff)
	}
}

func TestFaults(t *testing.T) {
	f := setup(t)
	keys := f.srv.Endpoint() + "/organizations/" + org + "/api-keys"
	f.srv.FailNext(gmiapi.OpListAPIKeys, 2, "api-key", 1201)
	want := map[string]any{"group": "api-key", "code": 1201.0, "message": "Get API key encountered DB error.",
		"traces": []any{"DB error occurred."}}
	for i := range 2 {
		status, body := do(t, "GET", keys, bearer(f.tok.AccessToken), "")
		if diff := cmp.Diff(want, body); status != 500 || diff != "" {
			t.Errorf("call %d: status %d, body (-want +got):\n%s", i+1, status, diff)
		}
	}
	if status, _ := do(t, "GET", keys, bearer(f.tok.AccessToken), ""); status != 200 {
		t.Errorf("third call: status %d, want 200", status)
	}
	f.srv.FailNext(gmiapi.OpDeleteAPIKey, -1, "api-key", 1600)
	for range 3 {
		if status, body := do(t, "DELETE", keys+"/"+f.key.ID, bearer(f.tok.AccessToken), ""); status != 500 || body["code"] != 1600.0 {
			t.Errorf("delete: %d %v, want 500 api-key/1600", status, body)
		}
	}
	if len(f.srv.Keys(org)) != 2 {
		t.Error("a failed delete deleted the key")
	}
}

func TestRefreshSession(t *testing.T) {
	f := setup(t)
	sessions := f.srv.Endpoint() + "/me/sessions"
	keys := f.srv.Endpoint() + "/organizations/" + org + "/api-keys"
	body := `{"refreshToken": "` + f.tok.RefreshToken + `"}`
	jsonHdr := func(cid string) map[string]string {
		return map[string]string{"CE-ClientId": cid, "Content-Type": "application/json"}
	}
	refusals := []struct {
		name   string
		header map[string]string
		body   string
		want   map[string]any
	}{
		{"no client id", map[string]string{"Content-Type": "application/json"}, body,
			map[string]any{"group": "auth", "code": 0.0, "message": "Invalid CE-ClientId."}},
		{"client id too long", jsonHdr("keysweep"), body,
			map[string]any{"group": "auth", "code": 0.0, "message": "Invalid CE-ClientId."}},
		{"no body", jsonHdr("ks1"), "",
			map[string]any{"group": "request", "code": 1.0, "message": "The request body is required."}},
		{"no refresh token", jsonHdr("ks1"), `{}`, invalid("refreshToken", "required", "", "This field is required.")},
		{"unknown field", jsonHdr("ks1"), `{"refresh_token": "x"}`,
			invalid("body", "json", nil, "The request body is not a refresh session request.")},
		{"another client's session", jsonHdr("other"), body,
			map[string]any{"group": "auth", "code": 1.0, "message": "Invalid refreshToken."}},
	}
	for _, tc := range refusals {
		t.Run(tc.name, func(t *testing.T) {
			status, got := do(t, "PATCH", sessions, tc.header, tc.body)
			if diff := cmp.Diff(tc.want, got); status != 400 || diff != "" {
				t.Errorf("status %d, body (-want +got):\n%s", status, diff)
			}
		})
	}

	f.srv.ExpireAccessTokens()
	if status, _ := do(t, "GET", keys, bearer(f.tok.AccessToken), ""); status != 401 {
		t.Fatalf("expired token: status %d, want 401", status)
	}
	status, got := do(t, "PATCH", sessions, jsonHdr("ks1"), body)
	if status != 200 || got["accessToken"] == "" || got["refreshToken"] == f.tok.RefreshToken {
		t.Fatalf("refresh: %d, want 200 and new tokens", status)
	}
	if status, _ := do(t, "GET", keys, bearer(got["accessToken"].(string)), ""); status != 200 {
		t.Errorf("renewed token: status %d, want 200", status)
	}
	if status, got := do(t, "PATCH", sessions, jsonHdr("ks1"), body); status != 400 || got["group"] != "auth" {
		t.Errorf("spent refresh token: %d %v, want 400 auth/1", status, got)
	}
	for _, r := range f.srv.Requests() {
		if strings.Contains(r.Path, "eyJ") {
			t.Errorf("request log holds a token: %+v", r)
		}
	}
}

func TestOrganizationUser(t *testing.T) {
	f := setup(t)
	user := f.srv.AddUser(org, gmiapi.User{FirstName: "Bob", Role: gmiapi.RoleUser})
	own := f.srv.AddKey(org, gmiapi.Key{Name: "bob's", Owner: &gmiapi.Owner{ID: user.ID, FirstName: "Bob"}})
	tok, err := f.srv.Login(org, user.ID, "ks2")
	if err != nil {
		t.Fatal(err)
	}
	keys := f.srv.Endpoint() + "/organizations/" + org + "/api-keys"
	_, body := do(t, "GET", keys, bearer(tok.AccessToken), "")
	if got := body["keys"].([]any); len(got) != 1 || got[0].(map[string]any)["id"] != own.ID {
		t.Errorf("an organization user lists %v, want only their own key", got)
	}
	if status, _ := do(t, "DELETE", keys+"/"+f.key.ID, bearer(tok.AccessToken), ""); status != 403 {
		t.Errorf("a user deleting another's key: status %d, want 403", status)
	}
	status, prof := do(t, "GET", f.srv.Endpoint()+"/me/profile", bearer(tok.AccessToken), "")
	if org := prof["organization"].(map[string]any); status != 200 || org["role"] != gmiapi.RoleUser {
		t.Errorf("profile: %d %v", status, prof)
	}
}
