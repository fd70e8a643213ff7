package huawei

import (
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"
)

// The "API Request Signing Guide" works one request through: the VPC list
// GET below, signed at 20191115T033655Z with AK QTWAOYTTINDUT2QVKYUC and SK
// MFyfvK41ba2giqM7Uio6PznpdUKGpownRZlmVmHc. Its canonical request hashes to
// b25362e6... and its signature is 7be66680....
const (
	guideAK        = "QTWAOYTTINDUT2QVKYUC"
	guideSK        = "MFyfvK41ba2giqM7Uio6PznpdUKGpownRZlmVmHc"
	guideHash      = "b25362e603ee30f4f25e7858e8a7160fd36e803bb2dfe206278659d71a9bcd7a"
	guideSignature = "7be6668032f70418fcc22abc52071e57aff61b84a1d2381bb430d6870f4f6ebe"
)

func TestSignMatchesTheGuidesExample(t *testing.T) {
	req, err := http.NewRequest(http.MethodGet,
		"https://service.region.example.com/v1/77b6a44cba5143ab91d13ab9a8ff44fd/vpcs?marker=13551d6b-755d-4757-b956-536f674975c0&limit=2", nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	signRequest(req, nil, Credentials{AccessKeyID: guideAK, SecretAccessKey: guideSK}, time.Date(2019, 11, 15, 3, 36, 55, 0, time.UTC))

	if got := req.Header.Get("X-Sdk-Date"); got != "20191115T033655Z" {
		t.Errorf("X-Sdk-Date = %q", got)
	}
	want := "SDK-HMAC-SHA256 Access=" + guideAK + ", SignedHeaders=content-type;host;x-sdk-date, Signature=" + guideSignature
	if got := req.Header.Get("Authorization"); got != want {
		t.Errorf("Authorization\n got %s\nwant %s", got, want)
	}
	canonical, _ := canonicalRequest(http.MethodGet, req.URL.Path, req.URL.Query(),
		map[string]string{"content-type": "application/json", "host": "service.region.example.com", "x-sdk-date": "20191115T033655Z"}, nil)
	if got := hexSHA256([]byte(canonical)); got != guideHash {
		t.Errorf("canonical request hash %s, want %s\n%s", got, guideHash, canonical)
	}
}

func TestCanonicalParts(t *testing.T) {
	tests := []struct{ name, got, want string }{
		{"uri gets a trailing slash", canonicalURI("/v3.0/OS-CREDENTIAL/credentials"), "/v3.0/OS-CREDENTIAL/credentials/"},
		{"uri keeps one", canonicalURI("/v3/users/"), "/v3/users/"},
		{"root", canonicalURI(""), "/"},
		{"segments encoded", canonicalURI("/a b/c+d"), "/a%20b/c%2Bd/"},
		{"query sorted and encoded", canonicalQuery(url.Values{"b": {"x y", "a"}, "a": {"*/~"}}), "a=%2A%2F~&b=a&b=x%20y"},
		{"empty value kept", canonicalQuery(url.Values{"a": {""}}), "a="},
		{"unreserved only", escape("AZaz09-_.~ é"), "AZaz09-_.~%20%C3%A9"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if tc.got != tc.want {
				t.Errorf("got %q, want %q", tc.got, tc.want)
			}
		})
	}
}

func TestSignCoversBodyTokenAndDomain(t *testing.T) {
	req, _ := http.NewRequest(http.MethodPut, "http://127.0.0.1:8080/v3.0/OS-CREDENTIAL/credentials/AK1", strings.NewReader("{}"))
	req.Header.Set("X-Domain-Id", "d1")
	signRequest(req, []byte("{}"), Credentials{AccessKeyID: "AK", SecretAccessKey: "SK", SecurityToken: "tok"}, time.Unix(0, 0))
	auth := req.Header.Get("Authorization")
	if !strings.Contains(auth, "SignedHeaders=host;x-domain-id;x-sdk-date;x-security-token,") {
		t.Errorf("signed headers: %s", auth)
	}
	if req.Header.Get("X-Security-Token") != "tok" {
		t.Error("no X-Security-Token")
	}
	other, _ := http.NewRequest(http.MethodPut, req.URL.String(), strings.NewReader("{ }"))
	other.Header.Set("X-Domain-Id", "d1")
	signRequest(other, []byte("{ }"), Credentials{AccessKeyID: "AK", SecretAccessKey: "SK", SecurityToken: "tok"}, time.Unix(0, 0))
	if other.Header.Get("Authorization") == auth {
		t.Error("a different body signed the same")
	}
}
