package gmi

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

const (
	tokA = "eyJhbGciOiJIUzI1NiJ9.YWNjZXNz.c2ln"
	tokR = "eyJhbGciOiJIUzI1NiJ9.cmVmcmVzaA.c2ln"
)

func TestParseSecret(t *testing.T) {
	full := Secret{OrganizationID: testOrg, AccessToken: tokA, RefreshToken: tokR, ClientID: "ks1", Endpoint: DefaultEndpoint}
	tests := []struct {
		name    string
		json    string
		want    Secret
		wantErr string
	}{
		{name: "full", json: `{"organizationId": "` + testOrg + `", "accessToken": "` + tokA + `", "refreshToken": "` + tokR +
			`", "clientId": "ks1", "endpoint": "https://console.gmicloud.ai/api/v1/"}`, want: full},
		{name: "access token only", json: `{"organizationId": "` + testOrg + `", "accessToken": "` + tokA + `"}`,
			want: Secret{OrganizationID: testOrg, AccessToken: tokA, Endpoint: DefaultEndpoint}},
		{name: "local endpoint", json: `{"organizationId": "` + testOrg + `", "accessToken": "` + tokA + `", "endpoint": "http://127.0.0.1:8080/api/v1"}`,
			want: Secret{OrganizationID: testOrg, AccessToken: tokA, Endpoint: "http://127.0.0.1:8080/api/v1"}},
		{name: "no organization", json: `{"accessToken": "` + tokA + `"}`, wantErr: "organizationId is required"},
		{name: "organization not a UUID", json: `{"organizationId": "acme", "accessToken": "` + tokA + `"}`, wantErr: "organizationId must be a UUID"},
		{name: "no access token", json: `{"organizationId": "` + testOrg + `"}`, wantErr: "accessToken is required"},
		{name: "refresh without client", json: `{"organizationId": "` + testOrg + `", "accessToken": "` + tokA + `", "refreshToken": "` + tokR + `"}`,
			wantErr: "clientId is required"},
		{name: "client id too long", json: `{"organizationId": "` + testOrg + `", "accessToken": "` + tokA + `", "refreshToken": "` + tokR + `", "clientId": "keysweep"}`,
			wantErr: "clientId must be 1 to 7"},
		{name: "token with a newline", json: `{"organizationId": "` + testOrg + `", "accessToken": "` + tokA + `\n"}`, wantErr: "accessToken holds spaces"},
		{name: "http to a remote host", json: `{"organizationId": "` + testOrg + `", "accessToken": "` + tokA + `", "endpoint": "http://example.com/api/v1"}`,
			wantErr: "endpoint must use https"},
		{name: "misspelt field", json: `{"organizationId": "` + testOrg + `", "accessToken": "` + tokA + `", "refresh_token": "` + tokR + `"}`,
			wantErr: `unknown field "refresh_token"`},
		{name: "token not a string", json: `{"organizationId": "` + testOrg + `", "accessToken": 42}`, wantErr: "accessToken must be a string"},
		{name: "syntax error", json: `{"organizationId": "` + testOrg + `", "accessToken": ` + tokA + `}`, wantErr: "not valid JSON"},
		{name: "two objects", json: `{"organizationId": "` + testOrg + `", "accessToken": "` + tokA + `"} {}`, wantErr: "data after"},
		{name: "empty", json: ``, wantErr: "empty"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := ParseSecret([]byte(tc.json))
			if tc.wantErr != "" {
				if !errors.Is(err, ErrInvalidSecret) || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("err = %v, want ErrInvalidSecret naming %q", err, tc.wantErr)
				}
				if strings.Contains(err.Error(), "YWNjZXNz") || strings.Contains(err.Error(), "cmVmcmVzaA") {
					t.Errorf("the error quotes a token: %v", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("secret (-want +got):\n%s", diff)
			}
		})
	}
}

func TestSecretRoundTrip(t *testing.T) {
	s := Secret{OrganizationID: testOrg, AccessToken: tokA, RefreshToken: tokR, ClientID: "ks1", Endpoint: DefaultEndpoint}
	b, err := json.Marshal(s)
	if err != nil {
		t.Fatal(err)
	}
	got, err := ParseSecret(b)
	if err != nil || got != s {
		t.Errorf("round trip = %v, %v", got, err)
	}
}

func TestSecretRedacted(t *testing.T) {
	s := Secret{OrganizationID: testOrg, AccessToken: tokA, RefreshToken: tokR, ClientID: "ks1", Endpoint: DefaultEndpoint}
	var logs bytes.Buffer
	slog.New(slog.NewJSONHandler(&logs, nil)).Info("x", "secret", s)
	out := fmt.Sprintf("%v %+v %#v %s %q", s, s, s, s, s) + logs.String()
	if strings.Contains(out, "YWNjZXNz") || strings.Contains(out, "cmVmcmVzaA") {
		t.Errorf("a token shows:\n%s", out)
	}
	if !strings.Contains(out, testOrg) {
		t.Errorf("the organization does not show:\n%s", out)
	}
}

func TestSecretFromEnv(t *testing.T) {
	env := map[string]string{
		EnvOrganizationID: testOrg, EnvAccessToken: tokA + "\n", EnvRefreshToken: tokR, EnvClientID: "ks1",
	}
	got, err := SecretFromEnv(func(k string) string { return env[k] })
	want := Secret{OrganizationID: testOrg, AccessToken: tokA, RefreshToken: tokR, ClientID: "ks1", Endpoint: DefaultEndpoint}
	if err != nil || got != want {
		t.Fatalf("SecretFromEnv = %v, %v; want %v", got, err, want)
	}
	delete(env, EnvClientID)
	if _, err := SecretFromEnv(func(k string) string { return env[k] }); err == nil || !strings.Contains(err.Error(), EnvClientID) {
		t.Errorf("err = %v, want one naming %s", err, EnvClientID)
	}
}

// FuzzParseSecret: no input panics, and an error never quotes the access
// token: the error for the same document with the token blanked out must
// be the same.
func FuzzParseSecret(f *testing.F) {
	f.Add(testOrg, tokA, "ks1", "https://console.gmicloud.ai/api/v1")
	f.Add("acme", "a b", "", "http://example.com")
	f.Add(testOrg, `x"}`, "keysweep", "")
	f.Fuzz(func(t *testing.T, org, tok, cid, endpoint string) {
		doc := func(tok string) []byte {
			b, _ := json.Marshal(map[string]string{"organizationId": org, "accessToken": tok, "clientId": cid, "endpoint": endpoint})
			return b
		}
		_, err := ParseSecret(doc(tok))
		if err == nil || len(tok) < 4 {
			return
		}
		_, blank := ParseSecret(doc(strings.Repeat("x", len(tok))))
		if strings.Contains(err.Error(), tok) && (blank == nil || !strings.Contains(blank.Error(), tok)) {
			t.Errorf("the error quotes the token: %v", err)
		}
	})
}
