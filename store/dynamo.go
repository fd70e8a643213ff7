package store

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
)

// DynamoAPI is the part of the DynamoDB client the store uses;
// *dynamodb.Client satisfies it.
type DynamoAPI interface {
	GetItem(ctx context.Context, in *dynamodb.GetItemInput, optFns ...func(*dynamodb.Options)) (*dynamodb.GetItemOutput, error)
	PutItem(ctx context.Context, in *dynamodb.PutItemInput, optFns ...func(*dynamodb.Options)) (*dynamodb.PutItemOutput, error)
	UpdateItem(ctx context.Context, in *dynamodb.UpdateItemInput, optFns ...func(*dynamodb.Options)) (*dynamodb.UpdateItemOutput, error)
	DeleteItem(ctx context.Context, in *dynamodb.DeleteItemInput, optFns ...func(*dynamodb.Options)) (*dynamodb.DeleteItemOutput, error)
	Query(ctx context.Context, in *dynamodb.QueryInput, optFns ...func(*dynamodb.Options)) (*dynamodb.QueryOutput, error)
	TransactWriteItems(ctx context.Context, in *dynamodb.TransactWriteItemsInput, optFns ...func(*dynamodb.Options)) (*dynamodb.TransactWriteItemsOutput, error)
	CreateTable(ctx context.Context, in *dynamodb.CreateTableInput, optFns ...func(*dynamodb.Options)) (*dynamodb.CreateTableOutput, error)
	DescribeTable(ctx context.Context, in *dynamodb.DescribeTableInput, optFns ...func(*dynamodb.Options)) (*dynamodb.DescribeTableOutput, error)
	UpdateTimeToLive(ctx context.Context, in *dynamodb.UpdateTimeToLiveInput, optFns ...func(*dynamodb.Options)) (*dynamodb.UpdateTimeToLiveOutput, error)
}

var _ DynamoAPI = (*dynamodb.Client)(nil)

// Dynamo is the audit and policy store on DynamoDB.
type Dynamo struct {
	client DynamoAPI
	opts   Options
	// pageSize limits each Query page; 0 lets DynamoDB decide (1 MB). Tests
	// set it small to exercise paging.
	pageSize int32
}

// NewDynamo returns a store on the two tables named in opts.
func NewDynamo(client DynamoAPI, opts Options) *Dynamo {
	return &Dynamo{client: client, opts: opts.withDefaults()}
}

func s(v string) types.AttributeValue { return &types.AttributeValueMemberS{Value: v} }

func itemKey(pk, sk string) map[string]types.AttributeValue {
	return map[string]types.AttributeValue{"pk": s(pk), "sk": s(sk)}
}

func (d *Dynamo) expiresAt(t time.Time) types.AttributeValue {
	if t.IsZero() {
		t = d.opts.Now()
	}
	return &types.AttributeValueMemberN{Value: strconv.FormatInt(t.Add(d.opts.Retention).Unix(), 10)}
}

func (d *Dynamo) runItem(run *Run) (map[string]types.AttributeValue, error) {
	if run.RunID == "" {
		return nil, fmt.Errorf("%w: run without runId", ErrInvalidRecord)
	}
	item, err := marshalItem(run)
	if err != nil {
		return nil, fmt.Errorf("encode run %s: %w", run.RunID, err)
	}
	item["pk"], item["sk"] = s(runPK(run.RunID)), s(skRun)
	item["expiresAt"] = d.expiresAt(run.StartedAt)
	return item, nil
}

// recordItem is the history item of rec: the record's attributes plus the
// keys of the table and of byRun (runId, sk) and byUser (userKey, at).
func (d *Dynamo) recordItem(rec Record) (map[string]types.AttributeValue, error) {
	item, err := marshalItem(rec)
	if err != nil {
		return nil, fmt.Errorf("encode %s record for %s: %w", rec.Kind, rec.AccessKeyID, err)
	}
	item["pk"], item["sk"] = s(keyPK(rec.AccessKeyID)), s(recSK(rec))
	item["userKey"] = s(userKey(rec.Account, rec.UserName))
	item["expiresAt"] = d.expiresAt(rec.At)
	return item, nil
}

// withAt fills a missing record time from the clock: history records sort by it.
func (d *Dynamo) withAt(rec Record) Record {
	if rec.At.IsZero() {
		rec.At = d.opts.Now()
	}
	rec.At = rec.At.UTC()
	return rec
}

