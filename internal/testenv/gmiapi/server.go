// Package gmiapi is a local GMI Cloud IAM Service API for tests: an HTTP
// server on 127.0.0.1 written from the reference's OpenAPI 3.0.3 document
// ("IAM Service API" 2.4.0: "List API keys", "Delete an API key",
// "Refresh session", "Retrieve user's profile"). It is strict: it checks
// every request against the documented shapes (bearer Authorization, UUID
// path parameters, no undocumented query parameter or body, the refresh's
// CE-ClientId header and body) and answers with the documented status
// codes and ErrStatusMsg bodies, so that a client's mistake fails a test
// instead of being agreed with.
//
// Where the reference is silent the server makes a choice, named in
// Assumed*: an unknown key's 404 body, a 401's body (the reference defers
// to a "Common Headers" page that is not public: the server sends none),
// and the role names besides org_owner.
package gmiapi

import (
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"maps"
	"net"
	"net/http"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"
)

// Operation names, the reference's operationIds, as Calls counts them.
const (
	OpListAPIKeys    = "ListApiKeys"
	OpDeleteAPIKey   = "DeleteApiKey"
	OpRefreshSession = "RefreshSession"
	OpGetProfile     = "GetProfile"
)

// Organization roles. Only RoleOwner appears in the reference; the others
// are this server's names for the "organization admin" and "organization
// user" the operations' descriptions speak of.
const (
	RoleOwner = "org_owner"
	RoleAdmin = "org_admin" // assumed name
	RoleUser  = "org_user"  // assumed name
)

// The answer to deleting a key the organization does not have. The
// reference documents no such case; this server answers 404 with this
// ErrStatusMsg, which a client must not mistake for organization/2.
const (
	AssumedUnknownKeyGroup   = "api-key"
	AssumedUnknownKeyCode    = 2
	AssumedUnknownKeyMessage = "API key does not exist."
)

// Owner is a key's owner as the listing shows it.
type Owner struct {
	ID        string
	FirstName string
	LastName  string
}

// Key is one API key. A zero CreatedAt is set to the time it is added; a
// zero ExpiresAt means the key never expires (expiresAt is left out of
// the listing). A nil Owner is left out too.
type Key struct {
	ID         string
	Name       string
	Type       string // default "ie_model"
	Scope      string // default "ie_model"
	PartialKey string
	CreatedAt  time.Time
	ExpiresAt  time.Time
	Owner      *Owner
}

// User is a member of an organization who can hold a session.
type User struct {
	ID        string
	Email     string
	FirstName string
	LastName  string
	Role      string // default RoleOwner
}

// Tokens are a session's tokens, as "Create session" returns them, and the
// CE-ClientId the session was created with.
type Tokens struct {
	AccessToken  string
	RefreshToken string
	ClientID     string
}

// Request is one request the server answered. It never holds a token.
type Request struct {
	Op     string // "" for a route the API does not have
	Method string
	Path   string
	Status int
}

// Server is the local API. Its methods are safe for concurrent use.
type Server struct {
	srv *http.Server
	ln  net.Listener
	url string

	mu       sync.Mutex
	orgs     map[string]*org
	access   map[string]*sess // valid access tokens
	refresh  map[string]*sess // valid refresh tokens
	faults   map[string]*fault
	calls    map[string]int
	requests []Request
	now      func() time.Time
}

type org struct {
	users map[string]User
	keys  map[string]*Key
}

type sess struct {
	org, user, clientID string
	access, refresh     string
}

type fault struct {
	n     int
	group string
	code  int
}

// Start serves on addr ("127.0.0.1:0" picks a free port).
func Start(addr string) (*Server, error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("listen on %s: %w", addr, err)
	}
	s := &Server{
		ln:      ln,
		url:     "http://" + ln.Addr().String(),
		orgs:    map[string]*org{},
		access:  map[string]*sess{},
		refresh: map[string]*sess{},
		faults:  map[string]*fault{},
		calls:   map[string]int{},
		now:     time.Now,
	}
	s.srv = &http.Server{Handler: s.routes(), ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = s.srv.Serve(ln) }()
	return s, nil
}

// New starts a server for the test and closes it when the test ends.
func New(t testing.TB) *Server {
	t.Helper()
	s, err := Start("127.0.0.1:0")
	if err != nil {
		t.Fatalf("start the local GMI Cloud API: %v", err)
	}
	t.Cleanup(s.Close)
	return s
}

// Close stops the server.
func (s *Server) Close() { _ = s.srv.Close() }

// Endpoint is the API's base URL, as the reference's server URL
// (https://console.gmicloud.ai/api/v1) is the real one's.
func (s *Server) Endpoint() string { return s.url + "/api/v1" }

// SetClock sets the time keys are created at by default.
func (s *Server) SetClock(now func() time.Time) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.now = now
}

