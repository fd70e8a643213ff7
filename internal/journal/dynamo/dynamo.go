// Package dynamo is keysweep's journal on DynamoDB: the audit table (runs,
// history records with their hash chain, keysweep's state of each key,
// write-ahead intents, event claims, resume cursors, organization runs)
// and the policy table. docs/AUDIT.md describes every item.
package dynamo

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/attributevalue"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/keysweep/keysweep/internal/journal"
)

// API is the part of the DynamoDB client the journal uses;
// *dynamodb.Client satisfies it.
type API interface {
	GetItem(ctx context.Context, in *dynamodb.GetItemInput, optFns ...func(*dynamodb.Options)) (*dynamodb.GetItemOutput, error)
	PutItem(ctx context.Context, in *dynamodb.PutItemInput, optFns ...func(*dynamodb.Options)) (*dynamodb.PutItemOutput, error)
	UpdateItem(ctx context.Context, in *dynamodb.UpdateItemInput, optFns ...func(*dynamodb.Options)) (*dynamodb.UpdateItemOutput, error)
	DeleteItem(ctx context.Context, in *dynamodb.DeleteItemInput, optFns ...func(*dynamodb.Options)) (*dynamodb.DeleteItemOutput, error)
	Query(ctx context.Context, in *dynamodb.QueryInput, optFns ...func(*dynamodb.Options)) (*dynamodb.QueryOutput, error)
	Scan(ctx context.Context, in *dynamodb.ScanInput, optFns ...func(*dynamodb.Options)) (*dynamodb.ScanOutput, error)
	TransactWriteItems(ctx context.Context, in *dynamodb.TransactWriteItemsInput, optFns ...func(*dynamodb.Options)) (*dynamodb.TransactWriteItemsOutput, error)
	CreateTable(ctx context.Context, in *dynamodb.CreateTableInput, optFns ...func(*dynamodb.Options)) (*dynamodb.CreateTableOutput, error)
	DescribeTable(ctx context.Context, in *dynamodb.DescribeTableInput, optFns ...func(*dynamodb.Options)) (*dynamodb.DescribeTableOutput, error)
	UpdateTimeToLive(ctx context.Context, in *dynamodb.UpdateTimeToLiveInput, optFns ...func(*dynamodb.Options)) (*dynamodb.UpdateTimeToLiveOutput, error)
}

var _ API = (*dynamodb.Client)(nil)

// Options configures a Journal.
type Options struct {
	AuditTable  string
	PolicyTable string
	// Retention is how long history records and runs are kept;
	// journal.DefaultRetention when zero.
	Retention time.Duration
	// Now is the clock for updatedAt, event claims and records without
	// At; time.Now when nil.
	Now func() time.Time
}

func (o Options) withDefaults() Options {
	if o.Retention <= 0 {
		o.Retention = journal.DefaultRetention
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	return o
}

// Journal is the audit and policy store on DynamoDB.
type Journal struct {
	client API
	opts   Options
	// pageSize limits each Query page; 0 lets DynamoDB decide (1 MB).
	// Tests set it small to exercise paging.
	pageSize int32
}

// New returns a journal on the two tables named in opts.
func New(client API, opts Options) *Journal {
	return &Journal{client: client, opts: opts.withDefaults()}
}

// SetPageSize limits each Query page (tests exercise paging with it).
func (d *Journal) SetPageSize(n int32) { d.pageSize = n }

// Item keys of the audit table. docs/AUDIT.md describes every item type.
const (
	skRun     = "RUN"
	skState   = "STATE"
	skEvent   = "EVENT"
	skResume  = "RESUME"
	recPrefix = "REC#"
)

func runPK(runID string) string           { return "RUN#" + runID }
func keyPK(id string) string              { return "KEY#" + id }
func statePK(id string) string            { return "STATE#" + id }
func eventPK(eventID string) string       { return "EVENT#" + eventID }
func pendingPK(scope string) string       { return "PENDING#" + scope }
func resumePK(scope string) string        { return "RESUME#" + scope }
func runningPK(scope string) string       { return "RUNNING#" + scope }
func lastRunPK(scope string) string       { return "LASTRUN#" + scope }
func userKey(account, user string) string { return account + "#" + user }

func s(v string) types.AttributeValue { return &types.AttributeValueMemberS{Value: v} }

func n(v int64) types.AttributeValue {
	return &types.AttributeValueMemberN{Value: strconv.FormatInt(v, 10)}
}

func itemKey(pk, sk string) map[string]types.AttributeValue {
	return map[string]types.AttributeValue{"pk": s(pk), "sk": s(sk)}
}

func (d *Journal) expiresAt(t time.Time) types.AttributeValue {
	if t.IsZero() {
		t = d.opts.Now()
	}
	return n(t.Add(d.opts.Retention).Unix())
}

func (d *Journal) table() *string { return &d.opts.AuditTable }

func parseTime(s string) (time.Time, error) {
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		return time.Time{}, err
	}
	return t.UTC(), nil
}