// BeginRun writes the run record with Outcome running. A run triggered by an
// event claims the event id in the same transaction; a second claim returns
// *DuplicateEventError naming the first run and writes nothing.
func (d *Dynamo) BeginRun(ctx context.Context, run *Run) error {
	r := *run
	r.Outcome = OutcomeRunning
	item, err := d.runItem(&r)
	if err != nil {
		return err
	}
	eventID := r.Trigger.EventID
	if eventID == "" {
		_, err := d.client.PutItem(ctx, &dynamodb.PutItemInput{TableName: &d.opts.AuditTable, Item: item})
		if err != nil {
			return fmt.Errorf("begin run %s: %w", r.RunID, err)
		}
		return nil
	}
	claim := itemKey(eventPK(eventID), skEvent)
	claim["runId"] = s(r.RunID)
	claim["at"] = s(formatTime(d.opts.Now()))
	claim["expiresAt"] = d.expiresAt(d.opts.Now())
	_, err = d.client.TransactWriteItems(ctx, &dynamodb.TransactWriteItemsInput{TransactItems: []types.TransactWriteItem{
		{Put: &types.Put{
			TableName:           &d.opts.AuditTable,
			Item:                claim,
			ConditionExpression: aws.String("attribute_not_exists(pk)"),
		}},
		{Put: &types.Put{TableName: &d.opts.AuditTable, Item: item}},
	}})
	if conditionFailed(err, 0) {
		out, gerr := d.client.GetItem(ctx, &dynamodb.GetItemInput{
			TableName:      &d.opts.AuditTable,
			Key:            itemKey(eventPK(eventID), skEvent),
			ConsistentRead: aws.Bool(true),
		})
		if gerr != nil {
			return fmt.Errorf("begin run %s: read claim of event %s: %w", r.RunID, eventID, gerr)
		}
		var first struct {
			RunID string `dynamodbav:"runId"`
		}
		if err := unmarshalItem(out.Item, &first); err != nil {
			return fmt.Errorf("begin run %s: decode claim of event %s: %w", r.RunID, eventID, err)
		}
		return &DuplicateEventError{EventID: eventID, RunID: first.RunID}
	}
	if err != nil {
		return fmt.Errorf("begin run %s for event %s: %w", r.RunID, eventID, err)
	}
	return nil
}

// FinishRun overwrites the run record with run as given.
func (d *Dynamo) FinishRun(ctx context.Context, run *Run) error {
	item, err := d.runItem(run)
	if err != nil {
		return err
	}
	if _, err := d.client.PutItem(ctx, &dynamodb.PutItemInput{TableName: &d.opts.AuditTable, Item: item}); err != nil {
		return fmt.Errorf("finish run %s: %w", run.RunID, err)
	}
	return nil
}

// GetRun returns the run record, or an error wrapping ErrNotFound.
func (d *Dynamo) GetRun(ctx context.Context, runID string) (*Run, error) {
	out, err := d.client.GetItem(ctx, &dynamodb.GetItemInput{
		TableName:      &d.opts.AuditTable,
		Key:            itemKey(runPK(runID), skRun),
		ConsistentRead: aws.Bool(true),
	})
	if err != nil {
		return nil, fmt.Errorf("get run %s: %w", runID, err)
	}
	if out.Item == nil {
		return nil, fmt.Errorf("run %s: %w", runID, ErrNotFound)
	}
	var run Run
	if err := unmarshalItem(out.Item, &run); err != nil {
		return nil, fmt.Errorf("decode run %s: %w", runID, err)
	}
	return &run, nil
}

// RecordDecision puts an immutable decision record.
func (d *Dynamo) RecordDecision(ctx context.Context, rec Record) error {
	rec = d.withAt(rec)
	if err := checkRecord(rec, KindDecision); err != nil {
		return err
	}
	item, err := d.recordItem(rec)
	if err != nil {
		return err
	}
	if _, err := d.client.PutItem(ctx, &dynamodb.PutItemInput{TableName: &d.opts.AuditTable, Item: item}); err != nil {
		return fmt.Errorf("record decision for %s: %w", rec.AccessKeyID, err)
	}
	return nil
}

