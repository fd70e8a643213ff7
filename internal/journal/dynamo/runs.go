package dynamo

import (
	"context"
	"errors"
	"fmt"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/expression"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/keysweep/keysweep/internal/domain"
	"github.com/keysweep/keysweep/internal/journal"
)

func (d *Journal) runItem(run *domain.Run) (map[string]types.AttributeValue, error) {
	if run.RunID == "" {
		return nil, fmt.Errorf("%w: run without runId", domain.ErrInvalidRecord)
	}
	item, err := marshalItem(run)
	if err != nil {
		return nil, fmt.Errorf("encode run %s: %w", run.RunID, err)
	}
	item["pk"], item["sk"] = s(runPK(run.RunID)), s(skRun)
	item["expiresAt"] = d.expiresAt(run.StartedAt)
	return item, nil
}

// runningMarker lists a run with a deadline under its scope while it runs,
// so that a later run can find it if it never finishes (RunningRuns).
func (d *Journal) runningMarker(run *domain.Run) map[string]types.AttributeValue {
	m := itemKey(runningPK(run.Scope()), run.RunID)
	m["startedAt"] = s(journal.FormatTime(run.StartedAt))
	return m
}

// BeginRun writes the run record with outcome running and lists it as
// running in its scope. A run triggered by an event (EventBridge, SQS, an
// API idempotency key) claims the event id in the same transaction; a
// second claim returns *domain.DuplicateEventError naming the first run
// and writes nothing.
func (d *Journal) BeginRun(ctx context.Context, run *domain.Run) error {
	r := *run
	r.Outcome = domain.RunRunning
	item, err := d.runItem(&r)
	if err != nil {
		return err
	}
	items := []types.TransactWriteItem{{Put: &types.Put{TableName: d.table(), Item: item}}}
	if r.Deadline != nil {
		items = append(items, types.TransactWriteItem{Put: &types.Put{TableName: d.table(), Item: d.runningMarker(&r)}})
	}
	eventID := r.Trigger.EventID
	if eventID != "" {
		claim := itemKey(eventPK(eventID), skEvent)
		claim["runId"] = s(r.RunID)
		claim["at"] = s(journal.FormatTime(d.opts.Now()))
		claim["expiresAt"] = d.expiresAt(d.opts.Now())
		items = append([]types.TransactWriteItem{{Put: &types.Put{
			TableName: d.table(), Item: claim, ConditionExpression: aws.String("attribute_not_exists(pk)"),
		}}}, items...)
	}
	_, err = d.client.TransactWriteItems(ctx, &dynamodb.TransactWriteItemsInput{TransactItems: items})
	if eventID != "" && conditionFailed(err, 0) {
		return d.duplicate(ctx, eventID, r.RunID)
	}
	if err != nil {
		return fmt.Errorf("begin run %s: %w", r.RunID, err)
	}
	return nil
}

// duplicate reads which run holds the event.
func (d *Journal) duplicate(ctx context.Context, eventID, runID string) error {
	item, err := d.get(ctx, d.table(), itemKey(eventPK(eventID), skEvent))
	if err != nil {
		return fmt.Errorf("begin run %s: read claim of event %s: %w", runID, eventID, err)
	}
	var first struct {
		RunID string `dynamodbav:"runId"`
	}
	if err := unmarshalItem(item, &first); err != nil {
		return fmt.Errorf("begin run %s: decode claim of event %s: %w", runID, eventID, err)
	}
	return &domain.DuplicateEventError{EventID: eventID, RunID: first.RunID}
}

