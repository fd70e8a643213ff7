// Package huaweiiam is a local stand-in for Huawei Cloud / Open Telekom
// Cloud IAM, for tests: no emulator of it exists. It serves, on 127.0.0.1,
// the routes keysweep calls with the request and response shapes, status
// codes and error bodies of the IAM API Reference, keeps users and
// permanent access keys in memory, pages users through links.next when
// asked to, throttles with 429 APIG.0308 on demand, and verifies the AK/SK
// signature of every request (verify.go) with the documented algorithm,
// answering 401 APIG.0301 to a wrong or missing signature or a stale
// X-Sdk-Date. Bodies and queries of the wrong shape get 400.
//
// It is test support, and `keysweep demo`'s stand-in for a domain: no
// Lambda function reaches it (internal/architecture holds that).
package huaweiiam

import (
	"fmt"
	"maps"
	"net/http"
	"net/http/httptest"
	"sort"
	"sync"
	"testing"
	"time"
)

// Options configures a Server.
type Options struct {
	// DomainID and DomainName name the one domain the server holds.
	DomainID, DomainName string
	// UsersPageSize > 0 pages GET /v3/users through links.next (marker and
	// limit in the link); 0 answers one page with next null, as Huawei's
	// reference documents.
	UsersPageSize int
	// V5 serves the IAM v5 routes; without it they answer 404 APIG.0101,
	// as an OTC endpoint does.
	V5 bool
	// Now is the server's clock for the X-Sdk-Date check; time.Now by default.
	Now func() time.Time
}

// Credential is an AK/SK the server accepts; SecurityToken marks
// temporary credentials, which must send it.
type Credential struct {
	AccessKeyID, SecretAccessKey, SecurityToken string
}

// User is an IAM user.
type User struct {
	ID, Name string
	Enabled  bool
	Tags     map[string]string
}

// Key is a permanent access key.
type Key struct {
	Access, UserID, Status, Description string
	Created                             time.Time
	// LastUsed is nil for a key never used.
	LastUsed *time.Time
}

// Server is a running local IAM endpoint.
type Server struct {
	// URL is the endpoint, http://127.0.0.1:port.
	URL string

	opts Options
	ts   *httptest.Server

	mu       sync.Mutex
	seq      int
	users    map[string]*User // by id
	keys     map[string]*Key  // by access key id
	creds    map[string]Credential
	calls    map[string]int // by route pattern
	statuses map[int]int
	faults   []*fault
	every    int // throttle every nth request; 0: never
	requests int
	denied   map[string]bool // route patterns answered 403
}

// Start runs a server until the test ends. It holds one caller credential
// (Caller) and no users.
func Start(t testing.TB, opts Options) *Server {
	t.Helper()
	s := New(opts)
	t.Cleanup(s.Close)
	return s
}

// New runs a server until Close.
func New(opts Options) *Server {
	if opts.DomainID == "" {
		opts.DomainID = "d78cbac186b744899480f25bd022f468"
	}
	if opts.DomainName == "" {
		opts.DomainName = "keysweep-test"
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	s := &Server{
		opts: opts, users: map[string]*User{}, keys: map[string]*Key{}, creds: map[string]Credential{},
		calls: map[string]int{}, statuses: map[int]int{}, denied: map[string]bool{},
	}
	s.AddCredential(Credential{AccessKeyID: "KEYSWEEPCALLERAK0001", SecretAccessKey: "keysweep-caller-secret-key-0001"})
	s.ts = httptest.NewServer(s.routes())
	s.URL = s.ts.URL
	return s
}

// Close stops the server.
func (s *Server) Close() { s.ts.Close() }

// DomainID is the domain the server holds.
func (s *Server) DomainID() string { return s.opts.DomainID }

// Caller is the credential the server was started with.
func (s *Server) Caller() Credential { return s.credentialOrZero("KEYSWEEPCALLERAK0001") }

// AddCredential makes the server accept another AK/SK (or replace one).
func (s *Server) AddCredential(c Credential) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.creds[c.AccessKeyID] = c
}

func (s *Server) credential(ak string) (Credential, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	c, ok := s.creds[ak]
	return c, ok
}

