// Package engine is keysweep's provider-neutral engine: it reads a key
// inventory from a KeyStore, judges every key with the policy package, and
// acts on stale keys with a write-ahead audit trail in a Journal. It knows
// no cloud: each key store, journal and runtime is an adapter around it
// that imports only the domain package.
package engine

import (
	"context"
	"time"

	"github.com/keysweep/keysweep/internal/domain"
)

// KeyStore is the engine's port to one account of one key store (an AWS
// account's IAM, a Huawei/OTC domain's IAM, a GMI Cloud organization).
// Errors wrap domain.ErrKeyNotFound when the key or its owner is gone, and
// domain.ErrUnsupported when asked for what Capabilities rules out.
type KeyStore interface {
	// Provider names the kind of store.
	Provider() domain.Provider
	// Capabilities says what the store can do and know.
	Capabilities() domain.Capabilities
	// Account names the account the store acts in.
	Account(ctx context.Context) (string, error)
	// Inventory lists every owner's keys from the cheapest source. Facts
	// may be hours old; a key's ID may be empty when the source does not
	// give it (then OwnerKeys gives it).
	Inventory(ctx context.Context) (*domain.Inventory, error)
	// OwnerKeys re-reads an owner's keys now: ids, status, creation and
	// expiry; LastUsedAt only where the listing itself carries it.
	OwnerKeys(ctx context.Context, owner domain.Owner) ([]domain.Key, error)
	// OwnerTags reads an owner's tags (Capabilities.OwnerTags).
	OwnerTags(ctx context.Context, owner domain.Owner) (map[string]string, error)
	// OwnerPath reads an owner's path (Capabilities.OwnerPaths).
	OwnerPath(ctx context.Context, owner domain.Owner) (string, error)
	// Recheck re-reads one key right before it is acted on: its owner and
	// last use (where the store knows it) and, when status is true, its
	// status. A store that reads everything in one call fills everything.
	Recheck(ctx context.Context, key domain.Key, status bool) (domain.Key, error)
	// FindKey reads one key by its id alone: owner, status, dates.
	FindKey(ctx context.Context, id string) (domain.Key, error)
	// Deactivate sets the key inactive (Capabilities.Deactivate).
	Deactivate(ctx context.Context, key domain.Key) error
	// Delete deletes the key; domain.ErrKeyNotFound (wrapped) when it is
	// already gone.
	Delete(ctx context.Context, key domain.Key) error
	// Calls counts the store's calls so far, by operation.
	Calls() map[string]int
}

// TagDirectory is an optional KeyStore ability (Capabilities.BulkTags):
// the tags of many owners in a few paged calls (IAM's
// GetAccountAuthorizationDetails gives 1,000 users a page) instead of one
// OwnerTags call each. The engine uses it when the owners it must read
// tags for outnumber the pages it costs, and falls back to OwnerTags when
// it fails.
type TagDirectory interface {
	// TagsOf returns the tags of the named owners (an empty map for an
	// owner with none). An owner the listing did not include is absent.
	TagsOf(ctx context.Context, owners []string) (map[string]map[string]string, error)
	// TagPages is how many calls TagsOf makes in an account of n owners.
	TagPages(n int) int
}

// Journal is the engine's port to the audit trail: runs, history records,
// keysweep's state of each key, and the per-account bookkeeping. The
// DynamoDB journal and the in-memory journal satisfy it.
type Journal interface {
	// BeginRun writes the run record as running. A run with an event id
	// claims the event; a second claim is *domain.DuplicateEventError.
	BeginRun(ctx context.Context, run *domain.Run) error
	// FinishRun overwrites the run record.
	FinishRun(ctx context.Context, run *domain.Run) error
	// GetRun reads a run record (domain.ErrNotFound when absent).
	GetRun(ctx context.Context, runID string) (*domain.Run, error)
	// QueueRun writes a queued run record (domain.ErrRunExists when taken).
	QueueRun(ctx context.Context, run *domain.Run) error
	// RunningRuns lists the scope's runs still marked running.
	RunningRuns(ctx context.Context, scope string) ([]domain.Run, error)
	// MarkCrashed records that a run still running past its deadline
	// crashed; false when it had finished meanwhile.
	MarkCrashed(ctx context.Context, run *domain.Run, note string) (bool, error)
	// RetryEvent begins run in place of prevRunID, a crashed run of the
	// same event, taking over the event's claim.
	RetryEvent(ctx context.Context, run *domain.Run, prevRunID string) error
	// RecordDecision appends a decision (or notice) record.
	RecordDecision(ctx context.Context, rec domain.Record) error
	// WriteIntent takes the key's lock and appends the intent;
	// domain.ErrIntentPending when the key is locked already.
	WriteIntent(ctx context.Context, rec domain.Record) error
	// WriteOutcome appends the outcome and releases the lock of the intent
	// with the same run id and action; domain.ErrNoIntent without one.
	WriteOutcome(ctx context.Context, rec domain.Record) error
	// ObserveInactive starts a key's delete clock at at, unless started.
	ObserveInactive(ctx context.Context, key domain.KeyState, at time.Time) error
	// KeyState reads keysweep's state of a key (nil when it has none).
	KeyState(ctx context.Context, id string) (*domain.KeyState, error)
	// PendingIntents lists the scope's unsettled intents, oldest first.
	PendingIntents(ctx context.Context, scope string) ([]domain.Record, error)
	// ByKey and ByRun read history records, oldest first.
	ByKey(ctx context.Context, id string) ([]domain.Record, error)
	ByRun(ctx context.Context, runID string) ([]domain.Record, error)
	// Resume and SetResume keep where the scope's next run starts.
	Resume(ctx context.Context, scope string) (string, error)
	SetResume(ctx context.Context, scope, runID, after string) error
}

// Clock tells the time; time.Now by default.
type Clock func() time.Time

// ChainChecker is an optional Journal ability: the scope's last finished
// run, whose keys' hash chains the next run checks.
type ChainChecker interface {
	LastRun(ctx context.Context, scope string) (string, error)
}

// RecentByUser is an optional Journal ability: an owner's latest records,
// newest first. The engine uses it to find the ids of an exempt owner's
// keys from its own records rather than ask the key store each run.
type RecentByUser interface {
	RecentByUser(ctx context.Context, account, user string, n int) ([]domain.Record, error)
}

// Archiver keeps a run's records where no one can rewrite them (an S3
// bucket with Object Lock): optional. Export returns where they are.
type Archiver interface {
	Export(ctx context.Context, run domain.Run, recs []domain.Record) (string, error)
}
