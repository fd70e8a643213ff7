// Package mem is keysweep's journal in memory: the same contract as the
// DynamoDB journal (conditions, locks, the hash chain, organization runs,
// policies), for unit tests of paths the emulator cannot produce and for
// benchmarks that measure keysweep rather than the emulator. Everything it
// returns is a deep copy with UTC times, as DynamoDB would give it.
package mem

import (
	"context"
	"encoding/json"
	"fmt"
	"sync"
	"time"

	"github.com/keysweep/keysweep/internal/domain"
)

// Journal is an in-memory journal. Its zero value is not usable: use New.
type Journal struct {
	// Now is the clock for records without At; time.Now when nil.
	Now func() time.Time

	mu       sync.Mutex
	runs     map[string]domain.Run
	events   map[string]string                   // event id → run id
	running  map[string]map[string]bool          // scope → run ids
	lastRun  map[string]string                   // scope → last finished run
	states   map[string]domain.KeyState          // key id → state
	history  map[string]domain.Record            // key id + sort key → record
	pending  map[string]map[string]domain.Record // scope → key id → intent
	resume   map[string]string                   // scope → after
	policies map[string]map[string]any
	orgs     map[string]*domain.OrgRun                  // org run id → fan-out attributes
	accounts map[string]map[string]domain.AccountResult // org run id → account → result
	nt       *notices                                   // notice claims and open findings (notice.go)
}

// New returns an empty journal.
func New() *Journal {
	return &Journal{
		runs:     map[string]domain.Run{},
		events:   map[string]string{},
		running:  map[string]map[string]bool{},
		lastRun:  map[string]string{},
		states:   map[string]domain.KeyState{},
		history:  map[string]domain.Record{},
		pending:  map[string]map[string]domain.Record{},
		resume:   map[string]string{},
		policies: map[string]map[string]any{},
		orgs:     map[string]*domain.OrgRun{},
		accounts: map[string]map[string]domain.AccountResult{},
	}
}

func (m *Journal) now() time.Time {
	if m.Now != nil {
		return m.Now()
	}
	return time.Now()
}

// copyOf deep-copies v through JSON (every domain type has json tags that
// carry all it holds) and puts its times in UTC.
func copyOf[T any](v T) (T, error) {
	var out T
	b, err := json.Marshal(v)
	if err != nil {
		return out, err
	}
	err = json.Unmarshal(b, &out)
	return out, err
}

func utcRecord(r domain.Record) domain.Record {
	r.At = r.At.UTC()
	if r.Notice != nil && r.Notice.DueDate != nil {
		t := r.Notice.DueDate.UTC()
		r.Notice.DueDate = &t
	}
	return r
}

func utcRun(r domain.Run) domain.Run {
	r.StartedAt = r.StartedAt.UTC()
	r.FinishedAt = utcPtr(r.FinishedAt)
	r.Deadline = utcPtr(r.Deadline)
	return r
}

func utcState(st domain.KeyState) domain.KeyState {
	st.DeactivatedAt = utcPtr(st.DeactivatedAt)
	st.DeletedAt = utcPtr(st.DeletedAt)
	if st.Intent != nil {
		in := utcRecord(*st.Intent)
		st.Intent = &in
	}
	return st
}

func utcPtr(t *time.Time) *time.Time {
	if t == nil {
		return nil
	}
	u := t.UTC()
	return &u
}

func (m *Journal) runCopy(run *domain.Run) (domain.Run, error) {
	if run.RunID == "" {
		return domain.Run{}, fmt.Errorf("%w: run without runId", domain.ErrInvalidRecord)
	}
	r, err := copyOf(*run)
	if err != nil {
		return r, fmt.Errorf("encode run %s: %w", run.RunID, err)
	}
	return utcRun(r), nil
}

func (m *Journal) markRunningLocked(r domain.Run) {
	scope := r.Scope()
	if r.Outcome.Finished() && r.Parent == "" && r.Outcome != domain.RunDuplicate {
		m.lastRun[scope] = r.RunID
	}
	if r.Outcome.Finished() || r.Deadline == nil {
		delete(m.running[scope], r.RunID)
		return
	}
	if m.running[scope] == nil {
		m.running[scope] = map[string]bool{}
	}
	m.running[scope][r.RunID] = true
}

