package dynamo

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/expression"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/keysweep/keysweep/internal/domain"
	"github.com/keysweep/keysweep/internal/journal"
)

const skAccountPrefix = "ACCOUNT#"

func accountSK(account string) string { return skAccountPrefix + account }

// GetOrgRun returns the organization run, or an error wrapping domain.ErrNotFound.
func (d *Journal) GetOrgRun(ctx context.Context, runID string) (*domain.OrgRun, error) {
	out, err := d.client.GetItem(ctx, &dynamodb.GetItemInput{
		TableName:      d.table(),
		Key:            itemKey(runPK(runID), skRun),
		ConsistentRead: aws.Bool(true),
	})
	if err != nil {
		return nil, fmt.Errorf("get organization run %s: %w", runID, err)
	}
	if out.Item == nil {
		return nil, fmt.Errorf("organization run %s: %w", runID, domain.ErrNotFound)
	}
	var run domain.OrgRun
	if err := unmarshalItem(out.Item, &run); err != nil {
		return nil, fmt.Errorf("decode organization run %s: %w", runID, err)
	}
	return &run, nil
}

// PlanOrgRun records the accounts an organization run (begun with BeginRun)
// will sweep. Counters start at zero; a second call replaces the plan but
// keeps the counters.
func (d *Journal) PlanOrgRun(ctx context.Context, runID string, plan domain.OrgPlan) error {
	accounts := slices.Sorted(slices.Values(plan.Accounts))
	empty := &types.AttributeValueMemberM{Value: map[string]types.AttributeValue{}}
	upd := expression.Set(expression.Name("planned"), expression.Value(true)).
		Set(expression.Name("accountsPlanned"), expression.Value(len(accounts)))
	for _, n := range []string{"accountsDone", "accountsFailed"} {
		upd = upd.Set(expression.Name(n), expression.IfNotExists(expression.Name(n), expression.Value(0)))
	}
	for _, n := range []string{"outcomes", "counts"} {
		upd = upd.Set(expression.Name(n), expression.IfNotExists(expression.Name(n), expression.Value(empty)))
	}
	if len(accounts) > 0 {
		upd = upd.Set(expression.Name("accounts"), expression.Value(accounts))
	}
	if plan.OrganizationID != "" {
		upd = upd.Set(expression.Name("organizationId"), expression.Value(plan.OrganizationID))
	}
	if plan.Selection != "" {
		upd = upd.Set(expression.Name("selection"), expression.Value(plan.Selection))
	}
	if err := d.updateRun(ctx, runID, upd); err != nil {
		return fmt.Errorf("plan organization run %s: %w", runID, err)
	}
	return nil
}

// updateRun applies upd to the run item, on condition that it exists
// (domain.ErrNotFound when it does not).
func (d *Journal) updateRun(ctx context.Context, runID string, upd expression.UpdateBuilder) error {
	ex, err := expression.NewBuilder().WithUpdate(upd).WithCondition(expression.AttributeExists(expression.Name("pk"))).Build()
	if err != nil {
		return err
	}
	_, err = d.client.UpdateItem(ctx, &dynamodb.UpdateItemInput{
		TableName: d.table(), Key: itemKey(runPK(runID), skRun),
		UpdateExpression: ex.Update(), ConditionExpression: ex.Condition(),
		ExpressionAttributeNames: ex.Names(), ExpressionAttributeValues: ex.Values(),
	})
	var ccf *types.ConditionalCheckFailedException
	if errors.As(err, &ccf) {
		return domain.ErrNotFound
	}
	return err
}

// MarkDispatched records that every planned account was sent (or recorded
// failed), appends notes to the run's errors, and finishes the run if every
// account is already accounted for (an empty plan, or all failed to send).
func (d *Journal) MarkDispatched(ctx context.Context, runID string, notes []string) (*domain.OrgRun, error) {
	upd := expression.Set(expression.Name("dispatchedAt"), expression.Value(journal.FormatTime(d.opts.Now())))
	if len(notes) > 0 {
		upd = upd.Set(expression.Name("errors"), expression.ListAppend(
			expression.IfNotExists(expression.Name("errors"), expression.Value([]string{})), expression.Value(notes)))
	}
	if err := d.updateRun(ctx, runID, upd); err != nil {
		return nil, fmt.Errorf("mark organization run %s dispatched: %w", runID, err)
	}
	return d.finishIfDone(ctx, runID)
}

