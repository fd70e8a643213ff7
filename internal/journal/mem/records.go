package mem

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"sort"
	"time"

	"github.com/keysweep/keysweep/internal/domain"
	"github.com/keysweep/keysweep/internal/journal"
)

// prepare stamps rec (At, when unset), deep-copies it in UTC and checks it
// as a record of kind, as the DynamoDB journal does before it writes.
func (m *Journal) prepare(rec domain.Record, kind domain.RecordKind) (domain.Record, error) {
	if rec.At.IsZero() {
		rec.At = m.now()
	}
	out, err := copyOf(rec)
	if err != nil {
		return out, fmt.Errorf("encode %s record for %s: %w", rec.Kind, rec.AccessKeyID, err)
	}
	out = utcRecord(out)
	return out, journal.CheckRecord(out, kind)
}

// appendLocked seals rec after its key's chain head and stores it; m.mu
// held. A record with the same sort key exists: refused, as DynamoDB's
// attribute_not_exists would.
func (m *Journal) appendLocked(st *domain.KeyState, rec *domain.Record) error {
	journal.Seal(rec, st.HeadSeq, st.HeadHash)
	k := rec.AccessKeyID + "\x00" + journal.RecordSK(*rec)
	if _, ok := m.history[k]; ok {
		return fmt.Errorf("%s record for %s: %w: a record with its key exists", rec.Kind, rec.AccessKeyID, domain.ErrInvalidRecord)
	}
	m.history[k] = *rec
	st.HeadSeq, st.HeadHash = rec.Seq, rec.Hash
	st.Account, st.AccessKeyID, st.UserName = rec.Account, rec.AccessKeyID, rec.UserName
	if rec.Provider != "" {
		st.Provider = rec.Provider
	}
	return nil
}

