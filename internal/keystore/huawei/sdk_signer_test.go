package huawei

import (
	"net/http"
	"net/url"
	"reflect"
	"strings"
	"testing"
	"time"

	sdksigner "github.com/huaweicloud/huaweicloud-sdk-go-v3/core/auth/signer"
	sdkrequest "github.com/huaweicloud/huaweicloud-sdk-go-v3/core/request"
)

// TestSignAgreesWithTheVendorSigner signs the requests keysweep sends with
// this package's signer and with the Huawei Cloud SDK's, and wants the same
// Authorization: the guide's one example covers a GET; this covers the
// bodies, paths and queries keysweep really sends. (The SDK is a test-only
// dependency: see the package doc for why the store does not use it.)
//
// The SDK leaves content-type out of the signature, so the requests here
// carry none; the local server accepts either choice, as the guide does
// ("only X-Sdk-Date is required").
func TestSignAgreesWithTheVendorSigner(t *testing.T) {
	const host = "iam.eu-de.otc.t-systems.com"
	date := time.Date(2026, 3, 1, 12, 30, 45, 0, time.UTC)
	tests := []struct {
		name, method, path string
		query              url.Values
		body               string
	}{
		{"list users", http.MethodGet, pathUsers, url.Values{"domain_id": {"d78cbac186b744899480f25bd02"}}, ""},
		{"list keys", http.MethodGet, pathCredentials, url.Values{"user_id": {"07609fb9358010e21f7bc003751c7c32"}}, ""},
		{"find user", http.MethodGet, pathUsers, url.Values{"domain_id": {"d1"}, "name": {"ci deploy+bot@x"}}, ""},
		{"show key", http.MethodGet, pathCredential + "LOSZM4YRVLKOY9E8X1Q2", nil, ""},
		{"deactivate", http.MethodPut, pathCredential + "LOSZM4YRVLKOY9E8X1Q2", nil, `{"credential":{"status":"inactive"}}`},
		{"delete", http.MethodDelete, pathCredential + "LOSZM4YRVLKOY9E8X1Q2", nil, ""},
		{"v5 tags", http.MethodGet, pathTagsV5 + "07609fb9358010e21f7bc003751c7c32/tags", nil, ""},
	}
	cred := Credentials{AccessKeyID: "HPUAXXXXXXXXXXXXXXXX", SecretAccessKey: "sk-for-the-cross-check"}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			u := url.URL{Scheme: "https", Host: host, Path: tc.path, RawQuery: canonicalQuery(tc.query)}
			var body []byte
			if tc.body != "" {
				body = []byte(tc.body)
			}
			ours, err := http.NewRequest(tc.method, u.String(), strings.NewReader(tc.body))
			if err != nil {
				t.Fatal(err)
			}
			ours.Header.Set(headerDomainID, "d1")
			signRequest(ours, body, cred, date)

			b := sdkrequest.NewHttpRequestBuilder().WithEndpoint("https://"+host).WithPath(tc.path).WithMethod(tc.method).
				AddHeaderParam("Host", host).AddHeaderParam(headerDomainID, "d1").
				AddHeaderParam(headerSdkDate, date.Format(sdkDateFormat))
			for k, vs := range tc.query {
				for _, v := range vs {
					b = b.AddQueryParam(k, reflect.ValueOf(v)) // as the SDK's own request building passes them
				}
			}
			if tc.body != "" {
				b = b.WithBody("application/json", tc.body)
			}
			headers, err := sdksigner.Sign(b.Build(), cred.AccessKeyID, cred.SecretAccessKey)
			if err != nil {
				t.Fatal(err)
			}
			if got, want := ours.Header.Get(headerAuthorization), headers[headerAuthorization]; got != want {
				t.Errorf("Authorization differs\n ours %s\n  sdk %s", got, want)
			}
		})
	}
}
