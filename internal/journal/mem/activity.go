package mem

import (
	"cmp"
	"context"
	"slices"
	"strings"
	"time"

	"github.com/keysweep/keysweep/internal/domain"
)

// Activity: see the DynamoDB journal.
func (m *Journal) Activity(ctx context.Context, since time.Time) ([]domain.Run, []domain.Record, error) {
	recs := m.selectRecords(func(r domain.Record) bool {
		return !r.At.Before(since) && (r.Kind == domain.KindIntent || r.Kind == domain.KindOutcome)
	})
	m.mu.Lock()
	var ids []string
	for id, r := range m.runs {
		if !r.StartedAt.Before(since) {
			ids = append(ids, id)
		}
	}
	m.mu.Unlock()
	var runs []domain.Run
	for _, id := range ids {
		r, err := m.GetRun(ctx, id)
		if err != nil {
			return nil, nil, err
		}
		runs = append(runs, *r)
	}
	slices.SortFunc(runs, func(a, b domain.Run) int {
		return cmp.Or(a.StartedAt.Compare(b.StartedAt), strings.Compare(a.RunID, b.RunID))
	})
	return runs, recs, nil
}