func encodeTime(t time.Time) (types.AttributeValue, error) {
	if t.IsZero() {
		// Dropped by stripNull: a zero time is not stored at all.
		return &types.AttributeValueMemberNULL{Value: true}, nil
	}
	return s(journal.FormatTime(t)), nil
}

// marshalItem encodes v with times in the fixed-width format and without
// NULL attributes (zero times, nil maps and slices).
func marshalItem(v any) (map[string]types.AttributeValue, error) {
	m, err := attributevalue.MarshalMapWithOptions(v, func(o *attributevalue.EncoderOptions) {
		o.EncodeTime = encodeTime
	})
	if err != nil {
		return nil, err
	}
	stripNull(m)
	return m, nil
}

func stripNull(m map[string]types.AttributeValue) {
	for k, v := range m {
		switch v := v.(type) {
		case *types.AttributeValueMemberNULL:
			delete(m, k)
		case *types.AttributeValueMemberM:
			stripNull(v.Value)
		case *types.AttributeValueMemberL:
			for _, e := range v.Value {
				if em, ok := e.(*types.AttributeValueMemberM); ok {
					stripNull(em.Value)
				}
			}
		}
	}
}

func unmarshalItem(m map[string]types.AttributeValue, out any) error {
	return attributevalue.UnmarshalMapWithOptions(m, out, func(o *attributevalue.DecoderOptions) {
		o.DecodeTime.S = parseTime
	})
}

// get reads one item consistently; nil when absent.
func (d *Journal) get(ctx context.Context, table *string, key map[string]types.AttributeValue) (map[string]types.AttributeValue, error) {
	out, err := d.client.GetItem(ctx, &dynamodb.GetItemInput{TableName: table, Key: key, ConsistentRead: aws.Bool(true)})
	if err != nil {
		return nil, err
	}
	return out.Item, nil
}

// stringAttr reads one string attribute of the item at key, consistently;
// "" when the item or the attribute is absent.
func (d *Journal) stringAttr(ctx context.Context, key map[string]types.AttributeValue, attr string) (string, error) {
	item, err := d.get(ctx, d.table(), key)
	if err != nil {
		return "", err
	}
	var v string
	if av, ok := item[attr]; ok {
		if err := attributevalue.Unmarshal(av, &v); err != nil {
			return "", fmt.Errorf("decode %s: %w", attr, err)
		}
	}
	return v, nil
}

// query runs in to the last page.
func (d *Journal) query(ctx context.Context, in *dynamodb.QueryInput, each func(map[string]types.AttributeValue) error) error {
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

// partition reads every item of partition pk, consistently, to the last
// page.
func (d *Journal) partition(ctx context.Context, pk string, each func(map[string]types.AttributeValue) error) error {
	return d.query(ctx, &dynamodb.QueryInput{
		TableName:                 d.table(),
		KeyConditionExpression:    aws.String("pk = :pk"),
		ExpressionAttributeValues: map[string]types.AttributeValue{":pk": s(pk)},
		ConsistentRead:            aws.Bool(true),
	}, each)
}

// conditionFailed reports whether err is a cancelled transaction whose
// item i failed its condition (and not, say, a conflict or throttling).
func conditionFailed(err error, i int) bool {
	var tce *types.TransactionCanceledException
	if !errors.As(err, &tce) || i >= len(tce.CancellationReasons) {
		return false
	}
	return aws.ToString(tce.CancellationReasons[i].Code) == "ConditionalCheckFailed"
}

// transactionConflict reports a transaction cancelled because another
// transaction was touching one of its items (or throttling): a retry can
// succeed.
func transactionConflict(err error) bool {
	var tce *types.TransactionCanceledException
	if errors.As(err, &tce) {
		for _, r := range tce.CancellationReasons {
			switch aws.ToString(r.Code) {
			case "TransactionConflict", "ThrottlingError", "ProvisionedThroughputExceeded":
				return true
			}
		}
		return false
	}
	var tip *types.TransactionInProgressException
	var tcf *types.TransactionConflictException
	return errors.As(err, &tip) || errors.As(err, &tcf)
}

func fmtErr(what string, err error) error { return fmt.Errorf("%s: %w", what, err) }
