package huawei

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"sync"
	"time"

	"github.com/keysweep/keysweep/internal/domain"
)

// V5Mode says whether the store uses IAM v5 (owner tags).
type V5Mode int

// V5 modes. Open Telekom Cloud has IAM v3/v3.0 only: V5Off, or V5Auto.
const (
	// V5Off uses v3/v3.0 only: no owner tags.
	V5Off V5Mode = iota
	// V5On uses IAM v5 for owner tags; a v5 call that fails fails.
	V5On
	// V5Auto asks the endpoint once (Detect, one ListUsersV5 call with
	// limit=1) and uses v5 when it answers.
	V5Auto
)

// Config configures a Store for one Huawei Cloud / OTC domain.
type Config struct {
	// Endpoint is the IAM endpoint: https://iam.eu-de.otc.t-systems.com,
	// https://iam.myhuaweicloud.com, ... (http only for a loopback host).
	Endpoint string
	// DomainID is the domain (account) id; asked of IAM once when empty.
	DomainID    string
	Credentials Credentials
	V5          V5Mode
	// Concurrency is how many users Inventory reads at once; default 8.
	Concurrency int
	Retry       Retry
	// HTTPClient sends the requests; a client with a 30s timeout by default.
	HTTPClient *http.Client
	Logger     *slog.Logger
	// Now is the signing clock; time.Now by default.
	Now func() time.Time
}

// Store is the engine's KeyStore for one Huawei Cloud or Open Telekom
// Cloud domain. It is safe for concurrent use.
type Store struct {
	c   *client
	cfg Config
	log *slog.Logger

	mu       sync.Mutex
	domainID string
	v5       bool
	detected bool
	// names caches user id -> name, filled by Inventory and lookups, so a
	// re-check costs one call per key.
	names map[string]string
}

// New checks cfg and builds a Store; it makes no call.
func New(cfg Config) (*Store, error) {
	base, err := parseEndpoint(cfg.Endpoint)
	if err != nil {
		return nil, fmt.Errorf("huawei key store: %w", err)
	}
	if err := cfg.Credentials.validate(); err != nil {
		return nil, fmt.Errorf("huawei key store: %w", err)
	}
	if cfg.Concurrency <= 0 {
		cfg.Concurrency = 8
	}
	if cfg.HTTPClient == nil {
		cfg.HTTPClient = &http.Client{Timeout: 30 * time.Second}
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	s := &Store{cfg: cfg, log: cfg.Logger, domainID: cfg.DomainID, names: map[string]string{}}
	s.v5, s.detected = cfg.V5 == V5On, cfg.V5 != V5Auto
	s.c = &client{
		base: base, http: cfg.HTTPClient, cred: cfg.Credentials, domain: cfg.DomainID,
		now: cfg.Now, retry: cfg.Retry.withDefaults(), log: cfg.Logger, calls: newCounter(),
	}
	return s, nil
}

// Open is New, then Detect: the Store's Capabilities are final when it
// returns. An unreachable endpoint fails here, before any run starts.
func Open(ctx context.Context, cfg Config) (*Store, error) {
	s, err := New(cfg)
	if err != nil {
		return nil, err
	}
	if err := s.Detect(ctx); err != nil {
		return nil, err
	}
	return s, nil
}

// Detect asks, once and with V5Auto only, whether the endpoint serves IAM
// v5: a 2xx to ListUsersV5 says yes; 404 (API Gateway's "The API does not
// exist") or 403 (no v5 permission) say no. Other failures are returned.
func (s *Store) Detect(ctx context.Context) error {
	s.mu.Lock()
	done := s.detected
	s.mu.Unlock()
	if done {
		return nil
	}
	var out listUsersV5Response
	err := s.c.do(ctx, request{op: OpListUsersV5, what: "detect IAM v5", method: http.MethodGet,
		path: pathUsersV5, query: map[string][]string{"limit": {"1"}}, out: &out})
	var apiErr *APIError
	switch {
	case err == nil:
		s.setV5(true)
	case errors.As(err, &apiErr) && (apiErr.Status == http.StatusNotFound || apiErr.Status == http.StatusForbidden):
		s.log.InfoContext(ctx, "huawei iam: no IAM v5 on this endpoint; owner tags unavailable", "status", apiErr.Status, "code", apiErr.Code)
		s.setV5(false)
	default:
		return err
	}
	return nil
}

func (s *Store) setV5(v bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.v5, s.detected = v, true
}

func (s *Store) hasV5() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.v5
}

// Provider is domain.ProviderHuawei.
func (s *Store) Provider() domain.Provider { return domain.ProviderHuawei }

// Capabilities: keys have a status and a last use; no expiry, no report, no
// paths; owner tags only through IAM v5 (with V5Auto, once Detect has run).
func (s *Store) Capabilities() domain.Capabilities {
	return domain.Capabilities{Deactivate: true, LastUsed: true, OwnerTags: s.hasV5()}
}

// Account returns the domain id: Config.DomainID, else the first domain
// KeystoneListAuthDomains gives these credentials (asked once).
func (s *Store) Account(ctx context.Context) (string, error) {
	s.mu.Lock()
	id := s.domainID
	s.mu.Unlock()
	if id != "" {
		return id, nil
	}
	var out listAuthDomainsResponse
	if err := s.c.do(ctx, request{op: OpListAuthDomains, what: "find the domain id", method: http.MethodGet,
		path: pathAuthDomains, out: &out}); err != nil {
		return "", err
	}
	if len(out.Domains) == 0 || out.Domains[0].ID == "" {
		return "", serviceError("find the domain id", errors.New("the endpoint named no domain for these credentials"))
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.domainID = out.Domains[0].ID
	return s.domainID, nil
}

// Calls counts the calls made so far by operation (OpListUsers, ...); a
// retried call counts once. Attempts counts what the endpoint saw.
func (s *Store) Calls() map[string]int { return s.c.calls.snapshot(s.c.calls.calls) }

// Attempts counts the requests sent by operation, retries included.
func (s *Store) Attempts() map[string]int { return s.c.calls.snapshot(s.c.calls.attempts) }

// Throttles counts the 429 answers by operation.
func (s *Store) Throttles() map[string]int { return s.c.calls.snapshot(s.c.calls.throttles) }

// OwnerPath is unsupported: Huawei IAM users have no path.
func (s *Store) OwnerPath(context.Context, domain.Owner) (string, error) {
	return "", domain.Unsupported(domain.ProviderHuawei, "owner paths (IAM users have no path)")
}

// OwnerTags reads the user's tags with IAM v5's ListResourceTagsV5.
func (s *Store) OwnerTags(ctx context.Context, owner domain.Owner) (map[string]string, error) {
	if !s.hasV5() {
		return nil, domain.Unsupported(domain.ProviderHuawei, "owner tags (the endpoint has no IAM v5)")
	}
	id, err := s.ownerID(ctx, owner)
	if err != nil {
		return nil, err
	}
	var out listTagsV5Response
	if err := s.c.do(ctx, request{op: OpListTagsV5, what: "list tags of user " + owner.Name, method: http.MethodGet,
		path: pathTagsV5 + id + "/tags", out: &out, gone: true}); err != nil {
		return nil, err
	}
	tags := make(map[string]string, len(out.Tags))
	for _, t := range out.Tags {
		tags[t.Key] = t.Value
	}
	return tags, nil
}
