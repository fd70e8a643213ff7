package gmi

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"sync"
	"time"

	"github.com/keysweep/keysweep/internal/domain"
)

// Config builds a Store.
type Config struct {
	// Secret names the organization and holds the session's tokens
	// (ParseSecret, SecretFromEnv).
	Secret Secret
	// OnRenew stores a renewed session (the Lambda writes the secret back
	// to Secrets Manager). It is called with the whole secret, tokens
	// included, each time the store renews the session; while it fails the
	// store's calls fail with ErrRenewalNotSaved. Nil turns renewal off: an
	// expired access token then fails with ErrTokenExpired, since renewing
	// would spend the secret's refresh token with nothing to keep the new
	// one.
	OnRenew func(ctx context.Context, renewed Secret) error
	// HTTPClient sends the requests; default a client with a 30s timeout.
	// Redirects are never followed.
	HTTPClient *http.Client
	// Retry bounds the retries of retryable failures.
	Retry Retry
	// Logger; default slog.Default(). Tokens are never logged.
	Logger *slog.Logger
	// Now tells the time of an inventory; default time.Now.
	Now func() time.Time
}

// Store is the engine's KeyStore for one GMI Cloud organization's API
// keys. It is safe for concurrent use.
type Store struct {
	org string
	c   *client
	log *slog.Logger
	now func() time.Time

	profileMu    sync.Mutex
	profileDone  bool
	profileNotes []string
}

// New returns a Store for cfg.Secret's organization. It checks the secret
// as ParseSecret does, except the form of the organization id, which it
// leaves to the API: a non-UUID id is answered 400 request/0 naming orgId,
// reported as such (ParseSecret and SecretFromEnv refuse it up front).
func New(cfg Config) (*Store, error) {
	sec := cfg.Secret
	if sec.OrganizationID == "" {
		return nil, fmt.Errorf("%w: organizationId is required", ErrInvalidSecret)
	}
	check := sec
	check.OrganizationID = "00000000-0000-0000-0000-000000000000"
	if err := check.validate(func(f string) string { return f }); err != nil {
		return nil, err
	}
	sec = sec.withDefaults()
	log := cfg.Logger
	if log == nil {
		log = slog.Default()
	}
	now := cfg.Now
	if now == nil {
		now = time.Now
	}
	c := &client{
		http:     httpClient(cfg.HTTPClient),
		endpoint: sec.Endpoint,
		retry:    cfg.Retry.withDefaults(),
		log:      log,
		calls:    map[string]int{},
	}
	c.sess = &session{c: c, onRenew: cfg.OnRenew, log: log, sec: sec}
	return &Store{org: sec.OrganizationID, c: c, log: log, now: now}, nil
}

// Provider is domain.ProviderGMI.
func (s *Store) Provider() domain.Provider { return domain.ProviderGMI }

// Capabilities: GMI keys carry an expiry date, and nothing else the engine
// could use: no status to deactivate, no last use, no owner tags or paths,
// no report.
func (s *Store) Capabilities() domain.Capabilities {
	return domain.Capabilities{Expiry: true}
}

// Account is the organization id.
func (s *Store) Account(context.Context) (string, error) { return s.org, nil }

// Calls counts the requests sent so far by operation (OpListAPIKeys, ...),
// every retry and renewal included.
func (s *Store) Calls() map[string]int { return s.c.snapshot() }

// Inventory lists the organization's keys (one call: the listing is not
// paged) and groups them by owner. Its notes say what the listing left
// out, and when the session's role may hide other members' keys.
func (s *Store) Inventory(ctx context.Context) (*domain.Inventory, error) {
	at := s.now()
	keys, notes, err := s.list(ctx)
	if err != nil {
		return nil, err
	}
	roleNotes, err := s.roleNotes(ctx)
	if err != nil {
		return nil, err
	}
	return &domain.Inventory{
		Source:      "list",
		GeneratedAt: at,
		Owners:      group(keys),
		Notes:       append(roleNotes, notes...),
	}, nil
}

// OwnerKeys lists the organization's keys and keeps the owner's.
func (s *Store) OwnerKeys(ctx context.Context, owner domain.Owner) ([]domain.Key, error) {
	keys, _, err := s.list(ctx)
	if err != nil {
		return nil, err
	}
	var out []domain.Key
	for _, l := range keys {
		if l.key.Owner == owner.Name {
			out = append(out, l.key)
		}
	}
	sortKeys(out)
	return out, nil
}

