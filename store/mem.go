package store

import (
	"context"
	"fmt"
	"sort"
	"sync"
	"time"
)

// Mem is an in-process Audit with Dynamo's semantics, for unit tests of the
// engine's fault paths. Everything it returns is a copy that went through
// the same item codec as Dynamo (UTC times, nil for empty).
type Mem struct {
	// Now is the clock for records without At; default time.Now.
	Now func() time.Time

	mu       sync.Mutex
	runs     map[string]Run
	events   map[string]string            // event id → run id
	states   map[string]KeyState          // access key id → state
	history  map[string]Record            // pk + sk → record
	pending  map[string]map[string]Record // account → access key id → intent
	resume   map[string]string            // account → after
	policies map[string]memPolicy
}

// NewMem returns an empty in-process store.
func NewMem() *Mem {
	return &Mem{
		runs:     map[string]Run{},
		events:   map[string]string{},
		states:   map[string]KeyState{},
		history:  map[string]Record{},
		pending:  map[string]map[string]Record{},
		resume:   map[string]string{},
		policies: map[string]memPolicy{},
	}
}

func (m *Mem) now() time.Time {
	if m.Now != nil {
		return m.Now()
	}
	return time.Now()
}

func (m *Mem) withAt(rec Record) (Record, error) {
	if rec.At.IsZero() {
		rec.At = m.now()
	}
	var out Record
	err := roundTrip(rec, &out)
	return out, err
}

// BeginRun: see Dynamo.BeginRun.
func (m *Mem) BeginRun(_ context.Context, run *Run) error {
	if run.RunID == "" {
		return fmt.Errorf("%w: run without runId", ErrInvalidRecord)
	}
	var r Run
	if err := roundTrip(run, &r); err != nil {
		return fmt.Errorf("encode run %s: %w", run.RunID, err)
	}
	r.Outcome = OutcomeRunning
	m.mu.Lock()
	defer m.mu.Unlock()
	if id := r.Trigger.EventID; id != "" {
		if first, ok := m.events[id]; ok {
			return &DuplicateEventError{EventID: id, RunID: first}
		}
		m.events[id] = r.RunID
	}
	m.runs[r.RunID] = r
	return nil
}

