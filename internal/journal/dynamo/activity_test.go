package dynamo

import (
	"context"
	"testing"
	"time"

	"github.com/keysweep/keysweep/internal/domain"
)

// TestActivity: both journals give the runs begun and the intents and
// outcomes written since a time, oldest first, and nothing older, no
// decision record and no item of another kind.
func TestActivity(t *testing.T) {
	ctx := context.Background()
	for _, im := range impls {
		t.Run(im.name, func(t *testing.T) {
			s, _ := im.new(t, nil)
			a, ok := s.(interface {
				Activity(ctx context.Context, since time.Time) ([]domain.Run, []domain.Record, error)
			})
			if !ok {
				t.Fatalf("%T has no Activity", s)
			}
			for i, id := range []string{"r-old", "r-new", "r-newer"} {
				must(t, s.BeginRun(ctx, &domain.Run{RunID: id, Account: "111122223333", StartedAt: at(10 * i),
					Trigger: domain.Trigger{Kind: "schedule"}, Counts: map[string]int{}}))
			}
			must(t, s.RecordDecision(ctx, rec(domain.KindDecision, "r-new", "AKIA1", 11)))
			must(t, s.WriteIntent(ctx, intent("r-old", "AKIA2", domain.ActionDeactivate, 1)))
			must(t, s.WriteOutcome(ctx, outcome("r-old", "AKIA2", domain.ActionDeactivate, domain.ResultDone, 2)))
			must(t, s.WriteIntent(ctx, intent("r-new", "AKIA1", domain.ActionDeactivate, 12)))
			must(t, s.WriteOutcome(ctx, outcome("r-new", "AKIA1", domain.ActionDeactivate, domain.ResultDone, 13)))
			must(t, s.WriteIntent(ctx, intent("v-now", "AKIA3", domain.ActionDelete, 21)))
			must(t, s.SetResume(ctx, "111122223333", "r-new", "bob"))

			runs, recs, err := a.Activity(ctx, at(10))
			must(t, err)
			var ids []string
			for _, r := range runs {
				ids = append(ids, r.RunID)
			}
			diff(t, "runs", []string{"r-new", "r-newer"}, ids)
			diff(t, "records", storedAll(
				intent("r-new", "AKIA1", domain.ActionDeactivate, 12),
				outcome("r-new", "AKIA1", domain.ActionDeactivate, domain.ResultDone, 13),
				intent("v-now", "AKIA3", domain.ActionDelete, 21),
			), recs)

			runs, recs, err = a.Activity(ctx, at(30))
			must(t, err)
			if len(runs) != 0 || len(recs) != 0 {
				t.Errorf("activity after the last write: %d runs, %d records", len(runs), len(recs))
			}
		})
	}
}
