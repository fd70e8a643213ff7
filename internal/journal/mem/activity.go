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
func (m *Journal) Activity(_ context.Context, since time.Time) ([]domain.Run, []domain.Record, error) {
	recs := m.selectRecords(func(r domain.Record) bool {
		return !r.At.Before(since) && (r.Kind == domain.KindIntent || r.Kind == domain.KindOutcome)
	})
	runs, err := m.runsWhere(func(r domain.Run) bool { return !r.StartedAt.Before(since) })
	if err != nil {
		return nil, nil, err
	}
	slices.SortFunc(runs, func(a, b domain.Run) int {
		return cmp.Or(a.StartedAt.Compare(b.StartedAt), strings.Compare(a.RunID, b.RunID))
	})
	return runs, recs, nil
}