// RetryEvent begins run in place of prevRunID, a run of the same event
// that crashed: the event's claim moves to run, on condition that it still
// names prevRunID (else *domain.DuplicateEventError names its holder).
func (d *Journal) RetryEvent(ctx context.Context, run *domain.Run, prevRunID string) error {
	r := *run
	r.Outcome = domain.RunRunning
	item, err := d.runItem(&r)
	if err != nil {
		return err
	}
	eventID := r.Trigger.EventID
	upd := expression.Set(expression.Name("runId"), expression.Value(r.RunID)).
		Set(expression.Name("at"), expression.Value(journal.FormatTime(d.opts.Now())))
	cond := expression.Name("runId").Equal(expression.Value(prevRunID))
	ex, err := expression.NewBuilder().WithUpdate(upd).WithCondition(cond).Build()
	if err != nil {
		return fmt.Errorf("retry event %s: %w", eventID, err)
	}
	items := []types.TransactWriteItem{
		{Update: &types.Update{
			TableName: d.table(), Key: itemKey(eventPK(eventID), skEvent),
			UpdateExpression: ex.Update(), ConditionExpression: ex.Condition(),
			ExpressionAttributeNames: ex.Names(), ExpressionAttributeValues: ex.Values(),
		}},
		{Put: &types.Put{TableName: d.table(), Item: item}},
	}
	if r.Deadline != nil {
		items = append(items, types.TransactWriteItem{Put: &types.Put{TableName: d.table(), Item: d.runningMarker(&r)}})
	}
	_, err = d.client.TransactWriteItems(ctx, &dynamodb.TransactWriteItemsInput{TransactItems: items})
	if conditionFailed(err, 0) {
		return d.duplicate(ctx, eventID, r.RunID)
	}
	if err != nil {
		return fmt.Errorf("retry event %s as run %s: %w", eventID, r.RunID, err)
	}
	return nil
}

// FinishRun overwrites the run record with run as given; a finished run
// leaves its scope's running list.
func (d *Journal) FinishRun(ctx context.Context, run *domain.Run) error {
	item, err := d.runItem(run)
	if err != nil {
		return err
	}
	marker := itemKey(runningPK(run.Scope()), run.RunID)
	second := types.TransactWriteItem{Delete: &types.Delete{TableName: d.table(), Key: marker}}
	if !run.Outcome.Finished() && run.Deadline != nil {
		second = types.TransactWriteItem{Put: &types.Put{TableName: d.table(), Item: d.runningMarker(run)}}
	}
	items := []types.TransactWriteItem{{Put: &types.Put{TableName: d.table(), Item: item}}, second}
	if run.Outcome.Finished() && run.Parent == "" && run.Outcome != domain.RunDuplicate {
		last := itemKey(lastRunPK(run.Scope()), skRun)
		last["runId"], last["at"] = s(run.RunID), s(journal.FormatTime(d.opts.Now()))
		items = append(items, types.TransactWriteItem{Put: &types.Put{TableName: d.table(), Item: last}})
	}
	_, err = d.client.TransactWriteItems(ctx, &dynamodb.TransactWriteItemsInput{TransactItems: items})
	if err != nil {
		return fmt.Errorf("finish run %s: %w", run.RunID, err)
	}
	return nil
}

// LastRun names the scope's last finished run ("" when none): the next
// run checks the hash chains of the keys it wrote.
func (d *Journal) LastRun(ctx context.Context, scope string) (string, error) {
	id, err := d.stringAttr(ctx, itemKey(lastRunPK(scope), skRun), "runId")
	if err != nil {
		return "", fmt.Errorf("last run of %s: %w", scope, err)
	}
	return id, nil
}

// GetRun returns the run record, or an error wrapping domain.ErrNotFound.
func (d *Journal) GetRun(ctx context.Context, runID string) (*domain.Run, error) {
	item, err := d.get(ctx, d.table(), itemKey(runPK(runID), skRun))
	if err != nil {
		return nil, fmt.Errorf("get run %s: %w", runID, err)
	}
	if item == nil {
		return nil, fmt.Errorf("run %s: %w", runID, domain.ErrNotFound)
	}
	var run domain.Run
	if err := unmarshalItem(item, &run); err != nil {
		return nil, fmt.Errorf("decode run %s: %w", runID, err)
	}
	return &run, nil
}

