package huawei

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"sort"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/keysweep/keysweep/internal/domain"
)

// SourceList is the Inventory.Source of this store: there is no credential
// report, every user's keys are listed.
const SourceList = "list"

// maxUserPages stops a links.next chain that never ends.
const maxUserPages = 10000

// Inventory lists every user of the domain (KeystoneListUsers, following
// links.next while the endpoint gives one), then, for Config.Concurrency
// users at once, each user's keys (ListPermanentAccessKeys) and each key's
// last use (ShowPermanentAccessKey).
//
// Why a call per key: the listing has no last use ("Querying Permanent
// Access Keys" answers user_id, access, status, create_time, description),
// and only "Querying a Permanent Access Key" answers last_use_time. The
// inactivity rule needs it for every key, so an inventory of U users and K
// keys costs 1 + U + K calls (IAM v5 would cost the same: its access-key
// listing has no last use either, and ShowAccessKeyLastUsedV5 is per key).
// The per-key answer also refreshes the key's status.
//
// A user or key deleted while listing is left out: it is gone, which is
// what the inventory would have said a moment later. The first other
// failure stops the listing and is returned.
func (s *Store) Inventory(ctx context.Context) (*domain.Inventory, error) {
	generated := time.Now().UTC()
	if err := s.Detect(ctx); err != nil { // a no-op unless V5Auto and not yet asked
		return nil, fmt.Errorf("inventory: %w", err)
	}
	account, err := s.Account(ctx)
	if err != nil {
		return nil, fmt.Errorf("inventory: %w", err)
	}
	users, err := s.listUsers(ctx, account)
	if err != nil {
		return nil, fmt.Errorf("inventory: %w", err)
	}
	for _, u := range users {
		s.remember(u.ID, u.Name)
	}
	owners := make([]*domain.Owner, len(users))
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(s.cfg.Concurrency)
	for i, u := range users {
		g.Go(func() error {
			o, err := s.listOwner(gctx, account, u)
			owners[i] = o
			return err
		})
	}
	if err := g.Wait(); err != nil {
		return nil, fmt.Errorf("inventory: %w", err)
	}
	inv := &domain.Inventory{Source: SourceList, GeneratedAt: generated, Owners: make([]domain.Owner, 0, len(owners))}
	for _, o := range owners {
		if o != nil {
			inv.Owners = append(inv.Owners, *o)
		}
	}
	sort.Slice(inv.Owners, func(i, j int) bool { return inv.Owners[i].Name < inv.Owners[j].Name })
	if !s.hasV5() {
		why := "IAM v5 is off for this target"
		if s.cfg.V5 == V5Auto {
			why = "the endpoint offers no IAM v5 (Open Telekom Cloud has v3 only)"
		}
		inv.Notes = append(inv.Notes, "owner tags unavailable: "+why)
	}
	return inv, nil
}

// listUsers reads every page of KeystoneListUsers. A next link must point
// at the endpoint itself (its path and query are followed, signed as any
// request); a list the server says it truncated without a next link is an
// error, never a silently short inventory.
func (s *Store) listUsers(ctx context.Context, account string) ([]userJSON, error) {
	var users []userJSON
	path, query := pathUsers, url.Values{"domain_id": {account}}
	seen := map[string]bool{}
	for page := 1; ; page++ {
		var out listUsersResponse
		if err := s.c.do(ctx, request{op: OpListUsers, what: fmt.Sprintf("list users (page %d)", page),
			method: http.MethodGet, path: path, query: query, out: &out}); err != nil {
			return nil, err
		}
		users = append(users, out.Users...)
		if out.Links.Next == nil || *out.Links.Next == "" {
			if out.Truncated {
				return nil, serviceError("list users", errors.New("the endpoint truncated the list and gave no next page"))
			}
			return users, nil
		}
		next, err := s.followable(*out.Links.Next)
		if err != nil {
			return nil, serviceError("list users", err)
		}
		if seen[next.String()] || page >= maxUserPages {
			return nil, serviceError("list users", fmt.Errorf("the next links loop (page %d)", page))
		}
		seen[next.String()] = true
		path, query = next.Path, next.Query()
	}
}

// followable checks a next link: same scheme and host as the endpoint.
func (s *Store) followable(link string) (*url.URL, error) {
	u, err := url.Parse(link)
	if err != nil {
		return nil, fmt.Errorf("next link %q: %w", link, err)
	}
	if u.Host != "" && (u.Host != s.c.base.Host || u.Scheme != s.c.base.Scheme) {
		return nil, fmt.Errorf("next link %q leaves the endpoint %s", link, s.c.base.Host)
	}
	if u.Path == "" || u.Path[0] != '/' {
		return nil, fmt.Errorf("next link %q has no absolute path", link)
	}
	return u, nil
}

// listOwner reads one user's keys with their last use; nil when the user
// is gone.
func (s *Store) listOwner(ctx context.Context, account string, u userJSON) (*domain.Owner, error) {
	if err := checkID("user id", u.ID); err != nil {
		return nil, serviceError("list users", err)
	}
	creds, err := s.listCredentials(ctx, u.ID, u.Name)
	if errors.Is(err, domain.ErrKeyNotFound) {
		s.log.DebugContext(ctx, "user deleted while listing", "user", u.Name)
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	o := &domain.Owner{Name: u.Name, ID: u.ID, Keys: make([]domain.Key, 0, len(creds))}
	for _, c := range creds {
		if err := checkID("access key", c.Access); err != nil {
			return nil, serviceError("list access keys of "+u.Name, err)
		}
		full, err := s.showCredential(ctx, c.Access)
		if errors.Is(err, domain.ErrKeyNotFound) {
			s.log.DebugContext(ctx, "access key deleted while listing", "user", u.Name, "accessKeyId", c.Access)
			continue
		}
		if err != nil {
			return nil, err
		}
		k, err := keyFrom(full, account, u.Name, true)
		if err != nil {
			return nil, serviceError("read access key "+c.Access, err)
		}
		o.Keys = append(o.Keys, k)
	}
	return o, nil
}
