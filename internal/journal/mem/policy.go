package mem

import (
	"context"
	"fmt"
	"maps"
	"time"

	"github.com/keysweep/keysweep/internal/domain"
	"github.com/keysweep/keysweep/internal/journal"
	"github.com/keysweep/keysweep/policy"
)

// GetPolicy: see the DynamoDB journal.
func (m *Journal) GetPolicy(_ context.Context, id string) (*policy.Policy, time.Time, error) {
	m.mu.Lock()
	item, ok := m.policies[id]
	m.mu.Unlock()
	if !ok {
		return nil, time.Time{}, fmt.Errorf("policy %q: %w", id, domain.ErrNotFound)
	}
	var at time.Time
	if s, ok := item["updatedAt"].(string); ok {
		at, _ = time.Parse(journal.TimeLayout, s)
	}
	p, err := policy.FromItem(maps.Clone(item))
	if err != nil {
		return nil, time.Time{}, fmt.Errorf("policy %q: %w", id, err)
	}
	return p, at, nil
}

// PutPolicy: see the DynamoDB journal.
func (m *Journal) PutPolicy(_ context.Context, id string, p *policy.Policy, by string) error {
	if err := p.Validate(); err != nil {
		return fmt.Errorf("policy %q: %w", id, err)
	}
	item := p.Item()
	item["id"] = id
	item["updatedAt"] = journal.FormatTime(m.now())
	if by != "" {
		item["updatedBy"] = by
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	m.policies[id] = item
	return nil
}

// PutRawPolicy stores item as is, the way a hand edit in the console
// would; tests use it to store invalid documents.
func (m *Journal) PutRawPolicy(id string, item map[string]any) {
	item = maps.Clone(item)
	item["id"] = id
	m.mu.Lock()
	defer m.mu.Unlock()
	m.policies[id] = item
}