// maxRecordRaces bounds how often RecordAccount starts over when another
// writer changed the same account item between its read and its write, or
// DynamoDB cancelled the transaction for a conflict with a concurrent one
// (every worker updates the same run item). The SDK retryer does not retry
// a cancelled transaction: it is not a transport error.
const maxRecordRaces = 10

// RecordAccount records one account's result in the organization run: the
// account item and, in the same transaction, the run's counters and totals.
// It is idempotent: an account already counted is not counted again (a
// failed one may turn done once). The last account to finish finishes the
// organization run. It returns the organization run as it is afterwards.
func (d *Journal) RecordAccount(ctx context.Context, orgRunID string, res domain.AccountResult) (*domain.OrgRun, error) {
	if res.At.IsZero() {
		res.At = d.opts.Now()
	}
	res.At = res.At.UTC()
	if err := journal.CheckAccountResult(res); err != nil {
		return nil, err
	}
	for attempt := range maxRecordRaces {
		prev, err := d.accountResult(ctx, orgRunID, res.Account)
		if err != nil {
			return nil, err
		}
		dl, changes := journal.AccountDelta(prev, res)
		if !changes {
			return d.finishIfDone(ctx, orgRunID)
		}
		err = d.writeAccount(ctx, orgRunID, prev, res, dl)
		if conditionFailed(err, 0) {
			continue // another writer got there first: look again
		}
		if transactionConflict(err) {
			if err := pause(ctx, attempt); err != nil {
				return nil, fmt.Errorf("record account %s in organization run %s: %w", res.Account, orgRunID, err)
			}
			continue
		}
		if conditionFailed(err, 1) {
			return nil, fmt.Errorf("record account %s in organization run %s: run not found or not planned: %w", res.Account, orgRunID, domain.ErrNotFound)
		}
		if err != nil {
			return nil, fmt.Errorf("record account %s in organization run %s: %w", res.Account, orgRunID, err)
		}
		return d.finishIfDone(ctx, orgRunID)
	}
	return nil, fmt.Errorf("record account %s in organization run %s: item kept changing", res.Account, orgRunID)
}

func (d *Journal) accountResult(ctx context.Context, orgRunID, account string) (*domain.AccountResult, error) {
	out, err := d.client.GetItem(ctx, &dynamodb.GetItemInput{
		TableName:      d.table(),
		Key:            itemKey(runPK(orgRunID), accountSK(account)),
		ConsistentRead: aws.Bool(true),
	})
	if err != nil {
		return nil, fmt.Errorf("get account %s of organization run %s: %w", account, orgRunID, err)
	}
	if out.Item == nil {
		return nil, nil
	}
	var res domain.AccountResult
	if err := unmarshalItem(out.Item, &res); err != nil {
		return nil, fmt.Errorf("decode account %s of organization run %s: %w", account, orgRunID, err)
	}
	return &res, nil
}