// Recheck lists the organization's keys and returns key as listed now;
// wraps domain.ErrKeyNotFound when it is no longer listed. GMI keys have
// no status, so status changes nothing.
func (s *Store) Recheck(ctx context.Context, key domain.Key, _ bool) (domain.Key, error) {
	return s.find(ctx, "re-check", key.ID)
}

// FindKey lists the organization's keys and returns the one with id.
func (s *Store) FindKey(ctx context.Context, id string) (domain.Key, error) {
	return s.find(ctx, "find", id)
}

func (s *Store) find(ctx context.Context, verb, id string) (domain.Key, error) {
	if id == "" {
		return domain.Key{}, fmt.Errorf("%s GMI Cloud API key: no key id", verb)
	}
	keys, _, err := s.list(ctx)
	if err != nil {
		return domain.Key{}, err
	}
	for _, l := range keys {
		if l.key.ID == id {
			return l.key, nil
		}
	}
	return domain.Key{}, fmt.Errorf("%s GMI Cloud API key %s in organization %s: %w", verb, id, s.org, domain.ErrKeyNotFound)
}

// Delete deletes the key ("Delete an API key"). 404 organization/2 is a
// failure wrapping ErrOrganizationNotFound: the organization is wrong,
// the key is not gone. The reference documents no answer for an unknown
// key, so any other 404 is checked against the listing: a key no longer
// listed wraps domain.ErrKeyNotFound, a key still listed is a failure.
func (s *Store) Delete(ctx context.Context, key domain.Key) error {
	if key.ID == "" {
		return errors.New("delete GMI Cloud API key: no key id")
	}
	op := fmt.Sprintf("delete GMI Cloud API key %s in organization %s", key.ID, s.org)
	err := s.c.call(ctx, OpDeleteAPIKey, http.MethodDelete, s.keysPath()+"/"+url.PathEscape(key.ID), nil)
	if err == nil {
		return nil
	}
	var ae *APIError
	if !errors.As(err, &ae) || ae.Status != http.StatusNotFound || ae.orgNotFound() {
		return serviceError(op, err)
	}
	_, lerr := s.find(ctx, "confirm", key.ID)
	switch {
	case errors.Is(lerr, domain.ErrKeyNotFound):
		return fmt.Errorf("%s: %w (HTTP 404, and no longer listed)", op, domain.ErrKeyNotFound)
	case lerr != nil:
		return serviceError(op, fmt.Errorf("%w; the listing to confirm the key is gone failed too: %w", err, lerr))
	}
	return serviceError(op, fmt.Errorf("%w, yet the key is still listed", err))
}

// Deactivate is unsupported: GMI keys have no status.
func (s *Store) Deactivate(context.Context, domain.Key) error {
	return domain.Unsupported(domain.ProviderGMI, "deactivate a key (API keys have no status)")
}

// OwnerTags is unsupported: GMI users carry no tags.
func (s *Store) OwnerTags(context.Context, domain.Owner) (map[string]string, error) {
	return nil, domain.Unsupported(domain.ProviderGMI, "owner tags")
}

// OwnerPath is unsupported: GMI users have no path.
func (s *Store) OwnerPath(context.Context, domain.Owner) (string, error) {
	return "", domain.Unsupported(domain.ProviderGMI, "owner paths")
}

func (s *Store) keysPath() string {
	return "/organizations/" + url.PathEscape(s.org) + "/api-keys"
}

// list calls "List API keys" once.
func (s *Store) list(ctx context.Context) ([]listed, []string, error) {
	op := "list GMI Cloud API keys of organization " + s.org
	var body rawBody
	if err := s.c.call(ctx, OpListAPIKeys, http.MethodGet, s.keysPath(), &body); err != nil {
		return nil, nil, serviceError(op, err)
	}
	keys, notes, err := parseListing(s.org, body)
	if err != nil {
		return nil, nil, serviceError(op, err)
	}
	return keys, notes, nil
}

// rawBody keeps an answer's JSON as is for parseListing.
type rawBody []byte

func (b *rawBody) UnmarshalJSON(data []byte) error {
	*b = append((*b)[:0], data...)
	return nil
}
