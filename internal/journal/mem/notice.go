package mem

import (
	"context"
	"fmt"
	"sort"

	"github.com/keysweep/keysweep/internal/domain"
	"github.com/keysweep/keysweep/internal/journal"
)

// notices is the journal's bookkeeping of notices and findings, made on
// first use.
type notices struct {
	claims   map[string]string                        // key id + claim → status
	pending  map[string]map[string]domain.Record      // scope → key id + claim → the sending record
	findings map[string]map[string]domain.FindingMark // scope → key id → open finding
}

func (m *Journal) noticesLocked() *notices {
	if m.nt == nil {
		m.nt = &notices{claims: map[string]string{}, pending: map[string]map[string]domain.Record{}, findings: map[string]map[string]domain.FindingMark{}}
	}
	return m.nt
}

func claimKey(rec domain.Record) string { return rec.AccessKeyID + "\x00" + rec.Notice.Claim }

// Claimed: see the DynamoDB journal.
func (m *Journal) Claimed(_ context.Context, accessKeyID, claim string) (bool, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	_, ok := m.noticesLocked().claims[accessKeyID+"\x00"+claim]
	return ok, nil
}

// ClaimNotice: see the DynamoDB journal.
func (m *Journal) ClaimNotice(_ context.Context, rec domain.Record) error {
	rec, err := m.prepare(rec, domain.KindNotice)
	if err != nil {
		return err
	}
	if err := journal.CheckNotice(rec, false); err != nil {
		return err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	nt := m.noticesLocked()
	k := claimKey(rec)
	if _, taken := nt.claims[k]; taken {
		return fmt.Errorf("claim notice %s of %s: %w", rec.Notice.Claim, rec.AccessKeyID, domain.ErrNoticeClaimed)
	}
	st := m.states[rec.AccessKeyID]
	if err := m.appendLocked(&st, &rec); err != nil {
		return err
	}
	m.states[rec.AccessKeyID] = st
	nt.claims[k] = rec.Notice.Status
	if rec.Notice.Status == domain.NoticeSending {
		scope := domain.Scope(rec.Provider, rec.Account)
		if nt.pending[scope] == nil {
			nt.pending[scope] = map[string]domain.Record{}
		}
		nt.pending[scope][k] = rec
	}
	return nil
}

// SettleNotice: see the DynamoDB journal.
func (m *Journal) SettleNotice(_ context.Context, rec domain.Record) error {
	rec, err := m.prepare(rec, domain.KindNotice)
	if err != nil {
		return err
	}
	if err := journal.CheckNotice(rec, true); err != nil {
		return err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	nt := m.noticesLocked()
	k := claimKey(rec)
	if nt.claims[k] != domain.NoticeSending {
		return fmt.Errorf("settle notice %s of %s: %w", rec.Notice.Claim, rec.AccessKeyID, domain.ErrNoticeSettled)
	}
	st := m.states[rec.AccessKeyID]
	if err := m.appendLocked(&st, &rec); err != nil {
		return err
	}
	m.states[rec.AccessKeyID] = st
	nt.claims[k] = rec.Notice.Status
	delete(nt.pending[domain.Scope(rec.Provider, rec.Account)], k)
	return nil
}

// PendingNotices: see the DynamoDB journal.
func (m *Journal) PendingNotices(_ context.Context, scope string) ([]domain.Record, error) {
	m.mu.Lock()
	var recs []domain.Record
	for _, r := range m.noticesLocked().pending[scope] {
		recs = append(recs, r)
	}
	m.mu.Unlock()
	journal.SortByAt(recs)
	return recs, nil
}

// OpenFindings: see the DynamoDB journal.
func (m *Journal) OpenFindings(_ context.Context, scope string) ([]domain.FindingMark, error) {
	m.mu.Lock()
	var out []domain.FindingMark
	for _, f := range m.noticesLocked().findings[scope] {
		out = append(out, f)
	}
	m.mu.Unlock()
	sort.Slice(out, func(i, j int) bool { return out[i].AccessKeyID < out[j].AccessKeyID })
	return out, nil
}

// MarkFinding: see the DynamoDB journal.
func (m *Journal) MarkFinding(_ context.Context, scope string, f domain.FindingMark) error {
	f, err := copyOf(f)
	if err != nil {
		return err
	}
	f.OpenedAt = f.OpenedAt.UTC()
	f.KeyCreatedAt = utcPtr(f.KeyCreatedAt)
	m.mu.Lock()
	defer m.mu.Unlock()
	nt := m.noticesLocked()
	if nt.findings[scope] == nil {
		nt.findings[scope] = map[string]domain.FindingMark{}
	}
	if _, open := nt.findings[scope][f.AccessKeyID]; !open {
		nt.findings[scope][f.AccessKeyID] = f
	}
	return nil
}

// ClearFinding: see the DynamoDB journal.
func (m *Journal) ClearFinding(_ context.Context, scope, accessKeyID string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	delete(m.noticesLocked().findings[scope], accessKeyID)
	return nil
}