// WriteIntent sets the key's intent, puts the intent record and the pending
// marker in one transaction. A key with an unsettled intent gets
// ErrIntentPending and nothing is written.
func (d *Dynamo) WriteIntent(ctx context.Context, rec Record) error {
	rec = d.withAt(rec)
	if err := checkRecord(rec, KindIntent); err != nil {
		return err
	}
	hist, err := d.recordItem(rec)
	if err != nil {
		return err
	}
	intent, err := marshalItem(rec)
	if err != nil {
		return fmt.Errorf("encode intent for %s: %w", rec.AccessKeyID, err)
	}
	pending := itemKey(pendingPK(rec.Account), rec.AccessKeyID)
	pending["intent"] = &types.AttributeValueMemberM{Value: intent}
	_, err = d.client.TransactWriteItems(ctx, &dynamodb.TransactWriteItemsInput{TransactItems: []types.TransactWriteItem{
		{Update: &types.Update{
			TableName:           &d.opts.AuditTable,
			Key:                 itemKey(keyPK(rec.AccessKeyID), skState),
			UpdateExpression:    aws.String("SET #acct = :acct, #key = :key, #user = :user, #intent = :intent"),
			ConditionExpression: aws.String("attribute_not_exists(#intent)"),
			ExpressionAttributeNames: map[string]string{
				"#acct": "account", "#key": "accessKeyId", "#user": "userName", "#intent": "intent",
			},
			ExpressionAttributeValues: map[string]types.AttributeValue{
				":acct": s(rec.Account), ":key": s(rec.AccessKeyID), ":user": s(rec.UserName),
				":intent": &types.AttributeValueMemberM{Value: intent},
			},
		}},
		{Put: &types.Put{TableName: &d.opts.AuditTable, Item: hist}},
		{Put: &types.Put{TableName: &d.opts.AuditTable, Item: pending}},
	}})
	if conditionFailed(err, 0) {
		return fmt.Errorf("write intent to %s %s: %w", rec.Action, rec.AccessKeyID, ErrIntentPending)
	}
	if err != nil {
		return fmt.Errorf("write intent to %s %s: %w", rec.Action, rec.AccessKeyID, err)
	}
	return nil
}

// WriteOutcome settles the key's intent of the same run and action: it
// removes the intent, moves the stage, puts the outcome record and deletes
// the pending marker in one transaction. Without such an intent it returns
// ErrNoIntent and writes nothing.
func (d *Dynamo) WriteOutcome(ctx context.Context, rec Record) error {
	rec = d.withAt(rec)
	if err := checkRecord(rec, KindOutcome); err != nil {
		return err
	}
	hist, err := d.recordItem(rec)
	if err != nil {
		return err
	}
	names := map[string]string{"#intent": "intent", "#runId": "runId", "#action": "action"}
	values := map[string]types.AttributeValue{":runId": s(rec.RunID), ":action": s(rec.Action)}
	var st KeyState
	settle(&st, rec)
	var set []string
	if st.Stage != "" {
		names["#stage"] = "stage"
		values[":stage"] = s(st.Stage)
		set = append(set, "#stage = :stage")
	}
	if st.DeactivatedAt != nil {
		names["#deactivatedAt"] = "deactivatedAt"
		values[":deactivatedAt"] = s(formatTime(*st.DeactivatedAt))
		set = append(set, "#deactivatedAt = :deactivatedAt")
	}
	if st.DeletedAt != nil {
		names["#deletedAt"] = "deletedAt"
		values[":deletedAt"] = s(formatTime(*st.DeletedAt))
		set = append(set, "#deletedAt = :deletedAt")
	}
	update := "REMOVE #intent"
	if len(set) > 0 {
		update = "SET " + strings.Join(set, ", ") + " " + update
	}
	_, err = d.client.TransactWriteItems(ctx, &dynamodb.TransactWriteItemsInput{TransactItems: []types.TransactWriteItem{
		{Update: &types.Update{
			TableName:                 &d.opts.AuditTable,
			Key:                       itemKey(keyPK(rec.AccessKeyID), skState),
			UpdateExpression:          aws.String(update),
			ConditionExpression:       aws.String("#intent.#runId = :runId AND #intent.#action = :action"),
			ExpressionAttributeNames:  names,
			ExpressionAttributeValues: values,
		}},
		{Put: &types.Put{TableName: &d.opts.AuditTable, Item: hist}},
		{Delete: &types.Delete{TableName: &d.opts.AuditTable, Key: itemKey(pendingPK(rec.Account), rec.AccessKeyID)}},
	}})
	if conditionFailed(err, 0) {
		return fmt.Errorf("write outcome %s of %s %s in run %s: %w", rec.Result, rec.Action, rec.AccessKeyID, rec.RunID, ErrNoIntent)
	}
	if err != nil {
		return fmt.Errorf("write outcome %s of %s %s: %w", rec.Result, rec.Action, rec.AccessKeyID, err)
	}
	return nil
}