func (s *Server) credentialOrZero(ak string) Credential {
	c, _ := s.credential(ak)
	return c
}

func (s *Server) now() time.Time { return s.opts.Now() }

// AddUser adds an enabled user and returns its id (32 hex digits).
func (s *Server) AddUser(name string, tags map[string]string) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.seq++
	id := fmt.Sprintf("%08x%024x", 0x0760_9fb9, s.seq)
	s.users[id] = &User{ID: id, Name: name, Enabled: true, Tags: maps.Clone(tags)}
	return id
}

// DeleteUser removes a user and its keys.
func (s *Server) DeleteUser(id string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.users, id)
	for ak, k := range s.keys {
		if k.UserID == id {
			delete(s.keys, ak)
		}
	}
}

// AddKey adds an active key to the user and returns its access key id
// (20 upper-case letters and digits). lastUsed nil: never used.
func (s *Server) AddKey(userID string, created time.Time, lastUsed *time.Time) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.users[userID]; !ok {
		panic("huaweiiam: AddKey for unknown user " + userID)
	}
	s.seq++
	ak := fmt.Sprintf("HPUA%016d", s.seq)
	k := &Key{Access: ak, UserID: userID, Status: "active", Created: created.UTC()}
	if lastUsed != nil {
		t := lastUsed.UTC()
		k.LastUsed = &t
	}
	s.keys[ak] = k
	return ak
}

// SetKey changes a key in place (backdate its creation or last use, set
// its status or description); false when the key does not exist.
func (s *Server) SetKey(ak string, change func(*Key)) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	k, ok := s.keys[ak]
	if ok {
		change(k)
	}
	return ok
}

// Key reads a key back.
func (s *Server) Key(ak string) (Key, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	k, ok := s.keys[ak]
	if !ok {
		return Key{}, false
	}
	return *k, true
}

// Keys lists the keys, by access key id.
func (s *Server) Keys() []Key {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]Key, 0, len(s.keys))
	for _, k := range s.keys {
		out = append(out, *k)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Access < out[j].Access })
	return out
}

// Calls counts the requests that reached each route, by its pattern
// ("GET /v3/users", "PUT /v3.0/OS-CREDENTIAL/credentials/{access_key}",
// ...), refused ones included.
func (s *Server) Calls() map[string]int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return maps.Clone(s.calls)
}

// Statuses counts the answers by HTTP status.
func (s *Server) Statuses() map[int]int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return maps.Clone(s.statuses)
}

// ResetCounts zeroes Calls and Statuses.
func (s *Server) ResetCounts() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.calls, s.statuses, s.requests = map[string]int{}, map[int]int{}, 0
}

// fault answers a route with a status for a number of requests.
type fault struct {
	route  string // pattern; "" for any route
	status int
	left   int // < 0: forever
}

// Fail answers the next times requests to route (a pattern as Calls names
// it, or "" for every route) with status and its documented error body:
// 429 APIG.0308, 403 IAM.0002, 500 IAM.0006, .... times < 0: until
// ClearFaults. Signatures are checked first.
func (s *Server) Fail(route string, status, times int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.faults = append(s.faults, &fault{route: route, status: status, left: times})
}

// ThrottleEvery answers every nth signed request with 429 APIG.0308 (0 stops).
func (s *Server) ThrottleEvery(n int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.every = n
}

// Deny answers route with 403 (IAM.0002, or Keystone's 403 body on /v3
// routes) until ClearFaults: a permission the caller lacks.
func (s *Server) Deny(route string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.denied[route] = true
}

// ClearFaults ends Fail, ThrottleEvery and Deny.
func (s *Server) ClearFaults() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.faults, s.every, s.denied = nil, 0, map[string]bool{}
}

// injected returns the status a fault or throttle imposes on a request to
// route, or 0.
func (s *Server) injected(route string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.requests++
	if s.denied[route] {
		return http.StatusForbidden
	}
	for _, f := range s.faults {
		if (f.route == "" || f.route == route) && f.left != 0 {
			if f.left > 0 {
				f.left--
			}
			return f.status
		}
	}
	if s.every > 0 && s.requests%s.every == 0 {
		return http.StatusTooManyRequests
	}
	return 0
}
