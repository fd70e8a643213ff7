package dynamo

import (
	"context"
	"fmt"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/attributevalue"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/keysweep/keysweep/internal/domain"
	"github.com/keysweep/keysweep/internal/journal"
	"github.com/keysweep/keysweep/policy"
)

// GetPolicy returns the stored policy id and when it was last put. It returns
// an error wrapping domain.ErrNotFound when there is none, and one wrapping
// policy.ErrInvalid when the stored document does not validate (e.g. edited
// by hand in the console).
func (d *Journal) GetPolicy(ctx context.Context, id string) (*policy.Policy, time.Time, error) {
	out, err := d.client.GetItem(ctx, &dynamodb.GetItemInput{
		TableName:      &d.opts.PolicyTable,
		Key:            map[string]types.AttributeValue{"id": s(id)},
		ConsistentRead: aws.Bool(true),
	})
	if err != nil {
		return nil, time.Time{}, fmt.Errorf("get policy %q: %w", id, err)
	}
	if out.Item == nil {
		return nil, time.Time{}, fmt.Errorf("policy %q: %w", id, domain.ErrNotFound)
	}
	return decodePolicy(id, out.Item)
}

// PutPolicy validates p and stores it as id, stamped with the time and by
// (who put it).
func (d *Journal) PutPolicy(ctx context.Context, id string, p *policy.Policy, by string) error {
	item, err := encodePolicy(id, p, by, d.opts.Now())
	if err != nil {
		return err
	}
	if _, err := d.client.PutItem(ctx, &dynamodb.PutItemInput{TableName: &d.opts.PolicyTable, Item: item}); err != nil {
		return fmt.Errorf("put policy %q: %w", id, err)
	}
	return nil
}

func encodePolicy(id string, p *policy.Policy, by string, now time.Time) (map[string]types.AttributeValue, error) {
	if err := p.Validate(); err != nil {
		return nil, fmt.Errorf("policy %q: %w", id, err)
	}
	item, err := attributevalue.MarshalMap(p.Item())
	if err != nil {
		return nil, fmt.Errorf("encode policy %q: %w", id, err)
	}
	item["id"] = s(id)
	item["updatedAt"] = s(journal.FormatTime(now))
	if by != "" {
		item["updatedBy"] = s(by)
	}
	return item, nil
}

func decodePolicy(id string, item map[string]types.AttributeValue) (*policy.Policy, time.Time, error) {
	var m map[string]any
	if err := attributevalue.UnmarshalMap(item, &m); err != nil {
		return nil, time.Time{}, fmt.Errorf("decode policy %q: %w", id, err)
	}
	var updatedAt time.Time
	if v, ok := m["updatedAt"].(string); ok {
		t, err := parseTime(v)
		if err != nil {
			return nil, time.Time{}, fmt.Errorf("policy %q: updatedAt: %w", id, err)
		}
		updatedAt = t
	}
	p, err := policy.FromItem(m)
	if err != nil {
		return nil, time.Time{}, fmt.Errorf("policy %q: %w", id, err)
	}
	return p, updatedAt, nil
}
