package huawei

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// These answers cannot come from the local server (it pages correctly), so
// a bare handler serves them; signatures are not checked here.
func TestListUsersRefusesWhatItCannotFollow(t *testing.T) {
	tests := []struct {
		name string
		page func(base string) any
		want string
	}{
		{"truncated without a next link", func(string) any {
			return map[string]any{"links": map[string]any{"next": nil}, "users": []any{}, "truncated": true}
		}, "truncated"},
		{"next link to another host", func(string) any {
			return map[string]any{"links": map[string]any{"next": "https://elsewhere.example/v3/users?marker=x"}, "users": []any{}}
		}, "leaves the endpoint"},
		{"next link that loops", func(base string) any {
			return map[string]any{"links": map[string]any{"next": base + "/v3/users?marker=same"}, "users": []any{}}
		}, "loop"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var base string
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				_ = json.NewEncoder(w).Encode(tc.page(base))
			}))
			defer srv.Close()
			base = srv.URL
			s, err := New(Config{Endpoint: srv.URL, DomainID: "d1", Credentials: Credentials{AccessKeyID: "AK", SecretAccessKey: "SK"}})
			if err != nil {
				t.Fatal(err)
			}
			_, err = s.Inventory(context.Background())
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("inventory: %v, want %q", err, tc.want)
			}
		})
	}
}

func TestParseEndpoint(t *testing.T) {
	tests := []struct{ in, want, err string }{
		{"https://iam.eu-de.otc.t-systems.com", "https://iam.eu-de.otc.t-systems.com", ""},
		{"https://iam.eu-nl.otc.t-systems.com:443/", "https://iam.eu-nl.otc.t-systems.com", ""},
		{"http://127.0.0.1:8080", "http://127.0.0.1:8080", ""},
		{"http://[::1]:80", "http://[::1]", ""},
		{"http://iam.myhuaweicloud.com", "", "plain http"},
		{"https://iam.myhuaweicloud.com/v3", "", "only scheme and host"},
		{"iam.myhuaweicloud.com", "", "want https://host"},
	}
	for _, tc := range tests {
		u, err := parseEndpoint(tc.in)
		switch {
		case tc.err != "" && (err == nil || !strings.Contains(err.Error(), tc.err)):
			t.Errorf("%s: error %v, want %q", tc.in, err, tc.err)
		case tc.err == "" && (err != nil || u.String() != tc.want):
			t.Errorf("%s: %v %v, want %s", tc.in, u, err, tc.want)
		}
	}
}
