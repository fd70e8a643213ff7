package dynamo

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
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
	names := map[string]string{
		"#pk": "pk", "#planned": "planned", "#n": "accountsPlanned", "#done": "accountsDone",
		"#failed": "accountsFailed", "#outcomes": "outcomes", "#counts": "counts",
	}
	values := map[string]types.AttributeValue{
		":true": &types.AttributeValueMemberBOOL{Value: true}, ":n": num(len(accounts)),
		":zero": num(0), ":empty": &types.AttributeValueMemberM{Value: map[string]types.AttributeValue{}},
	}
	set := "SET #planned = :true, #n = :n, #done = if_not_exists(#done, :zero), #failed = if_not_exists(#failed, :zero), " +
		"#outcomes = if_not_exists(#outcomes, :empty), #counts = if_not_exists(#counts, :empty)"
	if len(accounts) > 0 {
		list := make([]types.AttributeValue, len(accounts))
		for i, a := range accounts {
			list[i] = s(a)
		}
		names["#accounts"] = "accounts"
		values[":accounts"] = &types.AttributeValueMemberL{Value: list}
		set += ", #accounts = :accounts"
	}
	if plan.OrganizationID != "" {
		names["#org"] = "organizationId"
		values[":org"] = s(plan.OrganizationID)
		set += ", #org = :org"
	}
	if plan.Selection != "" {
		names["#sel"] = "selection"
		values[":sel"] = s(plan.Selection)
		set += ", #sel = :sel"
	}
	_, err := d.client.UpdateItem(ctx, &dynamodb.UpdateItemInput{
		TableName:                 d.table(),
		Key:                       itemKey(runPK(runID), skRun),
		UpdateExpression:          aws.String(set),
		ConditionExpression:       aws.String("attribute_exists(#pk)"),
		ExpressionAttributeNames:  names,
		ExpressionAttributeValues: values,
	})
	var ccf *types.ConditionalCheckFailedException
	if errors.As(err, &ccf) {
		return fmt.Errorf("plan organization run %s: %w", runID, domain.ErrNotFound)
	}
	if err != nil {
		return fmt.Errorf("plan organization run %s: %w", runID, err)
	}
	return nil
}

// MarkDispatched records that every planned account was sent (or recorded
// failed), appends notes to the run's errors, and finishes the run if every
// account is already accounted for (an empty plan, or all failed to send).
func (d *Journal) MarkDispatched(ctx context.Context, runID string, notes []string) (*domain.OrgRun, error) {
	names := map[string]string{"#pk": "pk", "#at": "dispatchedAt"}
	values := map[string]types.AttributeValue{":at": s(journal.FormatTime(d.opts.Now()))}
	set := "SET #at = :at"
	if len(notes) > 0 {
		list := make([]types.AttributeValue, len(notes))
		for i, n := range notes {
			list[i] = s(n)
		}
		names["#errors"] = "errors"
		values[":notes"] = &types.AttributeValueMemberL{Value: list}
		values[":none"] = &types.AttributeValueMemberL{Value: []types.AttributeValue{}}
		set += ", #errors = list_append(if_not_exists(#errors, :none), :notes)"
	}
	_, err := d.client.UpdateItem(ctx, &dynamodb.UpdateItemInput{
		TableName:                 d.table(),
		Key:                       itemKey(runPK(runID), skRun),
		UpdateExpression:          aws.String(set),
		ConditionExpression:       aws.String("attribute_exists(#pk)"),
		ExpressionAttributeNames:  names,
		ExpressionAttributeValues: values,
	})
	var ccf *types.ConditionalCheckFailedException
	if errors.As(err, &ccf) {
		return nil, fmt.Errorf("mark organization run %s dispatched: %w", runID, domain.ErrNotFound)
	}
	if err != nil {
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

func num(n int) types.AttributeValue {
	return &types.AttributeValueMemberN{Value: strconv.Itoa(n)}
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
	put := &types.Put{TableName: d.table(), Item: item}
	if prev == nil {
		put.ConditionExpression = aws.String("attribute_not_exists(pk)")
	} else {
		put.ConditionExpression = aws.String("#status = :prev")
		put.ExpressionAttributeNames = map[string]string{"#status": "status"}
		put.ExpressionAttributeValues = map[string]types.AttributeValue{":prev": s(prev.Status)}
	}

	names := map[string]string{"#planned": "planned"}
	values := map[string]types.AttributeValue{":zero": num(0), ":true": &types.AttributeValueMemberBOOL{Value: true}}
	var set []string
	add := func(path []string, n int) {
		if n == 0 {
			return
		}
		var refs []string
		for _, p := range path {
			ref := fmt.Sprintf("#n%d", len(names))
			names[ref] = p
			refs = append(refs, ref)
		}
		ref := strings.Join(refs, ".")
		val := fmt.Sprintf(":v%d", len(values))
		values[val] = num(n)
		set = append(set, fmt.Sprintf("%s = if_not_exists(%s, :zero) + %s", ref, ref, val))
	}
	add([]string{"accountsDone"}, dl.Done)
	add([]string{"accountsFailed"}, dl.Failed)
	for _, k := range slices.Sorted(maps.Keys(dl.Outcomes)) {
		add([]string{"outcomes", k}, dl.Outcomes[k])
	}
	for _, k := range slices.Sorted(maps.Keys(dl.Counts)) {
		add([]string{"counts", k}, dl.Counts[k])
	}
	update := &types.Update{
		TableName:                 d.table(),
		Key:                       itemKey(runPK(orgRunID), skRun),
		UpdateExpression:          aws.String("SET " + strings.Join(set, ", ")),
		ConditionExpression:       aws.String("#planned = :true"),
		ExpressionAttributeNames:  names,
		ExpressionAttributeValues: values,
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
	names := map[string]string{"#outcome": "outcome", "#done": "accountsDone", "#failed": "accountsFailed"}
	values := map[string]types.AttributeValue{
		":outcome": s(string(outcome)), ":was": s(string(run.Outcome)),
		":done": num(run.AccountsDone), ":failed": num(run.AccountsFailed),
	}
	update := "SET #outcome = :outcome"
	if first {
		names["#finished"], names["#duration"] = "finishedAt", "durationMs"
		values[":end"] = s(journal.FormatTime(end))
		values[":duration"] = &types.AttributeValueMemberN{Value: strconv.FormatInt(duration, 10)}
		update += ", #finished = :end, #duration = :duration"
	}
	_, err = d.client.UpdateItem(ctx, &dynamodb.UpdateItemInput{
		TableName:                 d.table(),
		Key:                       itemKey(runPK(runID), skRun),
		UpdateExpression:          aws.String(update),
		ConditionExpression:       aws.String("#outcome = :was AND #done = :done AND #failed = :failed"),
		ExpressionAttributeNames:  names,
		ExpressionAttributeValues: values,
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
