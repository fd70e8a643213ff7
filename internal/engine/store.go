package engine

import (
	"context"
	"fmt"
	"strings"

	"github.com/keysweep/keysweep/internal/domain"
	"github.com/keysweep/keysweep/policy"
)

// abilities is what the engine may ask of its key store: the declared
// capabilities, and the optional interfaces they promise, found here and
// nowhere else.
type abilities struct {
	domain.Capabilities
	tags TagDirectory // nil unless Capabilities.BulkTags and the store has it
}

func (e *Engine) abilities() abilities {
	a := abilities{Capabilities: e.Store.Capabilities()}
	if a.BulkTags {
		if td, ok := e.Store.(TagDirectory); ok {
			a.tags = td
		} else {
			a.BulkTags = false
		}
	}
	return a
}

// Traits says, in the policy's terms, what the store can judge.
func (a abilities) traits(p domain.Provider) policy.StoreTraits {
	return policy.StoreTraits{
		Name:       p.Title(),
		LastUsed:   a.LastUsed,
		Deactivate: a.Deactivate,
		Expiry:     a.Expiry,
		Tags:       a.OwnerTags,
		Paths:      a.OwnerPaths,
	}
}

// capabilityNotes says, for the run's record, which of the policy's rules
// the store cannot serve and what keysweep does instead. Nothing is
// skipped silently.
func capabilityNotes(p *policy.Policy, a abilities, prov domain.Provider) []string {
	var notes []string
	for _, u := range p.Unserved(a.traits(prov)) {
		notes = append(notes, fmt.Sprintf("%s: %s", prov.Title(), u))
	}
	if !a.Deactivate {
		notes = append(notes, fmt.Sprintf("%s keys cannot be deactivated: a stale key is marked due, and deleted after deleteAfterDays unless it stops being stale", prov.Title()))
	}
	return notes
}

// describe is a short account label for logs and errors.
func describe(p domain.Provider, account string) string {
	return strings.TrimSpace(p.Title() + " " + account)
}

// account asks the key store for its account once per call site.
func (e *Engine) account(ctx context.Context) (string, error) {
	acct, err := e.Store.Account(ctx)
	if err != nil {
		return "", e.storeError("account id", err)
	}
	return acct, nil
}