// FinishRun: see Dynamo.FinishRun.
func (m *Mem) FinishRun(_ context.Context, run *Run) error {
	if run.RunID == "" {
		return fmt.Errorf("%w: run without runId", ErrInvalidRecord)
	}
	var r Run
	if err := roundTrip(run, &r); err != nil {
		return fmt.Errorf("encode run %s: %w", run.RunID, err)
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	m.runs[r.RunID] = r
	return nil
}

// GetRun: see Dynamo.GetRun.
func (m *Mem) GetRun(_ context.Context, runID string) (*Run, error) {
	m.mu.Lock()
	r, ok := m.runs[runID]
	m.mu.Unlock()
	if !ok {
		return nil, fmt.Errorf("run %s: %w", runID, ErrNotFound)
	}
	var out Run
	if err := roundTrip(r, &out); err != nil {
		return nil, fmt.Errorf("decode run %s: %w", runID, err)
	}
	return &out, nil
}

func (m *Mem) putRecord(rec Record) {
	m.history[keyPK(rec.AccessKeyID)+"\x00"+recSK(rec)] = rec
}

// RecordDecision: see Dynamo.RecordDecision.
func (m *Mem) RecordDecision(_ context.Context, rec Record) error {
	rec, err := m.withAt(rec)
	if err != nil {
		return fmt.Errorf("encode decision for %s: %w", rec.AccessKeyID, err)
	}
	if err := checkRecord(rec, KindDecision); err != nil {
		return err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	m.putRecord(rec)
	return nil
}

// WriteIntent: see Dynamo.WriteIntent.
func (m *Mem) WriteIntent(_ context.Context, rec Record) error {
	rec, err := m.withAt(rec)
	if err != nil {
		return fmt.Errorf("encode intent for %s: %w", rec.AccessKeyID, err)
	}
	if err := checkRecord(rec, KindIntent); err != nil {
		return err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	st := m.states[rec.AccessKeyID]
	if st.Intent != nil {
		return fmt.Errorf("write intent to %s %s: %w", rec.Action, rec.AccessKeyID, ErrIntentPending)
	}
	st.Account, st.AccessKeyID, st.UserName = rec.Account, rec.AccessKeyID, rec.UserName
	intent := rec
	st.Intent = &intent
	m.states[rec.AccessKeyID] = st
	m.putRecord(rec)
	if m.pending[rec.Account] == nil {
		m.pending[rec.Account] = map[string]Record{}
	}
	m.pending[rec.Account][rec.AccessKeyID] = rec
	return nil
}

// WriteOutcome: see Dynamo.WriteOutcome.
func (m *Mem) WriteOutcome(_ context.Context, rec Record) error {
	rec, err := m.withAt(rec)
	if err != nil {
		return fmt.Errorf("encode outcome for %s: %w", rec.AccessKeyID, err)
	}
	if err := checkRecord(rec, KindOutcome); err != nil {
		return err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	st, ok := m.states[rec.AccessKeyID]
	if !ok || st.Intent == nil || st.Intent.RunID != rec.RunID || st.Intent.Action != rec.Action {
		return fmt.Errorf("write outcome %s of %s %s in run %s: %w", rec.Result, rec.Action, rec.AccessKeyID, rec.RunID, ErrNoIntent)
	}
	st.Intent = nil
	settle(&st, rec)
	m.states[rec.AccessKeyID] = st
	m.putRecord(rec)
	delete(m.pending[rec.Account], rec.AccessKeyID)
	return nil
}

// ObserveInactive: see Dynamo.ObserveInactive.
func (m *Mem) ObserveInactive(_ context.Context, account, user, accessKeyID string, at time.Time) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	st := m.states[accessKeyID]
	if st.DeactivatedAt != nil {
		return nil
	}
	at = at.UTC()
	st.Account, st.AccessKeyID, st.UserName = account, accessKeyID, user
	st.Stage, st.DeactivatedAt = StageInactive, &at
	m.states[accessKeyID] = st
	return nil
}

// KeyState: see Dynamo.KeyState.
func (m *Mem) KeyState(_ context.Context, accessKeyID string) (*KeyState, error) {
	m.mu.Lock()
	st, ok := m.states[accessKeyID]
	m.mu.Unlock()
	if !ok {
		return nil, nil
	}
	var out KeyState
	if err := roundTrip(st, &out); err != nil {
		return nil, fmt.Errorf("decode state of %s: %w", accessKeyID, err)
	}
	return &out, nil
}

// PendingIntents: see Dynamo.PendingIntents.
func (m *Mem) PendingIntents(_ context.Context, account string) ([]Record, error) {
	m.mu.Lock()
	var recs []Record
	for _, r := range m.pending[account] {
		recs = append(recs, r)
	}
	m.mu.Unlock()
	sortByAt(recs)
	return recs, nil
}

// selectRecords returns the records keep accepts, ordered by less.
func (m *Mem) selectRecords(keep func(Record) bool, less func(a, b Record) bool) []Record {
	m.mu.Lock()
	var recs []Record
	for _, r := range m.history {
		if keep(r) {
			recs = append(recs, r)
		}
	}
	m.mu.Unlock()
	sort.Slice(recs, func(i, j int) bool { return less(recs[i], recs[j]) })
	return recs
}

func bySK(a, b Record) bool { return recSK(a) < recSK(b) }

// ByKey: see Dynamo.ByKey.
func (m *Mem) ByKey(_ context.Context, accessKeyID string) ([]Record, error) {
	return m.selectRecords(func(r Record) bool { return r.AccessKeyID == accessKeyID }, bySK), nil
}

// ByRun: see Dynamo.ByRun.
func (m *Mem) ByRun(_ context.Context, runID string) ([]Record, error) {
	return m.selectRecords(func(r Record) bool { return r.RunID == runID }, bySK), nil
}

// ByUser: see Dynamo.ByUser. Records at the same instant come in sort key
// order here; the byUser index leaves their order open.
func (m *Mem) ByUser(_ context.Context, account, user string) ([]Record, error) {
	return m.selectRecords(func(r Record) bool { return r.Account == account && r.UserName == user }, bySK), nil
}

// Resume: see Dynamo.Resume.
func (m *Mem) Resume(_ context.Context, account string) (string, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.resume[account], nil
}

// SetResume: see Dynamo.SetResume.
func (m *Mem) SetResume(_ context.Context, account, _ /* runID */, after string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if after == "" {
		delete(m.resume, account)
		return nil
	}
	m.resume[account] = after
	return nil
}
