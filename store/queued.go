package store

import (
	"context"
	"errors"
	"fmt"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
)

// OutcomeQueued is the outcome of a run the API accepted and handed to the
// sweeper, which has not begun it yet. BeginRun replaces the record with a
// running one when the sweep starts.
const OutcomeQueued = "queued"

// ErrRunExists: QueueRun found a run record with that id already.
var ErrRunExists = errors.New("run already exists")

// QueueRun writes a run record with outcome queued, unless a run with that
// id exists (then ErrRunExists and nothing is written): a run id handed out
// by the API never overwrites another run's record.
func (d *Dynamo) QueueRun(ctx context.Context, run *Run) error {
	r := *run
	r.Outcome = OutcomeQueued
	item, err := d.runItem(&r)
	if err != nil {
		return err
	}
	_, err = d.client.PutItem(ctx, &dynamodb.PutItemInput{
		TableName:           &d.opts.AuditTable,
		Item:                item,
		ConditionExpression: aws.String("attribute_not_exists(pk)"),
	})
	var ccf *types.ConditionalCheckFailedException
	if errors.As(err, &ccf) {
		return fmt.Errorf("queue run %s: %w", r.RunID, ErrRunExists)
	}
	if err != nil {
		return fmt.Errorf("queue run %s: %w", r.RunID, err)
	}
	return nil
}

// QueueRun: see Dynamo.QueueRun.
func (m *Mem) QueueRun(_ context.Context, run *Run) error {
	if run.RunID == "" {
		return fmt.Errorf("%w: run without runId", ErrInvalidRecord)
	}
	var r Run
	if err := roundTrip(run, &r); err != nil {
		return fmt.Errorf("encode run %s: %w", run.RunID, err)
	}
	r.Outcome = OutcomeQueued
	m.mu.Lock()
	defer m.mu.Unlock()
	if _, ok := m.runs[r.RunID]; ok {
		return fmt.Errorf("queue run %s: %w", r.RunID, ErrRunExists)
	}
	m.runs[r.RunID] = r
	return nil
}
