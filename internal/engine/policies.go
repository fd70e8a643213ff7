package engine

import (
	"context"
	"errors"
	"time"

	"github.com/keysweep/keysweep/internal/domain"
	"github.com/keysweep/keysweep/policy"
)

// Where a run's policy came from, as its record says.
const (
	SourceStored  = "stored"
	SourceDefault = "builtin-default"
	SourceFile    = "file"
)

// PolicyStore is the engine's port to the policy table.
type PolicyStore interface {
	GetPolicy(ctx context.Context, id string) (*policy.Policy, time.Time, error)
}

// LoadPolicy returns the stored policy, or the built-in default (audit
// mode) when none is stored. An invalid stored policy is an error
// (wrapping policy.ErrInvalid): it is never half applied.
func LoadPolicy(ctx context.Context, ps PolicyStore, id string) (*policy.Policy, string, error) {
	p, _, err := ps.GetPolicy(ctx, id)
	if errors.Is(err, domain.ErrNotFound) {
		return policy.Default(), SourceDefault, nil
	}
	if err != nil {
		return nil, SourceStored, err
	}
	return p, SourceStored, nil
}