// BeginRun: see the DynamoDB journal.
func (m *Journal) BeginRun(_ context.Context, run *domain.Run) error {
	r, err := m.runCopy(run)
	if err != nil {
		return err
	}
	r.Outcome = domain.RunRunning
	m.mu.Lock()
	defer m.mu.Unlock()
	if id := r.Trigger.EventID; id != "" {
		if first, ok := m.events[id]; ok {
			return &domain.DuplicateEventError{EventID: id, RunID: first}
		}
		m.events[id] = r.RunID
	}
	m.runs[r.RunID] = r
	m.markRunningLocked(r)
	return nil
}

// RetryEvent: see the DynamoDB journal.
func (m *Journal) RetryEvent(_ context.Context, run *domain.Run, prevRunID string) error {
	r, err := m.runCopy(run)
	if err != nil {
		return err
	}
	r.Outcome = domain.RunRunning
	m.mu.Lock()
	defer m.mu.Unlock()
	id := r.Trigger.EventID
	if holder := m.events[id]; holder != prevRunID {
		return &domain.DuplicateEventError{EventID: id, RunID: holder}
	}
	m.events[id] = r.RunID
	m.runs[r.RunID] = r
	m.markRunningLocked(r)
	return nil
}

// FinishRun: see the DynamoDB journal.
func (m *Journal) FinishRun(_ context.Context, run *domain.Run) error {
	r, err := m.runCopy(run)
	if err != nil {
		return err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	m.runs[r.RunID] = r
	m.markRunningLocked(r)
	return nil
}

// GetRun: see the DynamoDB journal.
func (m *Journal) GetRun(_ context.Context, runID string) (*domain.Run, error) {
	m.mu.Lock()
	r, ok := m.runs[runID]
	m.mu.Unlock()
	if !ok {
		return nil, fmt.Errorf("run %s: %w", runID, domain.ErrNotFound)
	}
	out, err := copyOf(r)
	if err != nil {
		return nil, fmt.Errorf("decode run %s: %w", runID, err)
	}
	out = utcRun(out)
	return &out, nil
}

// QueueRun: see the DynamoDB journal.
func (m *Journal) QueueRun(_ context.Context, run *domain.Run) error {
	r, err := m.runCopy(run)
	if err != nil {
		return err
	}
	r.Outcome = domain.RunQueued
	m.mu.Lock()
	defer m.mu.Unlock()
	if _, ok := m.runs[r.RunID]; ok {
		return fmt.Errorf("queue run %s: %w", r.RunID, domain.ErrRunExists)
	}
	m.runs[r.RunID] = r
	return nil
}

// RunningRuns: see the DynamoDB journal.
func (m *Journal) RunningRuns(_ context.Context, scope string) ([]domain.Run, error) {
	return m.runsWhere(func(r domain.Run) bool { return m.running[scope][r.RunID] })
}

// runsWhere returns copies, in UTC, of the runs keep accepts; keep is
// called with m.mu held.
func (m *Journal) runsWhere(keep func(domain.Run) bool) ([]domain.Run, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	var runs []domain.Run
	for _, r := range m.runs {
		if !keep(r) {
			continue
		}
		out, err := copyOf(r)
		if err != nil {
			return nil, fmt.Errorf("decode run %s: %w", r.RunID, err)
		}
		runs = append(runs, utcRun(out))
	}
	return runs, nil
}

// MarkCrashed: see the DynamoDB journal.
func (m *Journal) MarkCrashed(_ context.Context, run *domain.Run, note string) (bool, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	delete(m.running[run.Scope()], run.RunID)
	r, ok := m.runs[run.RunID]
	if !ok || r.Outcome != domain.RunRunning {
		return false, nil
	}
	end := m.now().UTC()
	r.Outcome, r.FinishedAt = domain.RunCrashed, &end
	r.Errors = append(r.Errors, note)
	m.runs[run.RunID] = r
	return true, nil
}

// LastRun: see the DynamoDB journal.
func (m *Journal) LastRun(_ context.Context, scope string) (string, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.lastRun[scope], nil
}

// Resume: see the DynamoDB journal.
func (m *Journal) Resume(_ context.Context, scope string) (string, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.resume[scope], nil
}

// SetResume: see the DynamoDB journal.
func (m *Journal) SetResume(_ context.Context, scope, _ /* runID */, after string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if after == "" {
		delete(m.resume, scope)
		return nil
	}
	m.resume[scope] = after
	return nil
}
