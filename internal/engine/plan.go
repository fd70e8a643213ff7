package engine

import (
	"context"
	"fmt"
	"time"

	"github.com/keysweep/keysweep/internal/domain"
	"github.com/keysweep/keysweep/policy"
)

// Plan is what a sweep would decide at a given time.
type Plan struct {
	Account     string               `json:"account"`
	Provider    domain.Provider      `json:"provider,omitempty"`
	Target      string               `json:"target,omitempty"`
	At          time.Time            `json:"at"`
	Inventory   string               `json:"inventory"`
	Fallback    string               `json:"fallback,omitempty"`
	GeneratedAt time.Time            `json:"generatedAt"`
	TotalKeys   int                  `json:"totalKeys"`
	Actions     int                  `json:"actions"`
	CapExceeded string               `json:"capExceeded,omitempty"`
	Notes       []string             `json:"notes,omitempty"`
	Decisions   []domain.KeyDecision `json:"decisions"`
}

// Plan judges every key as a sweep at time at would, reading the key store
// and the journal and writing nothing. owners narrows it (nil: all).
func (e *Engine) Plan(ctx context.Context, p *policy.Policy, at time.Time, owners []string) (*Plan, error) {
	inv, pl, err := e.inventoryForPlan(ctx, p, at)
	if err != nil {
		return nil, err
	}
	return e.PlanFrom(ctx, p, inv, pl, owners), nil
}

// inventoryForPlan validates the policy and reads the inventory once, so
// that a forecast over many dates reads it once too (PlanFrom).
func (e *Engine) inventoryForPlan(ctx context.Context, p *policy.Policy, at time.Time) (*domain.Inventory, *Plan, error) {
	if err := p.Validate(); err != nil {
		return nil, nil, fmt.Errorf("%w: %w", ErrPolicy, err)
	}
	account, err := e.account(ctx)
	if err != nil {
		return nil, nil, err
	}
	e.progress("inventory", 0, 1)
	inv, err := e.Store.Inventory(ctx)
	if err != nil {
		return nil, nil, fmt.Errorf("inventory: %w", err)
	}
	pl := &Plan{Account: account, Target: e.Target, At: at.UTC(), Inventory: inv.Source, Fallback: inv.Fallback,
		GeneratedAt: inv.GeneratedAt, TotalKeys: inv.Keys(), Notes: append(inv.Notes, capabilityNotes(p, e.abilities(), e.Store.Provider())...)}
	if prov := e.Store.Provider(); prov != domain.ProviderAWS {
		pl.Provider = prov
	}
	return inv, pl, nil
}

// PlanFrom judges an inventory already read as a sweep at pl.At would.
func (e *Engine) PlanFrom(ctx context.Context, p *policy.Policy, inv *domain.Inventory, pl *Plan, owners []string) *Plan {
	jd := e.judge(ctx, p, inv, narrow(inv.Owners, owners), "", pl.At, 0)
	pl.Decisions = jd.decisions
	pl.Actions = 0
	for _, d := range pl.Decisions {
		if d.Verdict.Acts() {
			pl.Actions++
		}
	}
	pl.CapExceeded = ""
	if over, why := p.CapExceeded(pl.Actions, pl.TotalKeys); over {
		pl.CapExceeded = why
	}
	return pl
}

// Forecast plans at each of the given dates on one inventory: what becomes
// stale when (the report's weekly forecast).
func (e *Engine) Forecast(ctx context.Context, p *policy.Policy, dates []time.Time, owners []string) ([]*Plan, error) {
	if len(dates) == 0 {
		return nil, nil
	}
	inv, first, err := e.inventoryForPlan(ctx, p, dates[0])
	if err != nil {
		return nil, err
	}
	out := make([]*Plan, 0, len(dates))
	for i, at := range dates {
		pl := first
		if i > 0 {
			cp := *first
			cp.At = at.UTC()
			pl = &cp
		}
		out = append(out, e.PlanFrom(ctx, p, inv, pl, owners))
	}
	return out, nil
}