// AddOrg creates an organization (id should be a UUID to be reachable).
func (s *Server) AddOrg(id string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.orgs[id] == nil {
		s.orgs[id] = &org{users: map[string]User{}, keys: map[string]*Key{}}
	}
}

// AddUser adds a member to org (created if needed); a missing ID is made.
func (s *Server) AddUser(orgID string, u User) User {
	s.AddOrg(orgID)
	s.mu.Lock()
	defer s.mu.Unlock()
	if u.ID == "" {
		u.ID = NewUUID()
	}
	if u.Role == "" {
		u.Role = RoleOwner
	}
	s.orgs[orgID].users[u.ID] = u
	return u
}

// Login opens a session for a member of org, as "Create an auth token"
// then "Create session" would with clientID as CE-ClientId.
func (s *Server) Login(orgID, userID, clientID string) (Tokens, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	o := s.orgs[orgID]
	if o == nil {
		return Tokens{}, fmt.Errorf("no organization %s", orgID)
	}
	if _, ok := o.users[userID]; !ok {
		return Tokens{}, fmt.Errorf("no user %s in organization %s", userID, orgID)
	}
	if !clientIDOK(clientID) {
		return Tokens{}, errors.New("a CE-ClientId must be 1 to 7 letters or digits")
	}
	se := &sess{org: orgID, user: userID, clientID: clientID}
	s.issue(se)
	return Tokens{AccessToken: se.access, RefreshToken: se.refresh, ClientID: clientID}, nil
}

// issue gives se new tokens; s.mu is held.
func (s *Server) issue(se *sess) {
	delete(s.access, se.access)
	delete(s.refresh, se.refresh)
	se.access, se.refresh = newToken(), newToken()
	s.access[se.access] = se
	s.refresh[se.refresh] = se
}

// AddKey adds a key to org (created if needed) and returns it as stored.
func (s *Server) AddKey(orgID string, k Key) Key {
	s.AddOrg(orgID)
	s.mu.Lock()
	defer s.mu.Unlock()
	if k.ID == "" {
		k.ID = NewUUID()
	}
	if k.CreatedAt.IsZero() {
		k.CreatedAt = s.now()
	}
	k.CreatedAt = k.CreatedAt.Truncate(time.Second)
	k.ExpiresAt = k.ExpiresAt.Truncate(time.Second)
	if k.Type == "" {
		k.Type = "ie_model"
	}
	if k.Scope == "" {
		k.Scope = "ie_model"
	}
	if k.PartialKey == "" {
		k.PartialKey = newToken()[37:47]
	}
	cp := k
	s.orgs[orgID].keys[k.ID] = &cp
	return k
}

// RemoveKey deletes a key behind the client's back.
func (s *Server) RemoveKey(orgID, id string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if o := s.orgs[orgID]; o != nil {
		delete(o.keys, id)
	}
}

// Keys returns org's keys, oldest first.
func (s *Server) Keys(orgID string) []Key {
	s.mu.Lock()
	defer s.mu.Unlock()
	o := s.orgs[orgID]
	if o == nil {
		return nil
	}
	out := make([]Key, 0, len(o.keys))
	for _, k := range o.keys {
		out = append(out, *k)
	}
	slices.SortFunc(out, func(a, b Key) int {
		if c := a.CreatedAt.Compare(b.CreatedAt); c != 0 {
			return c
		}
		return strings.Compare(a.ID, b.ID)
	})
	return out
}

// FailNext answers the next n requests of operation op (after they passed
// authentication and validation) with 500 and the ErrStatusMsg group/code,
// e.g. ("api-key", 1201) "Get API key encountered DB error" or ("api-key",
// 1600) "Delete API key encountered DB error". n < 0 fails them forever.
func (s *Server) FailNext(op string, n int, group string, code int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.faults[op] = &fault{n: n, group: group, code: code}
}

// ExpireAccessTokens makes every access token issued so far answer 401;
// refresh tokens keep working.
func (s *Server) ExpireAccessTokens() {
	s.mu.Lock()
	defer s.mu.Unlock()
	clear(s.access)
}

// RevokeRefreshTokens makes every refresh token issued so far invalid.
func (s *Server) RevokeRefreshTokens() {
	s.mu.Lock()
	defer s.mu.Unlock()
	clear(s.refresh)
}

// Calls counts the requests by operation (failed ones included).
func (s *Server) Calls() map[string]int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return maps.Clone(s.calls)
}

// Requests lists the requests answered so far, in order.
func (s *Server) Requests() []Request {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.requests)
}

// NewUUID returns a random (version 4) UUID.
func NewUUID() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:16])
}

// newToken returns a random token shaped like a JWT (the bearerFormat the
// reference names); nothing checks its signature.
func newToken() string {
	var b [24]byte
	_, _ = rand.Read(b[:])
	return "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9." + base64.RawURLEncoding.EncodeToString(b[:12]) +
		"." + base64.RawURLEncoding.EncodeToString(b[12:])
}