// QueueRun writes a run record with outcome queued, unless a run with that
// id exists (then domain.ErrRunExists and nothing is written): a run id
// handed out by the API never overwrites another run's record.
func (d *Journal) QueueRun(ctx context.Context, run *domain.Run) error {
	r := *run
	r.Outcome = domain.RunQueued
	item, err := d.runItem(&r)
	if err != nil {
		return err
	}
	_, err = d.client.PutItem(ctx, &dynamodb.PutItemInput{
		TableName: d.table(), Item: item, ConditionExpression: aws.String("attribute_not_exists(pk)"),
	})
	var ccf *types.ConditionalCheckFailedException
	if errors.As(err, &ccf) {
		return fmt.Errorf("queue run %s: %w", r.RunID, domain.ErrRunExists)
	}
	if err != nil {
		return fmt.Errorf("queue run %s: %w", r.RunID, err)
	}
	return nil
}

// RunningRuns returns the runs of scope still recorded as running.
func (d *Journal) RunningRuns(ctx context.Context, scope string) ([]domain.Run, error) {
	var ids []string
	err := d.partition(ctx, runningPK(scope), func(item map[string]types.AttributeValue) error {
		if sk, ok := item["sk"].(*types.AttributeValueMemberS); ok {
			ids = append(ids, sk.Value)
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("running runs of %s: %w", scope, err)
	}
	var runs []domain.Run
	for _, id := range ids {
		run, err := d.GetRun(ctx, id)
		if errors.Is(err, domain.ErrNotFound) {
			continue
		}
		if err != nil {
			return nil, err
		}
		runs = append(runs, *run)
	}
	return runs, nil
}

// MarkCrashed records that run, still running past its deadline, crashed:
// its outcome becomes crashed (on condition that it is still running) and
// it leaves its scope's running list. It reports false when the run had
// finished (or was marked) meanwhile.
func (d *Journal) MarkCrashed(ctx context.Context, run *domain.Run, note string) (bool, error) {
	now := d.opts.Now().UTC()
	upd := expression.Set(expression.Name("outcome"), expression.Value(string(domain.RunCrashed))).
		Set(expression.Name("finishedAt"), expression.Value(journal.FormatTime(now))).
		Set(expression.Name("errors"), expression.ListAppend(
			expression.IfNotExists(expression.Name("errors"), expression.Value([]string{})),
			expression.Value([]string{note})))
	cond := expression.Name("outcome").Equal(expression.Value(string(domain.RunRunning)))
	ex, err := expression.NewBuilder().WithUpdate(upd).WithCondition(cond).Build()
	if err != nil {
		return false, fmt.Errorf("mark run %s crashed: %w", run.RunID, err)
	}
	_, err = d.client.TransactWriteItems(ctx, &dynamodb.TransactWriteItemsInput{TransactItems: []types.TransactWriteItem{
		{Update: &types.Update{
			TableName: d.table(), Key: itemKey(runPK(run.RunID), skRun),
			UpdateExpression: ex.Update(), ConditionExpression: ex.Condition(),
			ExpressionAttributeNames: ex.Names(), ExpressionAttributeValues: ex.Values(),
		}},
		{Delete: &types.Delete{TableName: d.table(), Key: itemKey(runningPK(run.Scope()), run.RunID)}},
	}})
	if conditionFailed(err, 0) {
		// Finished meanwhile: only drop a marker that outlived its run.
		_, derr := d.client.DeleteItem(ctx, &dynamodb.DeleteItemInput{
			TableName: d.table(), Key: itemKey(runningPK(run.Scope()), run.RunID),
			ConditionExpression: aws.String("attribute_exists(pk)"),
		})
		var ccf *types.ConditionalCheckFailedException
		if derr != nil && !errors.As(derr, &ccf) {
			return false, fmt.Errorf("drop running marker of %s: %w", run.RunID, derr)
		}
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("mark run %s crashed: %w", run.RunID, err)
	}
	return true, nil
}
