package gmi

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/keysweep/keysweep/internal/domain"
)

const testOrg = "a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11"

func TestParseListing(t *testing.T) {
	created := time.Unix(1738812775, 0).UTC()
	expires := created.Add(time.Hour)
	base := func(id string) domain.Key {
		return domain.Key{ID: id, Account: testOrg, Owner: "u1", CreatedAt: created, Name: "n", Scope: "ie_model"}
	}
	withExpiry := base("k1")
	withExpiry.ExpiresAt = &expires
	const owner = `"owner": {"id": "u1", "firstName": "john", "lastName": "doe"}`
	tests := []struct {
		name      string
		body      string
		want      []domain.Key
		wantNotes int
		wantErr   string
	}{
		{name: "the reference's example", body: `{"keys": [{"id": "k1", "name": "n", "type": "ie_model", "scope": "ie_model",
			"partialKey": "3D6l27ChEA", "createdAt": 1738812775, "expiresAt": 1738816375, ` + owner + `}]}`,
			want: []domain.Key{withExpiry}},
		{name: "expiresAt absent", body: `{"keys": [{"id": "k1", "name": "n", "scope": "ie_model", "createdAt": 1738812775, ` + owner + `}]}`,
			want: []domain.Key{base("k1")}},
		{name: "expiresAt null", body: `{"keys": [{"id": "k1", "name": "n", "scope": "ie_model", "createdAt": 1738812775, "expiresAt": null, ` + owner + `}]}`,
			want: []domain.Key{base("k1")}},
		{name: "expiresAt 0", body: `{"keys": [{"id": "k1", "name": "n", "scope": "ie_model", "createdAt": 1738812775, "expiresAt": 0, ` + owner + `}]}`,
			want: []domain.Key{base("k1")}},
		{name: "no owner", body: `{"keys": [{"id": "k1", "name": "n", "scope": "ie_model", "createdAt": 1738812775}]}`,
			want: []domain.Key{func() domain.Key { k := base("k1"); k.Owner = NoOwner; return k }()}},
		{name: "owner without id", body: `{"keys": [{"id": "k1", "name": "n", "scope": "ie_model", "createdAt": 1738812775, "owner": {"firstName": "x"}}]}`,
			want: []domain.Key{func() domain.Key { k := base("k1"); k.Owner = NoOwner; return k }()}},
		{name: "no keys", body: `{"keys": []}`, want: []domain.Key{}},
		{name: "keys null", body: `{"keys": null}`, want: []domain.Key{}},
		{name: "a key without id or createdAt is left out with a note",
			body: `{"keys": [{"name": "x", "createdAt": 1}, {"id": "k2", "name": "y"}, {"id": "k3", "createdAt": 0}]}`,
			want: []domain.Key{}, wantNotes: 3},
		{name: "dates in milliseconds are not judged",
			body: `{"keys": [{"id": "k1", "createdAt": 1738812775000}, {"id": "k2", "createdAt": 1738812775, "expiresAt": 1738812775000}]}`,
			want: []domain.Key{}, wantNotes: 2},
		{name: "an unknown envelope field is noted", body: `{"keys": [], "region": "us"}`, want: []domain.Key{}, wantNotes: 1},
		{name: "paging is refused", body: `{"keys": [], "nextPageToken": "abc"}`, wantErr: "nextPageToken"},
		{name: "a total is refused", body: `{"keys": [], "totalCount": 40}`, wantErr: "totalCount"},
		{name: "no keys field", body: `{"apiKeys": []}`, wantErr: "no keys field"},
		{name: "not JSON", body: `<html>`, wantErr: "decode the listing"},
		{name: "createdAt not a number", body: `{"keys": [{"id": "k", "createdAt": "yesterday"}]}`, wantErr: "keys"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, notes, err := parseListing(testOrg, []byte(tc.body))
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("err = %v, want one naming %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			keys := []domain.Key{}
			for _, l := range got {
				keys = append(keys, l.key)
			}
			if diff := cmp.Diff(tc.want, keys); diff != "" {
				t.Errorf("keys (-want +got):\n%s", diff)
			}
			if len(notes) != tc.wantNotes {
				t.Errorf("notes = %q, want %d", notes, tc.wantNotes)
			}
		})
	}
}

