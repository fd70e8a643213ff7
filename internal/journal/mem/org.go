package mem

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"sort"

	"github.com/keysweep/keysweep/internal/domain"
	"github.com/keysweep/keysweep/internal/journal"
)

// orgRunLocked merges the run record with the fan-out attributes; m.mu held.
func (m *Journal) orgRunLocked(runID string) (*domain.OrgRun, error) {
	r, ok := m.runs[runID]
	if !ok {
		return nil, fmt.Errorf("organization run %s: %w", runID, domain.ErrNotFound)
	}
	out := domain.OrgRun{}
	if extra := m.orgs[runID]; extra != nil {
		out = *extra
	}
	out.Run = r
	cp, err := copyOf(out)
	if err != nil {
		return nil, fmt.Errorf("decode organization run %s: %w", runID, err)
	}
	cp.Run = utcRun(cp.Run)
	return &cp, nil
}

// GetOrgRun: see the DynamoDB journal.
func (m *Journal) GetOrgRun(_ context.Context, runID string) (*domain.OrgRun, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.orgRunLocked(runID)
}

func (m *Journal) extraLocked(runID string) *domain.OrgRun {
	extra := m.orgs[runID]
	if extra == nil {
		extra = &domain.OrgRun{Outcomes: map[string]int{}}
		m.orgs[runID] = extra
	}
	return extra
}

// PlanOrgRun: see the DynamoDB journal.
func (m *Journal) PlanOrgRun(_ context.Context, runID string, plan domain.OrgPlan) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if _, ok := m.runs[runID]; !ok {
		return fmt.Errorf("plan organization run %s: %w", runID, domain.ErrNotFound)
	}
	extra := m.extraLocked(runID)
	extra.Planned = true
	extra.Accounts = slices.Sorted(slices.Values(plan.Accounts))
	extra.AccountsPlanned = len(plan.Accounts)
	if plan.OrganizationID != "" {
		extra.OrganizationID = plan.OrganizationID
	}
	if plan.Selection != "" {
		extra.Selection = plan.Selection
	}
	return nil
}

// MarkDispatched: see the DynamoDB journal.
func (m *Journal) MarkDispatched(_ context.Context, runID string, notes []string) (*domain.OrgRun, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	r, ok := m.runs[runID]
	if !ok {
		return nil, fmt.Errorf("mark organization run %s dispatched: %w", runID, domain.ErrNotFound)
	}
	at := m.now().UTC()
	m.extraLocked(runID).DispatchedAt = &at
	r.Errors = append(r.Errors, notes...)
	m.runs[runID] = r
	m.finishIfDoneLocked(runID)
	return m.orgRunLocked(runID)
}

// RecordAccount: see the DynamoDB journal.
func (m *Journal) RecordAccount(_ context.Context, orgRunID string, res domain.AccountResult) (*domain.OrgRun, error) {
	if res.At.IsZero() {
		res.At = m.now()
	}
	res.At = res.At.UTC()
	if err := journal.CheckAccountResult(res); err != nil {
		return nil, err
	}
	cp, err := copyOf(res)
	if err != nil {
		return nil, fmt.Errorf("encode account %s: %w", res.Account, err)
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	extra := m.orgs[orgRunID]
	if _, ok := m.runs[orgRunID]; !ok || extra == nil || !extra.Planned {
		return nil, fmt.Errorf("record account %s in organization run %s: run not found or not planned: %w", res.Account, orgRunID, domain.ErrNotFound)
	}
	var prev *domain.AccountResult
	if p, ok := m.accounts[orgRunID][res.Account]; ok {
		prev = &p
	}
	if dl, changes := journal.AccountDelta(prev, cp); changes {
		if m.accounts[orgRunID] == nil {
			m.accounts[orgRunID] = map[string]domain.AccountResult{}
		}
		m.accounts[orgRunID][res.Account] = cp
		extra.AccountsDone += dl.Done
		extra.AccountsFailed += dl.Failed
		if extra.Outcomes == nil {
			extra.Outcomes = map[string]int{}
		}
		for k, v := range dl.Outcomes {
			extra.Outcomes[k] += v
		}
		r := m.runs[orgRunID]
		if r.Counts == nil {
			r.Counts = map[string]int{}
		}
		for k, v := range dl.Counts {
			r.Counts[k] += v
		}
		m.runs[orgRunID] = r
	}
	m.finishIfDoneLocked(orgRunID)
	return m.orgRunLocked(orgRunID)
}

func (m *Journal) finishIfDoneLocked(runID string) {
	extra := m.orgs[runID]
	if extra == nil {
		return
	}
	r := m.runs[runID]
	view := *extra
	view.Run = r
	outcome, first, change := journal.NextOrgOutcome(&view)
	if !change {
		return
	}
	r.Outcome = outcome
	if first {
		end := m.now().UTC()
		r.FinishedAt = &end
		r.DurationMs = end.Sub(r.StartedAt).Milliseconds()
	}
	m.runs[runID] = r
}

// AccountResults: see the DynamoDB journal.
func (m *Journal) AccountResults(_ context.Context, orgRunID string) ([]domain.AccountResult, error) {
	m.mu.Lock()
	out := slices.Collect(maps.Values(m.accounts[orgRunID]))
	m.mu.Unlock()
	sort.Slice(out, func(i, j int) bool { return out[i].Account < out[j].Account })
	return out, nil
}