// ObserveInactive records that the key was first seen inactive at at,
// unless its state already has a DeactivatedAt (then it does nothing).
func (d *Dynamo) ObserveInactive(ctx context.Context, account, user, accessKeyID string, at time.Time) error {
	_, err := d.client.UpdateItem(ctx, &dynamodb.UpdateItemInput{
		TableName:           &d.opts.AuditTable,
		Key:                 itemKey(keyPK(accessKeyID), skState),
		UpdateExpression:    aws.String("SET #acct = :acct, #key = :key, #user = :user, #stage = :stage, #dat = :at"),
		ConditionExpression: aws.String("attribute_not_exists(#dat)"),
		ExpressionAttributeNames: map[string]string{
			"#acct": "account", "#key": "accessKeyId", "#user": "userName", "#stage": "stage", "#dat": "deactivatedAt",
		},
		ExpressionAttributeValues: map[string]types.AttributeValue{
			":acct": s(account), ":key": s(accessKeyID), ":user": s(user),
			":stage": s(StageInactive), ":at": s(formatTime(at)),
		},
	})
	var ccf *types.ConditionalCheckFailedException
	if errors.As(err, &ccf) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("observe %s inactive: %w", accessKeyID, err)
	}
	return nil
}

// KeyState returns the key's state, or nil when keysweep has none.
func (d *Dynamo) KeyState(ctx context.Context, accessKeyID string) (*KeyState, error) {
	out, err := d.client.GetItem(ctx, &dynamodb.GetItemInput{
		TableName:      &d.opts.AuditTable,
		Key:            itemKey(keyPK(accessKeyID), skState),
		ConsistentRead: aws.Bool(true),
	})
	if err != nil {
		return nil, fmt.Errorf("get state of %s: %w", accessKeyID, err)
	}
	if out.Item == nil {
		return nil, nil
	}
	var st KeyState
	if err := unmarshalItem(out.Item, &st); err != nil {
		return nil, fmt.Errorf("decode state of %s: %w", accessKeyID, err)
	}
	return &st, nil
}

