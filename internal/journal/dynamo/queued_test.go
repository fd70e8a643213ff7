package dynamo

import (
	"context"
	"errors"
	"testing"

	"github.com/keysweep/keysweep/internal/domain"
)

// TestQueueRun: a queued run reads back as queued, never overwrites a run,
// and BeginRun then FinishRun replace it as the sweep goes.
func TestQueueRun(t *testing.T) {
	for _, im := range impls {
		t.Run(im.name, func(t *testing.T) {
			st, _ := im.new(t, nil)
			q, ok := st.(interface {
				QueueRun(ctx context.Context, run *domain.Run) error
			})
			if !ok {
				t.Fatalf("%T has no QueueRun", st)
			}
			ctx := context.Background()
			run := &domain.Run{RunID: "r-queued", Account: "111122223333", Trigger: domain.Trigger{Kind: "api", Source: "arn:aws:iam::111122223333:user/sec"},
				StartedAt: t0, Users: []string{"alice"}, Counts: map[string]int{}, Outcome: domain.RunRunning}
			must(t, q.QueueRun(ctx, run))
			got, err := st.GetRun(ctx, "r-queued")
			must(t, err)
			if got.Outcome != domain.RunQueued || got.Trigger.Source != run.Trigger.Source || len(got.Users) != 1 {
				t.Errorf("queued run %+v", got)
			}
			if err := q.QueueRun(ctx, run); !errors.Is(err, domain.ErrRunExists) {
				t.Errorf("second QueueRun: %v, want domain.ErrRunExists", err)
			}
			must(t, st.BeginRun(ctx, &domain.Run{RunID: "r-queued", Account: "111122223333", StartedAt: at(1), Counts: map[string]int{}}))
			if got, _ := st.GetRun(ctx, "r-queued"); got.Outcome != domain.RunRunning {
				t.Errorf("after BeginRun: outcome %s", got.Outcome)
			}
			if err := q.QueueRun(ctx, &domain.Run{RunID: "r-queued"}); !errors.Is(err, domain.ErrRunExists) {
				t.Errorf("QueueRun over a running run: %v, want domain.ErrRunExists", err)
			}
		})
	}
}