// writeAccount puts the account item, on condition that it is still prev,
// and applies dl to the run item, on condition that it is planned.
func (d *Journal) writeAccount(ctx context.Context, orgRunID string, prev *domain.AccountResult, res domain.AccountResult, dl journal.Delta) error {
	item, err := marshalItem(res)
	if err != nil {
		return fmt.Errorf("encode account %s: %w", res.Account, err)
	}
	item["pk"], item["sk"] = s(runPK(orgRunID)), s(accountSK(res.Account))
	item["expiresAt"] = d.expiresAt(res.At)
	cond := expression.AttributeNotExists(expression.Name("pk"))
	if prev != nil {
		cond = expression.Name("status").Equal(expression.Value(prev.Status))
	}
	pex, err := expression.NewBuilder().WithCondition(cond).Build()
	if err != nil {
		return err
	}
	put := &types.Put{TableName: d.table(), Item: item, ConditionExpression: pex.Condition(),
		ExpressionAttributeNames: pex.Names(), ExpressionAttributeValues: pex.Values()}

	var upd expression.UpdateBuilder
	add := func(path string, n int) {
		if n != 0 {
			name := expression.Name(path)
			upd = upd.Set(name, expression.Plus(expression.IfNotExists(name, expression.Value(0)), expression.Value(n)))
		}
	}
	add("accountsDone", dl.Done)
	add("accountsFailed", dl.Failed)
	for _, k := range slices.Sorted(maps.Keys(dl.Outcomes)) {
		add("outcomes."+k, dl.Outcomes[k])
	}
	for _, k := range slices.Sorted(maps.Keys(dl.Counts)) {
		add("counts."+k, dl.Counts[k])
	}
	uex, err := expression.NewBuilder().WithUpdate(upd).WithCondition(expression.Name("planned").Equal(expression.Value(true))).Build()
	if err != nil {
		return err
	}
	update := &types.Update{
		TableName: d.table(), Key: itemKey(runPK(orgRunID), skRun),
		UpdateExpression: uex.Update(), ConditionExpression: uex.Condition(),
		ExpressionAttributeNames: uex.Names(), ExpressionAttributeValues: uex.Values(),
	}
	_, err = d.client.TransactWriteItems(ctx, &dynamodb.TransactWriteItemsInput{TransactItems: []types.TransactWriteItem{
		{Put: put},
		{Update: update},
	}})
	return err
}

// finishIfDone sets the organization run's outcome, finishedAt and
// durationMs once every planned account is accounted for. The condition on
// the counters it read makes exactly one writer finish the run.
func (d *Journal) finishIfDone(ctx context.Context, runID string) (*domain.OrgRun, error) {
	run, err := d.GetOrgRun(ctx, runID)
	if err != nil {
		return nil, err
	}
	outcome, first, ok := journal.NextOrgOutcome(run)
	if !ok {
		return run, nil
	}
	end := d.opts.Now().UTC()
	duration := end.Sub(run.StartedAt).Milliseconds()
	upd := expression.Set(expression.Name("outcome"), expression.Value(string(outcome)))
	if first {
		upd = upd.Set(expression.Name("finishedAt"), expression.Value(journal.FormatTime(end))).
			Set(expression.Name("durationMs"), expression.Value(duration))
	}
	cond := expression.Name("outcome").Equal(expression.Value(string(run.Outcome))).
		And(expression.Name("accountsDone").Equal(expression.Value(run.AccountsDone))).
		And(expression.Name("accountsFailed").Equal(expression.Value(run.AccountsFailed)))
	ex, err := expression.NewBuilder().WithUpdate(upd).WithCondition(cond).Build()
	if err != nil {
		return nil, fmt.Errorf("finish organization run %s: %w", runID, err)
	}
	_, err = d.client.UpdateItem(ctx, &dynamodb.UpdateItemInput{
		TableName: d.table(), Key: itemKey(runPK(runID), skRun),
		UpdateExpression: ex.Update(), ConditionExpression: ex.Condition(),
		ExpressionAttributeNames: ex.Names(), ExpressionAttributeValues: ex.Values(),
	})
	var ccf *types.ConditionalCheckFailedException
	if errors.As(err, &ccf) {
		// Another writer finished it, or counted one more account.
		return d.GetOrgRun(ctx, runID)
	}
	if err != nil {
		return nil, fmt.Errorf("finish organization run %s: %w", runID, err)
	}
	run.Outcome = outcome
	if first {
		run.FinishedAt, run.DurationMs = &end, duration
	}
	return run, nil
}

// AccountResults returns the organization run's account items, by account.
func (d *Journal) AccountResults(ctx context.Context, orgRunID string) ([]domain.AccountResult, error) {
	var out []domain.AccountResult
	err := d.query(ctx, &dynamodb.QueryInput{
		TableName:              d.table(),
		KeyConditionExpression: aws.String("pk = :pk AND begins_with(sk, :acct)"),
		ExpressionAttributeValues: map[string]types.AttributeValue{
			":pk": s(runPK(orgRunID)), ":acct": s(skAccountPrefix),
		},
		ConsistentRead: aws.Bool(true),
	}, func(item map[string]types.AttributeValue) error {
		var res domain.AccountResult
		if err := unmarshalItem(item, &res); err != nil {
			return err
		}
		out = append(out, res)
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("accounts of organization run %s: %w", orgRunID, err)
	}
	return out, nil
}
