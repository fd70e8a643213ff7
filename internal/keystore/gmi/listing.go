package gmi

import (
	"cmp"
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/keysweep/keysweep/internal/domain"
)

// NoOwner is the owner name of keys the listing gives without an owner (or
// with an owner without id). It can never be a GMI user id (a UUID), so
// the policy can name it, e.g. to exempt such keys or not.
const NoOwner = "(none)"

// apiKey is one key of "List API keys" (listApiKeysResponse.keys[]):
// createdAt and expiresAt are Unix seconds; a key created without
// expiresAt never expires ("Create an API key": "If not set, the key will
// not expire"), so an absent, null or 0 expiresAt means no expiry.
type apiKey struct {
	ID         string    `json:"id"`
	Name       string    `json:"name"`
	Type       string    `json:"type"`
	Scope      string    `json:"scope"`
	PartialKey string    `json:"partialKey"` // a fragment of the secret: read, never kept
	CreatedAt  *int64    `json:"createdAt"`
	ExpiresAt  *int64    `json:"expiresAt"`
	Owner      *apiOwner `json:"owner"`
}

type apiOwner struct {
	ID        string `json:"id"`
	FirstName string `json:"firstName"`
	LastName  string `json:"lastName"`
}

// maxUnixSeconds (the year 5138) is beyond any date in seconds the
// listing can mean: a larger value is milliseconds or garbage, and judging
// it would make an old key look new or a short-lived one look eternal.
const maxUnixSeconds = 1e11

// listed is a key of the listing with its owner as the domain names it.
type listed struct {
	key   domain.Key
	owner domain.Owner // without Keys
}

// pagingWords are the parts of an envelope field's name that would say
// the listing is paged. The reference's listing has no paging; should it
// ever gain some, the store fails rather than judge the first page as the
// whole organization.
var pagingWords = []string{"page", "next", "cursor", "token", "offset", "limit", "total", "more", "continu"}

// parseListing decodes a "List API keys" answer of organization org into
// its keys, and notes about what it could not use.
func parseListing(org string, body []byte) ([]listed, []string, error) {
	var env map[string]json.RawMessage
	if err := json.Unmarshal(body, &env); err != nil {
		return nil, nil, fmt.Errorf("decode the listing: %w", err)
	}
	raw, ok := env["keys"]
	if !ok {
		return nil, nil, fmt.Errorf("decode the listing: no keys field")
	}
	var notes []string
	for _, name := range slices.Sorted(maps.Keys(env)) {
		if name == "keys" {
			continue
		}
		lower := strings.ToLower(name)
		if slices.ContainsFunc(pagingWords, func(w string) bool { return strings.Contains(lower, w) }) {
			return nil, nil, fmt.Errorf("the listing carries %q, which looks like paging this store does not follow; refusing a possibly partial inventory", name)
		}
		notes = append(notes, fmt.Sprintf("the GMI Cloud listing carries a field %q this store does not know", name))
	}
	var keys []apiKey
	if err := json.Unmarshal(raw, &keys); err != nil {
		return nil, nil, fmt.Errorf("decode the listing's keys: %w", err)
	}
	out := make([]listed, 0, len(keys))
	for i, k := range keys {
		switch {
		case k.ID == "":
			notes = append(notes, fmt.Sprintf("GMI Cloud listed a key without id (entry %d, name %q): not judged", i, k.Name))
			continue
		case k.CreatedAt == nil || *k.CreatedAt <= 0:
			notes = append(notes, fmt.Sprintf("GMI Cloud key %s has no createdAt: not judged", k.ID))
			continue
		case *k.CreatedAt > maxUnixSeconds || (k.ExpiresAt != nil && *k.ExpiresAt > maxUnixSeconds):
			notes = append(notes, fmt.Sprintf("GMI Cloud key %s has a createdAt or expiresAt beyond the year 5000 (milliseconds rather than the documented seconds?): not judged", k.ID))
			continue
		}
		out = append(out, toListed(org, k))
	}
	return out, notes, nil
}

func toListed(org string, k apiKey) listed {
	owner := domain.Owner{Name: NoOwner}
	if k.Owner != nil && k.Owner.ID != "" {
		owner = domain.Owner{
			Name:        k.Owner.ID,
			DisplayName: strings.TrimSpace(k.Owner.FirstName + " " + k.Owner.LastName),
		}
	}
	key := domain.Key{
		ID:           k.ID,
		Account:      org,
		Owner:        owner.Name,
		Status:       domain.StatusNone,
		CreatedAt:    time.Unix(*k.CreatedAt, 0).UTC(),
		LastUseKnown: false,
		Name:         k.Name,
		Scope:        k.Scope,
	}
	if k.ExpiresAt != nil && *k.ExpiresAt > 0 {
		t := time.Unix(*k.ExpiresAt, 0).UTC()
		key.ExpiresAt = &t
	}
	return listed{key: key, owner: owner}
}

// group builds the inventory's owners, sorted by name, each with its keys
// sorted by creation (then id).
func group(keys []listed) []domain.Owner {
	byName := map[string]*domain.Owner{}
	for _, l := range keys {
		o, ok := byName[l.owner.Name]
		if !ok {
			cp := l.owner
			o = &cp
			byName[l.owner.Name] = o
		}
		if o.DisplayName == "" {
			o.DisplayName = l.owner.DisplayName
		}
		o.Keys = append(o.Keys, l.key)
	}
	owners := make([]domain.Owner, 0, len(byName))
	for _, o := range byName {
		sortKeys(o.Keys)
		owners = append(owners, *o)
	}
	slices.SortFunc(owners, func(a, b domain.Owner) int { return strings.Compare(a.Name, b.Name) })
	return owners
}

func sortKeys(keys []domain.Key) {
	slices.SortFunc(keys, func(a, b domain.Key) int {
		return cmp.Or(a.CreatedAt.Compare(b.CreatedAt), strings.Compare(a.ID, b.ID))
	})
}
