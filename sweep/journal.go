package sweep

import (
	"context"
	"time"

	"github.com/keysweep/keysweep/store"
)

// Journal is the engine's narrow view of the audit table. store.Dynamo and
// store.Mem satisfy it.
type Journal interface {
	BeginRun(ctx context.Context, run *store.Run) error
	FinishRun(ctx context.Context, run *store.Run) error
	RecordDecision(ctx context.Context, rec store.Record) error
	WriteIntent(ctx context.Context, rec store.Record) error
	WriteOutcome(ctx context.Context, rec store.Record) error
	ObserveInactive(ctx context.Context, account, user, accessKeyID string, at time.Time) error
	KeyState(ctx context.Context, accessKeyID string) (*store.KeyState, error)
	PendingIntents(ctx context.Context, account string) ([]store.Record, error)
	Resume(ctx context.Context, account string) (string, error)
	SetResume(ctx context.Context, account, runID, after string) error
}