// RecordDecision: see the DynamoDB journal.
func (m *Journal) RecordDecision(_ context.Context, rec domain.Record) error {
	kind := domain.KindDecision
	if rec.Kind == domain.KindNotice {
		kind = domain.KindNotice
	}
	rec, err := m.prepare(rec, kind)
	if err != nil {
		return err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	st := m.states[rec.AccessKeyID]
	if err := m.appendLocked(&st, &rec); err != nil {
		return err
	}
	m.states[rec.AccessKeyID] = st
	return nil
}

// WriteIntent: see the DynamoDB journal.
func (m *Journal) WriteIntent(_ context.Context, rec domain.Record) error {
	rec, err := m.prepare(rec, domain.KindIntent)
	if err != nil {
		return err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	st := m.states[rec.AccessKeyID]
	if st.Intent != nil {
		return fmt.Errorf("write intent to %s %s: %w", rec.Action, rec.AccessKeyID, domain.ErrIntentPending)
	}
	if err := m.appendLocked(&st, &rec); err != nil {
		return err
	}
	intent := rec
	st.Intent = &intent
	m.states[rec.AccessKeyID] = st
	scope := domain.Scope(rec.Provider, rec.Account)
	if m.pending[scope] == nil {
		m.pending[scope] = map[string]domain.Record{}
	}
	m.pending[scope][rec.AccessKeyID] = rec
	return nil
}

// WriteOutcome: see the DynamoDB journal.
func (m *Journal) WriteOutcome(_ context.Context, rec domain.Record) error {
	rec, err := m.prepare(rec, domain.KindOutcome)
	if err != nil {
		return err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	st, ok := m.states[rec.AccessKeyID]
	if !ok || st.Intent == nil || st.Intent.RunID != rec.RunID || st.Intent.Action != rec.Action {
		return fmt.Errorf("write outcome %s of %s %s in run %s: %w", rec.Result, rec.Action, rec.AccessKeyID, rec.RunID, domain.ErrNoIntent)
	}
	if err := m.appendLocked(&st, &rec); err != nil {
		return err
	}
	st.Intent = nil
	journal.ApplyOutcome(&st, rec)
	m.states[rec.AccessKeyID] = st
	delete(m.pending[domain.Scope(rec.Provider, rec.Account)], rec.AccessKeyID)
	return nil
}

// ObserveInactive: see the DynamoDB journal.
func (m *Journal) ObserveInactive(_ context.Context, key domain.KeyState, at time.Time) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	st := m.states[key.AccessKeyID]
	if st.DeactivatedAt != nil {
		return nil
	}
	at = at.UTC()
	st.Account, st.AccessKeyID, st.UserName = key.Account, key.AccessKeyID, key.UserName
	if key.Provider != "" {
		st.Provider = key.Provider
	}
	st.Stage, st.DeactivatedAt = domain.StageInactive, &at
	m.states[key.AccessKeyID] = st
	return nil
}

// KeyState: see the DynamoDB journal.
func (m *Journal) KeyState(_ context.Context, id string) (*domain.KeyState, error) {
	m.mu.Lock()
	st, ok := m.states[id]
	m.mu.Unlock()
	if !ok {
		return nil, nil
	}
	out, err := copyOf(st)
	if err != nil {
		return nil, fmt.Errorf("decode state of %s: %w", id, err)
	}
	out = utcState(out)
	return &out, nil
}

// PendingIntents: see the DynamoDB journal.
func (m *Journal) PendingIntents(_ context.Context, scope string) ([]domain.Record, error) {
	m.mu.Lock()
	recs := slices.Collect(maps.Values(m.pending[scope]))
	m.mu.Unlock()
	journal.SortByAt(recs)
	return recs, nil
}

// selectRecords returns the records keep accepts, by sort key.
func (m *Journal) selectRecords(keep func(domain.Record) bool) []domain.Record {
	m.mu.Lock()
	var recs []domain.Record
	for _, r := range m.history {
		if keep(r) {
			recs = append(recs, r)
		}
	}
	m.mu.Unlock()
	journal.SortBySK(recs)
	return recs
}

// ByKey: see the DynamoDB journal.
func (m *Journal) ByKey(_ context.Context, id string) ([]domain.Record, error) {
	return m.selectRecords(func(r domain.Record) bool { return r.AccessKeyID == id }), nil
}

// ByRun: see the DynamoDB journal.
func (m *Journal) ByRun(_ context.Context, runID string) ([]domain.Record, error) {
	return m.selectRecords(func(r domain.Record) bool { return r.RunID == runID }), nil
}

// ByUser: see the DynamoDB journal. Records at the same instant come in
// sort key order here; the byUser index leaves their order open.
func (m *Journal) ByUser(_ context.Context, account, user string) ([]domain.Record, error) {
	return m.selectRecords(func(r domain.Record) bool { return r.Account == account && r.UserName == user }), nil
}

// KeyIDs: see the DynamoDB journal.
func (m *Journal) KeyIDs(context.Context) ([]string, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	return slices.Sorted(maps.Keys(m.states)), nil
}

// Tamper runs f on the stored history of key id, as someone with write
// access to the table could; tests of the hash chain use it.
func (m *Journal) Tamper(id string, f func(recs map[string]*domain.Record)) {
	m.mu.Lock()
	defer m.mu.Unlock()
	recs := map[string]*domain.Record{}
	for k, r := range m.history {
		if r.AccessKeyID == id {
			r := r
			recs[k] = &r
		}
	}
	f(recs)
	for k := range m.history {
		if m.history[k].AccessKeyID == id {
			delete(m.history, k)
		}
	}
	for k, r := range recs {
		if r != nil {
			m.history[k] = *r
		}
	}
}

// RecentByUser: see the DynamoDB journal.
func (m *Journal) RecentByUser(ctx context.Context, account, user string, n int) ([]domain.Record, error) {
	recs, _ := m.ByUser(ctx, account, user)
	sort.SliceStable(recs, func(i, j int) bool { return recs[i].At.After(recs[j].At) })
	if len(recs) > n {
		recs = recs[:n]
	}
	return recs, nil
}
