// Package sweep is keysweep's engine: it reads a key inventory from a
// Provider, judges every key with the policy package, and acts on stale keys
// with a write-ahead audit trail in a Journal.
package sweep

import (
	"context"
	"errors"
	"time"

	"github.com/keysweep/keysweep/policy"
)

// ErrKeyNotFound is returned (wrapped) by a Provider when the key or its user
// no longer exists.
var ErrKeyNotFound = errors.New("access key not found")

// Provider is the engine's narrow view of a key store (AWS IAM today).
type Provider interface {
	// AccountID names the account the provider acts in.
	AccountID(ctx context.Context) (string, error)
	// Inventory lists every user's keys from the cheapest source (the
	// credential report, else listing). Facts may be hours old; AccessKeyID
	// may be empty when the source does not give it.
	Inventory(ctx context.Context) (*Inventory, error)
	// UserTags returns the user's tags.
	UserTags(ctx context.Context, user string) (map[string]string, error)
	// UserKeys re-reads a user's keys now: id, status, creation time; not
	// last use (LastUsedAt is nil).
	UserKeys(ctx context.Context, user string) ([]policy.Key, error)
	// LastUsed re-reads when a key was last used (nil: never) and who owns it.
	LastUsed(ctx context.Context, accessKeyID string) (owner string, last *time.Time, err error)
	// Deactivate sets the key inactive.
	Deactivate(ctx context.Context, user, accessKeyID string) error
	// Delete deletes the key; ErrKeyNotFound (wrapped) when it is already gone.
	Delete(ctx context.Context, user, accessKeyID string) error
	// Calls counts the provider calls made so far, by operation.
	Calls() map[string]int
}

// TagDirectory is an optional Provider capability: the tags of many users
// read in a few paged calls (IAM's GetAccountAuthorizationDetails gives 1,000
// users a page) instead of one UserTags call per user. The engine uses it when
// the users it must read tags for outnumber the pages it costs, and falls back
// to UserTags when it fails (for example when the permission is not granted).
type TagDirectory interface {
	// TagsOf returns the tags of the named users (an empty map for a user
	// with none). A user the listing did not include is absent.
	TagsOf(ctx context.Context, users []string) (map[string]map[string]string, error)
	// TagPages is how many calls TagsOf makes in an account of n users.
	TagPages(n int) int
}

// Inventory is every user's keys as one source saw them.
type Inventory struct {
	Source      string    // "credential-report" or "list"
	GeneratedAt time.Time // when the source's facts were taken
	Users       []User    // sorted by name
	// Fallback says why the cheap source could not be used ("" when it was).
	Fallback string
}

// User is one user with its keys.
type User struct {
	Name string
	Path string
	ARN  string
	Keys []policy.Key
}