func TestAPIErrorNeverQuotesValues(t *testing.T) {
	body := `{"group": "request", "code": 0, "message": "Invalid field.", "traces": ["db: SELECT secret-trace"],
		"validationDetail": [{"field": "refreshToken", "expression": "jwt", "originalValue": "eyJsecretvalue", "reason": "Should be a valid JWT."}]}`
	err := decodeError(OpRefreshSession, 400, []byte(body))
	want := "HTTP 400 request/0: Invalid field; invalid field refreshToken (jwt): Should be a valid JWT"
	if err.Error() != want {
		t.Errorf("Error() = %q, want %q", err.Error(), want)
	}
	if !isAuthRefusal(err) {
		t.Error("a refused refresh token's form is not an authentication refusal")
	}
	if got := decodeError(OpListAPIKeys, 502, []byte("<html>bad gateway</html>")); got.Error() != "HTTP 502: Bad Gateway" {
		t.Errorf("a gateway page: %q", got.Error())
	}
}

func TestRetryable(t *testing.T) {
	tests := []struct {
		status int
		group  string
		code   int
		method string
		want   bool
	}{
		{500, GroupAPIKey, CodeGetDBError, http.MethodGet, true},
		{500, GroupAPIKey, CodeDeleteDBError, http.MethodDelete, true},
		{500, GroupOrganization, CodeGetDBError, http.MethodDelete, true},
		{500, GroupAPIKey, 7, http.MethodGet, false},
		{503, "", 0, http.MethodGet, true},
		{503, "", 0, http.MethodDelete, false}, // the delete may have happened
		{404, GroupOrganization, CodeOrgNotFound, http.MethodGet, false},
		{400, GroupRequest, CodeInvalidField, http.MethodGet, false},
	}
	for _, tc := range tests {
		e := &APIError{Status: tc.status, Group: tc.group, Code: tc.code}
		if got := e.retryable(tc.method); got != tc.want {
			t.Errorf("%s %v retryable = %v, want %v", tc.method, e, got, tc.want)
		}
	}
}

func TestBackoff(t *testing.T) {
	r := Retry{BaseDelay: 100 * time.Millisecond, MaxDelay: time.Second}.withDefaults()
	for n := 1; n <= 12; n++ {
		hi := min(r.BaseDelay<<(n-1), r.MaxDelay)
		for range 50 {
			if d := r.backoff(n); d < hi/2 || d > hi {
				t.Fatalf("backoff(%d) = %v, want within [%v, %v]", n, d, hi/2, hi)
			}
		}
	}
}

// TestDeleteStillListed: the reference documents no 404 for an unknown
// key; a 404 that is not organization/2 while the key is still listed is
// a failure, not a gone key.
func TestDeleteStillListed(t *testing.T) {
	const id = "550e8400-e29b-41d4-a716-446655440000"
	mux := http.NewServeMux()
	mux.HandleFunc("DELETE /api/v1/organizations/{org}/api-keys/{id}", func(w http.ResponseWriter, r *http.Request) {
		http.NotFound(w, r) // e.g. a proxy's 404 page
	})
	mux.HandleFunc("GET /api/v1/organizations/{org}/api-keys", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write([]byte(`{"keys": [{"id": "` + id + `", "createdAt": 1738812775}]}`))
	})
	srv := httptest.NewServer(mux)
	defer srv.Close()
	s, err := New(Config{Secret: Secret{OrganizationID: testOrg, AccessToken: "t", Endpoint: srv.URL + "/api/v1"}})
	if err != nil {
		t.Fatal(err)
	}
	err = s.Delete(context.Background(), domain.Key{ID: id})
	var se *domain.ServiceError
	if err == nil || errors.Is(err, domain.ErrKeyNotFound) || !errors.As(err, &se) || !strings.Contains(err.Error(), "still listed") {
		t.Fatalf("Delete = %v, want a failure saying the key is still listed", err)
	}
}

func TestNoRedirect(t *testing.T) {
	var followed bool
	target := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { followed = true }))
	defer target.Close()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, target.URL, http.StatusTemporaryRedirect)
	}))
	defer srv.Close()
	s, err := New(Config{Secret: Secret{OrganizationID: testOrg, AccessToken: "t", Endpoint: srv.URL}})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.Inventory(context.Background()); err == nil || followed {
		t.Errorf("Inventory = %v, followed = %v; want a failure and no request sent on", err, followed)
	}
}
