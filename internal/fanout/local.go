package fanout

import (
	"context"
	"fmt"
	"sort"
	"sync"

	"github.com/keysweep/keysweep/internal/domain"
)

// DefaultLocalConcurrency bounds the accounts an in-process run sweeps at once.
const DefaultLocalConcurrency = 4

// Local runs an organization run in-process, as `keysweep sweep --org` does:
// the dispatcher's logic, then the worker's on a bounded pool, with an
// in-memory queue instead of SQS. Every message gets one delivery, so a
// failure is recorded at once.
type Local struct {
	Dispatcher  Dispatcher // its Queue is replaced
	Worker      Worker     // its MaxReceives is replaced
	Concurrency int
	// OnAccount, when set, is called after each account (from the pool's
	// goroutines, one at a time).
	OnAccount func(Swept)
}

// LocalResult is what an in-process organization run did.
type LocalResult struct {
	Run       *domain.OrgRun         `json:"run"`
	Selection *Selection             `json:"selection,omitempty"`
	Accounts  []domain.AccountResult `json:"accounts"`
	// Swept holds each account's outcome, by account id.
	Swept     []Swept `json:"-"`
	Duplicate bool    `json:"duplicate,omitempty"`
}

// Run dispatches and sweeps every selected account.
func (l *Local) Run(ctx context.Context, req DispatchRequest) (*LocalResult, error) {
	q := &MemQueue{}
	d := l.Dispatcher
	d.Queue = q
	w := l.Worker
	w.MaxReceives = 1
	dres, err := d.Dispatch(ctx, req)
	if err != nil {
		if dres != nil {
			return &LocalResult{Run: dres.Run}, err
		}
		return nil, err
	}
	msgs := q.Take()
	n := l.Concurrency
	if n <= 0 {
		n = DefaultLocalConcurrency
	}
	out := make([]Swept, len(msgs))
	var mu sync.Mutex
	var wg sync.WaitGroup
	sem := make(chan struct{}, n)
	for i, m := range msgs {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			out[i] = w.Sweep(ctx, m, 1)
			if l.OnAccount != nil {
				mu.Lock()
				l.OnAccount(out[i])
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	sort.Slice(out, func(i, j int) bool { return out[i].Message.AccountID < out[j].Message.AccountID })

	runID := dres.Run.RunID
	o, err := d.Journal.GetOrgRun(ctx, runID)
	if err != nil {
		return nil, fmt.Errorf("organization run %s: %w", runID, err)
	}
	accts, err := d.Journal.AccountResults(ctx, runID)
	if err != nil {
		return nil, err
	}
	return &LocalResult{Run: o, Selection: dres.Selection, Accounts: accts, Swept: out, Duplicate: dres.Duplicate}, nil
}