// PendingIntents returns the account's unsettled intents, oldest first.
func (d *Dynamo) PendingIntents(ctx context.Context, account string) ([]Record, error) {
	var recs []Record
	err := d.query(ctx, &dynamodb.QueryInput{
		TableName:                 &d.opts.AuditTable,
		KeyConditionExpression:    aws.String("pk = :pk"),
		ExpressionAttributeValues: map[string]types.AttributeValue{":pk": s(pendingPK(account))},
		ConsistentRead:            aws.Bool(true),
	}, func(item map[string]types.AttributeValue) error {
		var p struct {
			Intent Record `dynamodbav:"intent"`
		}
		if err := unmarshalItem(item, &p); err != nil {
			return err
		}
		recs = append(recs, p.Intent)
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("pending intents of %s: %w", account, err)
	}
	sortByAt(recs)
	return recs, nil
}

func sortByAt(recs []Record) {
	sort.SliceStable(recs, func(i, j int) bool {
		if !recs[i].At.Equal(recs[j].At) {
			return recs[i].At.Before(recs[j].At)
		}
		return recs[i].AccessKeyID < recs[j].AccessKeyID
	})
}

// ByKey returns the key's history, oldest first.
func (d *Dynamo) ByKey(ctx context.Context, accessKeyID string) ([]Record, error) {
	recs, err := d.records(ctx, &dynamodb.QueryInput{
		TableName:              &d.opts.AuditTable,
		KeyConditionExpression: aws.String("pk = :pk AND begins_with(sk, :rec)"),
		ExpressionAttributeValues: map[string]types.AttributeValue{
			":pk": s(keyPK(accessKeyID)), ":rec": s(recPrefix),
		},
		ConsistentRead: aws.Bool(true),
	})
	if err != nil {
		return nil, fmt.Errorf("records of key %s: %w", accessKeyID, err)
	}
	return recs, nil
}

// ByRun returns the run's records, oldest first; the run item itself (and
// the event claim and resume cursor, which carry a runId too) are left out
// by the key condition on sk.
func (d *Dynamo) ByRun(ctx context.Context, runID string) ([]Record, error) {
	recs, err := d.records(ctx, &dynamodb.QueryInput{
		TableName:              &d.opts.AuditTable,
		IndexName:              aws.String("byRun"),
		KeyConditionExpression: aws.String("runId = :run AND begins_with(sk, :rec)"),
		ExpressionAttributeValues: map[string]types.AttributeValue{
			":run": s(runID), ":rec": s(recPrefix),
		},
	})
	if err != nil {
		return nil, fmt.Errorf("records of run %s: %w", runID, err)
	}
	return recs, nil
}

// ByUser returns the records of the user's keys, oldest first.
func (d *Dynamo) ByUser(ctx context.Context, account, user string) ([]Record, error) {
	recs, err := d.records(ctx, &dynamodb.QueryInput{
		TableName:                 &d.opts.AuditTable,
		IndexName:                 aws.String("byUser"),
		KeyConditionExpression:    aws.String("userKey = :u"),
		ExpressionAttributeValues: map[string]types.AttributeValue{":u": s(userKey(account, user))},
	})
	if err != nil {
		return nil, fmt.Errorf("records of user %s in %s: %w", user, account, err)
	}
	return recs, nil
}

func (d *Dynamo) records(ctx context.Context, in *dynamodb.QueryInput) ([]Record, error) {
	var recs []Record
	err := d.query(ctx, in, func(item map[string]types.AttributeValue) error {
		if sk, ok := item["sk"].(*types.AttributeValueMemberS); !ok || !strings.HasPrefix(sk.Value, recPrefix) {
			return nil
		}
		var rec Record
		if err := unmarshalItem(item, &rec); err != nil {
			return err
		}
		recs = append(recs, rec)
		return nil
	})
	return recs, err
}

// query runs in to the last page.
func (d *Dynamo) query(ctx context.Context, in *dynamodb.QueryInput, each func(map[string]types.AttributeValue) error) error {
	if d.pageSize > 0 {
		in.Limit = aws.Int32(d.pageSize)
	}
	p := dynamodb.NewQueryPaginator(d.client, in)
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			return err
		}
		for _, item := range page.Items {
			if err := each(item); err != nil {
				return err
			}
		}
	}
	return nil
}

// Resume returns where the account's next run starts (after this user), or
// "" when it starts from the beginning.
func (d *Dynamo) Resume(ctx context.Context, account string) (string, error) {
	out, err := d.client.GetItem(ctx, &dynamodb.GetItemInput{
		TableName:      &d.opts.AuditTable,
		Key:            itemKey(resumePK(account), skResume),
		ConsistentRead: aws.Bool(true),
	})
	if err != nil {
		return "", fmt.Errorf("get resume point of %s: %w", account, err)
	}
	var r struct {
		After string `dynamodbav:"after"`
	}
	if err := unmarshalItem(out.Item, &r); err != nil {
		return "", fmt.Errorf("decode resume point of %s: %w", account, err)
	}
	return r.After, nil
}

// SetResume records that run runID handled the account's users up to and
// including after; after "" clears the resume point.
func (d *Dynamo) SetResume(ctx context.Context, account, runID, after string) error {
	key := itemKey(resumePK(account), skResume)
	if after == "" {
		if _, err := d.client.DeleteItem(ctx, &dynamodb.DeleteItemInput{TableName: &d.opts.AuditTable, Key: key}); err != nil {
			return fmt.Errorf("clear resume point of %s: %w", account, err)
		}
		return nil
	}
	key["after"], key["runId"] = s(after), s(runID)
	key["at"] = s(formatTime(d.opts.Now()))
	if _, err := d.client.PutItem(ctx, &dynamodb.PutItemInput{TableName: &d.opts.AuditTable, Item: key}); err != nil {
		return fmt.Errorf("set resume point of %s: %w", account, err)
	}
	return nil
}

// conditionFailed reports whether err is a cancelled transaction whose item
// i failed its condition (and not, say, a conflict or throttling).
func conditionFailed(err error, i int) bool {
	var tce *types.TransactionCanceledException
	if !errors.As(err, &tce) || i >= len(tce.CancellationReasons) {
		return false
	}
	return aws.ToString(tce.CancellationReasons[i].Code) == "ConditionalCheckFailed"
}
