package dynamo

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/expression"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/keysweep/keysweep/internal/domain"
	"github.com/keysweep/keysweep/internal/journal"
)

// ObserveInactive records that the key was first seen inactive at at,
// unless its state already has a DeactivatedAt (then it does nothing): the
// delete clock starts at the first sighting and is never pushed back.
func (d *Journal) ObserveInactive(ctx context.Context, key domain.KeyState, at time.Time) error {
	if _, err := d.KeyState(ctx, key.AccessKeyID); err != nil { // moves a legacy state item first
		return err
	}
	upd := expression.Set(expression.Name("account"), expression.Value(key.Account)).
		Set(expression.Name("accessKeyId"), expression.Value(key.AccessKeyID)).
		Set(expression.Name("userName"), expression.Value(key.UserName)).
		Set(expression.Name("stage"), expression.Value(domain.StageInactive)).
		Set(expression.Name("deactivatedAt"), expression.Value(journal.FormatTime(at)))
	if key.Provider != "" {
		upd = upd.Set(expression.Name("provider"), expression.Value(string(key.Provider)))
	}
	ex, err := expression.NewBuilder().WithUpdate(upd).
		WithCondition(expression.AttributeNotExists(expression.Name("deactivatedAt"))).Build()
	if err != nil {
		return fmt.Errorf("observe %s inactive: %w", key.AccessKeyID, err)
	}
	_, err = d.client.UpdateItem(ctx, &dynamodb.UpdateItemInput{
		TableName: d.table(), Key: itemKey(statePK(key.AccessKeyID), skState),
		UpdateExpression: ex.Update(), ConditionExpression: ex.Condition(),
		ExpressionAttributeNames: ex.Names(), ExpressionAttributeValues: ex.Values(),
	})
	var ccf *types.ConditionalCheckFailedException
	if errors.As(err, &ccf) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("observe %s inactive: %w", key.AccessKeyID, err)
	}
	return nil
}

// KeyState returns the key's state, or nil when keysweep has none. A state
// item written before the state moved to its own partition (KEY#<id>,
// STATE) is moved to STATE#<id> on first read.
func (d *Journal) KeyState(ctx context.Context, id string) (*domain.KeyState, error) {
	item, err := d.get(ctx, d.table(), itemKey(statePK(id), skState))
	if err != nil {
		return nil, fmt.Errorf("get state of %s: %w", id, err)
	}
	if item == nil {
		if item, err = d.migrateLegacyState(ctx, id); err != nil || item == nil {
			return nil, err
		}
	}
	var st domain.KeyState
	if err := unmarshalItem(item, &st); err != nil {
		return nil, fmt.Errorf("decode state of %s: %w", id, err)
	}
	return &st, nil
}

// migrateLegacyState copies a legacy state item (pk KEY#<id>, sk STATE) to
// its own partition; nil when there is none.
func (d *Journal) migrateLegacyState(ctx context.Context, id string) (map[string]types.AttributeValue, error) {
	legacy, err := d.get(ctx, d.table(), itemKey(keyPK(id), skState))
	if err != nil || legacy == nil {
		if err != nil {
			return nil, fmt.Errorf("get legacy state of %s: %w", id, err)
		}
		return nil, nil
	}
	legacy["pk"], legacy["sk"] = s(statePK(id)), s(skState)
	_, err = d.client.PutItem(ctx, &dynamodb.PutItemInput{
		TableName: d.table(), Item: legacy, ConditionExpression: aws.String("attribute_not_exists(pk)"),
	})
	var ccf *types.ConditionalCheckFailedException
	if errors.As(err, &ccf) {
		return d.get(ctx, d.table(), itemKey(statePK(id), skState))
	}
	if err != nil {
		return nil, fmt.Errorf("move legacy state of %s: %w", id, err)
	}
	return legacy, nil
}

// KeyIDs lists every key keysweep keeps a state for (a table scan: for
// `keysweep audit --verify` over the whole trail, not for sweeps).
func (d *Journal) KeyIDs(ctx context.Context) ([]string, error) {
	var ids []string
	p := dynamodb.NewScanPaginator(d.client, &dynamodb.ScanInput{
		TableName:                 d.table(),
		FilterExpression:          aws.String("begins_with(pk, :st) AND sk = :sk"),
		ProjectionExpression:      aws.String("pk"),
		ExpressionAttributeValues: map[string]types.AttributeValue{":st": s("STATE#"), ":sk": s(skState)},
	})
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			return nil, fmt.Errorf("list keys: %w", err)
		}
		for _, item := range page.Items {
			if pk, ok := item["pk"].(*types.AttributeValueMemberS); ok {
				ids = append(ids, strings.TrimPrefix(pk.Value, "STATE#"))
			}
		}
	}
	return ids, nil
}

// Resume returns where the scope's next run starts (after this owner), or
// "" when it starts from the beginning.
func (d *Journal) Resume(ctx context.Context, scope string) (string, error) {
	after, err := d.stringAttr(ctx, itemKey(resumePK(scope), skResume), "after")
	if err != nil {
		return "", fmt.Errorf("get resume point of %s: %w", scope, err)
	}
	return after, nil
}

// SetResume records that run runID handled the scope's owners up to and
// including after; after "" clears the resume point.
func (d *Journal) SetResume(ctx context.Context, scope, runID, after string) error {
	key := itemKey(resumePK(scope), skResume)
	if after == "" {
		if _, err := d.client.DeleteItem(ctx, &dynamodb.DeleteItemInput{TableName: d.table(), Key: key}); err != nil {
			return fmt.Errorf("clear resume point of %s: %w", scope, err)
		}
		return nil
	}
	key["after"], key["runId"] = s(after), s(runID)
	key["at"] = s(journal.FormatTime(d.opts.Now()))
	if _, err := d.client.PutItem(ctx, &dynamodb.PutItemInput{TableName: d.table(), Item: key}); err != nil {
		return fmt.Errorf("set resume point of %s: %w", scope, err)
	}
	return nil
}
