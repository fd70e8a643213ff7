package engine

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"log/slog"
	"time"

	"github.com/keysweep/keysweep/internal/domain"
	"github.com/keysweep/keysweep/policy"
)

// Defaults for an Engine's zero values.
const (
	// DefaultMargin is how long before its deadline a run stops calling
	// the key store: the rest is kept for bookkeeping (the outcome of the
	// last action, the resume cursor, the run record).
	DefaultMargin = 20 * time.Second
	// DefaultResolveConcurrency bounds the per-owner reads of a run.
	DefaultResolveConcurrency = 4
	// DefaultActConcurrency bounds the owners whose keys a run acts on at
	// once (each owner's keys one after another).
	DefaultActConcurrency = 4
	// DefaultSettleAfter exceeds the longest Lambda run (15 minutes): an
	// intent older than that belongs to a run that is no longer alive.
	DefaultSettleAfter = 16 * time.Minute
	// DefaultRunTimeout is the deadline a run records when its context has
	// none: Lambda's longest timeout.
	DefaultRunTimeout = 15 * time.Minute
)

// Engine runs sweeps, plans, revocations and inspections of one key store
// (one account of one provider). Its zero value is not usable: set Store
// and Journal.
type Engine struct {
	Store   KeyStore
	Journal Journal
	// Target names the key store in records and runs ("" for the default
	// AWS target).
	Target string
	// Now is the clock; time.Now when nil.
	Now Clock
	// Logger; slog.Default when nil.
	Logger *slog.Logger
	// Margin before the context deadline at which the run stops calling
	// the key store; DefaultMargin when zero.
	Margin time.Duration
	// Concurrency bounds the per-owner reads; DefaultResolveConcurrency
	// when zero.
	Concurrency int
	// ActConcurrency bounds the owners acted on at once;
	// DefaultActConcurrency when zero.
	ActConcurrency int
	// Progress, when set, is told how far a run got (stage, done, total).
	Progress func(stage string, done, total int)
	// ResolveAll reads every owner's keys live, not only candidates' (one
	// listing per owner): a plan that lists every key with its id.
	ResolveAll bool
	// SettleAfter is how old an unsettled intent must be before a run
	// settles it; DefaultSettleAfter when zero.
	SettleAfter time.Duration
	// Archive, when set, keeps each run's and revocation's records in
	// write-once storage as well.
	Archive Archiver
	// Notifier tells owners, the team and the security team; nil tells
	// no one (notifier.go).
	Notifier Notifier
}

// Errors a caller branches on.
var (
	// ErrPolicy wraps an invalid or unreadable policy: the run changed nothing.
	ErrPolicy = errors.New("policy")
	// ErrBlocked is returned when the blast-radius cap stopped a run.
	ErrBlocked = errors.New("blast-radius cap exceeded")
	// ErrNotFound: the key store has no such key and the journal no
	// record of it.
	ErrNotFound = errors.New("no such access key")
	// ErrConflict: the key has an unsettled intent (a sweep or another
	// revocation is acting on it, or crashed while doing so). Nothing was
	// changed; retrying later can succeed.
	ErrConflict = errors.New("another action on this key is in progress")
	// ErrBadRequest: the request itself is invalid (an unknown action).
	ErrBadRequest = errors.New("invalid revocation request")
)

// Services named by the domain.ServiceError the engine returns.
const (
	ServiceJournal = "DynamoDB"
)

// Request describes one run.
type Request struct {
	Trigger      domain.Trigger
	Policy       *policy.Policy // nil with PolicyErr set: the run fails and changes nothing
	PolicySource string         // stored | builtin-default | file
	PolicyErr    error
	// AuditOnly narrows an enforce policy to audit for this run.
	AuditOnly bool
	// Users narrows the run to these owners (nil: all).
	Users []string
	// RunID is used when set (the API hands it out before the run starts).
	RunID string
	// Parent names an organization run.
	Parent string
	// Notes are said on the run (by the entry point: a default policy,
	// say).
	Notes []string
}

// Result is what a run did.
type Result struct {
	Run domain.Run `json:"run"`
	// Decisions holds every key judged (keeps included) in owner order.
	Decisions []domain.KeyDecision `json:"decisions,omitempty"`
	// Duplicate is set when the event was already handled by Run.RunID.
	Duplicate bool `json:"duplicate,omitempty"`
}

func (e *Engine) now() time.Time {
	if e.Now != nil {
		return e.Now().UTC()
	}
	return time.Now().UTC()
}

func (e *Engine) log() *slog.Logger {
	if e.Logger != nil {
		return e.Logger
	}
	return slog.Default()
}

func (e *Engine) progress(stage string, done, total int) {
	if e.Progress != nil {
		e.Progress(stage, done, total)
	}
}

func (e *Engine) margin() time.Duration {
	if e.Margin > 0 {
		return e.Margin
	}
	return DefaultMargin
}

func withDefault(n, def int) int {
	if n > 0 {
		return n
	}
	return def
}

// NewRunID returns a sortable, unique run id.
func NewRunID(at time.Time) string { return newID("r-", at) }

// NewRevocationID returns a sortable, unique id for a revocation's
// records; "v-" keeps it apart from sweep run ids.
func NewRevocationID(at time.Time) string { return newID("v-", at) }

func newID(prefix string, at time.Time) string {
	var b [4]byte
	_, _ = rand.Read(b[:])
	return prefix + at.UTC().Format("20060102T150405Z") + "-" + hex.EncodeToString(b[:])
}

// workContext ends Margin before ctx's deadline: key store calls and new
// actions use it, so that what is left of the time is kept for writing
// down what was done. The caller must call cancel.
func (e *Engine) workContext(ctx context.Context) (context.Context, context.CancelFunc) {
	if dl, ok := ctx.Deadline(); ok {
		return context.WithDeadline(ctx, dl.Add(-e.margin()))
	}
	return context.WithCancel(ctx)
}

// stopping reports whether work must stop: the work context is done.
func stopping(work context.Context) bool { return work.Err() != nil }

// serviceError wraps a journal failure for callers that map services.
func journalError(op string, err error) error {
	return &domain.ServiceError{Service: ServiceJournal, Op: op, Err: err}
}

// storeError wraps a key store failure.
func (e *Engine) storeError(op string, err error) error {
	var se *domain.ServiceError
	if errors.As(err, &se) {
		return err
	}
	return &domain.ServiceError{Service: e.ServiceName(), Op: op, Err: err}
}

// ServiceName is how messages name the key store's service ("IAM").
func (e *Engine) ServiceName() string {
	if e.Store.Provider() == domain.ProviderAWS {
		return "IAM"
	}
	return e.Store.Provider().Title()
}

// Target is one key store an entry point serves: its name, its policy
// item, and its engine, built at once or on first use.
type Target struct {
	Name     string
	PolicyID string
	Engine   *Engine
	// Open, when set and Engine is nil, builds the engine on first use (a
	// target whose credentials are read from a secret); its failure fails
	// that target only.
	Open func(ctx context.Context) (*Engine, error)
}

// Resolve returns the target's engine, opening it if need be.
func (t Target) Resolve(ctx context.Context) (*Engine, error) {
	if t.Engine != nil {
		return t.Engine, nil
	}
	if t.Open == nil {
		return nil, errors.New("target " + t.Name + ": no key store")
	}
	return t.Open(ctx)
}
