package dynamo

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/attributevalue"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/keysweep/keysweep/internal/domain"
	"github.com/keysweep/keysweep/internal/testenv"
)

func init() { impls = append(impls, impl{name: "dynamo", new: newDynamoImpl}) }

var tableSeq atomic.Int64

// newDynamoTables creates a fresh pair of tables on the emulator, named
// uniquely so tests never see each other's items.
func newDynamoTables(t *testing.T) (*dynamodb.Client, Options) {
	t.Helper()
	emu := testenv.Emulator(t)
	client := dynamodb.NewFromConfig(emu.Config(t))
	n := tableSeq.Add(1)
	opts := Options{
		AuditTable:  fmt.Sprintf("audit-%d-%d", time.Now().UnixNano(), n),
		PolicyTable: fmt.Sprintf("policy-%d-%d", time.Now().UnixNano(), n),
	}
	if err := CreateTables(t.Context(), client, opts.PolicyTable, opts.AuditTable); err != nil {
		t.Fatalf("create tables: %v", err)
	}
	return client, opts
}

func newDynamoImpl(t *testing.T, now func() time.Time) (contract, rawPolicyFunc) {
	client, opts := newDynamoTables(t)
	opts.Now = now
	d := New(client, opts)
	d.SetPageSize(2) // every query of more than two items pages
	return d, func(t *testing.T, id string, item map[string]any) {
		t.Helper()
		av, err := attributevalue.MarshalMap(item)
		if err != nil {
			t.Fatalf("encode raw policy: %v", err)
		}
		av["id"] = s(id)
		if _, err := client.PutItem(context.Background(), &dynamodb.PutItemInput{TableName: &opts.PolicyTable, Item: av}); err != nil {
			t.Fatalf("put raw policy: %v", err)
		}
	}
}

func rawItem(t *testing.T, client *dynamodb.Client, table, pk, sk string) map[string]types.AttributeValue {
	t.Helper()
	out, err := client.GetItem(t.Context(), &dynamodb.GetItemInput{TableName: &table, Key: itemKey(pk, sk)})
	if err != nil {
		t.Fatalf("get %s %s: %v", pk, sk, err)
	}
	return out.Item
}

func number(t *testing.T, item map[string]types.AttributeValue, name string) int64 {
	t.Helper()
	n, ok := item[name].(*types.AttributeValueMemberN)
	if !ok {
		t.Fatalf("%s = %#v, want a number", name, item[name])
	}
	v, err := strconv.ParseInt(n.Value, 10, 64)
	if err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	return v
}

func str(t *testing.T, item map[string]types.AttributeValue, name string) string {
	t.Helper()
	v, ok := item[name].(*types.AttributeValueMemberS)
	if !ok {
		t.Fatalf("%s = %#v, want a string", name, item[name])
	}
	return v.Value
}

// TestDynamoItems checks what lands in the table beyond what the contract
// shows: keys, fixed-width times, expiresAt from the retention, no empty
// attributes.
func TestDynamoItems(t *testing.T) {
	ctx := t.Context()
	client, opts := newDynamoTables(t)
	opts.Retention = 30 * 24 * time.Hour
	d := New(client, opts)

	r := intent("r1", "AKIA1", domain.ActionDeactivate, 0)
	must(t, d.WriteIntent(ctx, r))
	must(t, d.BeginRun(ctx, &domain.Run{RunID: "r1", Account: "111122223333", StartedAt: at(-1)}))

	item := rawItem(t, client, opts.AuditTable, "KEY#AKIA1", "REC#2025-03-04T04:06:07.123456789Z#r1#intent")
	if item == nil {
		t.Fatal("intent history record not found under its fixed-width sort key")
	}
	if got, want := number(t, item, "expiresAt"), at(0).Add(30*24*time.Hour).Unix(); got != want {
		t.Errorf("record expiresAt = %d, want %d", got, want)
	}
	for name, want := range map[string]string{
		"at": "2025-03-04T04:06:07.123456789Z", "userKey": "111122223333#alice", "runId": "r1",
	} {
		if got := str(t, item, name); got != want {
			t.Errorf("record %s = %q, want %q", name, got, want)
		}
	}

	run := rawItem(t, client, opts.AuditTable, "RUN#r1", skRun)
	if got, want := number(t, run, "expiresAt"), at(-1).Add(30*24*time.Hour).Unix(); got != want {
		t.Errorf("run expiresAt = %d, want %d", got, want)
	}
	for _, name := range []string{"finishedAt", "counts", "users", "errors"} {
		if v, ok := run[name]; ok {
			t.Errorf("run has %s = %#v, want it left out", name, v)
		}
	}

	ttl, err := client.DescribeTimeToLive(ctx, &dynamodb.DescribeTimeToLiveInput{TableName: &opts.AuditTable})
	if err != nil {
		t.Fatalf("describe ttl: %v", err)
	}
	if got := aws.ToString(ttl.TimeToLiveDescription.AttributeName); got != "expiresAt" ||
		ttl.TimeToLiveDescription.TimeToLiveStatus != types.TimeToLiveStatusEnabled {
		t.Errorf("ttl = %s on %q, want ENABLED on expiresAt", ttl.TimeToLiveDescription.TimeToLiveStatus, got)
	}

	// A second CreateTables on existing tables is fine.
	must(t, CreateTables(ctx, client, opts.PolicyTable, opts.AuditTable))
}

// TestDynamoFaults checks that errors other than a failed condition are not
// mistaken for one.
func TestDynamoFaults(t *testing.T) {
	emu := testenv.Emulator(t)
	ctx := t.Context()
	client, opts := newDynamoTables(t)
	d := New(client, opts)

	emu.Fault(t, "DynamoDB.TransactWriteItems", "InternalServerError", 500, 10)
	err := d.WriteIntent(ctx, intent("r1", "AKIA1", domain.ActionDeactivate, 0))
	emu.ClearFaults(t)
	if err == nil || errors.Is(err, domain.ErrIntentPending) {
		t.Fatalf("WriteIntent under fault = %v, want the service error", err)
	}
	emu.Fault(t, "DynamoDB.TransactWriteItems", "ProvisionedThroughputExceededException", 400, 10)
	err = d.RecordDecision(ctx, rec(domain.KindDecision, "r1", "AKIA1", 0))
	emu.ClearFaults(t)
	if err == nil {
		t.Fatal("RecordDecision under fault = nil, want the service error")
	}
}

// countingAPI counts Query calls, to show the store follows LastEvaluatedKey.
type countingAPI struct {
	API
	queries int
}

func (c *countingAPI) Query(ctx context.Context, in *dynamodb.QueryInput, optFns ...func(*dynamodb.Options)) (*dynamodb.QueryOutput, error) {
	c.queries++
	return c.API.Query(ctx, in, optFns...)
}

func TestDynamoPages(t *testing.T) {
	ctx := t.Context()
	client, opts := newDynamoTables(t)
	api := &countingAPI{API: client}
	d := New(api, opts)
	d.SetPageSize(2)
	var want []domain.Record
	for i := range 5 {
		r := rec(domain.KindDecision, "r1", "AKIA1", i)
		must(t, d.RecordDecision(ctx, r))
		want = append(want, stored(r))
	}
	for name, q := range map[string]func() ([]domain.Record, error){
		"by key":  func() ([]domain.Record, error) { return d.ByKey(ctx, "AKIA1") },
		"by run":  func() ([]domain.Record, error) { return d.ByRun(ctx, "r1") },
		"by user": func() ([]domain.Record, error) { return d.ByUser(ctx, "111122223333", "alice") },
	} {
		api.queries = 0
		got, err := q()
		must(t, err)
		diff(t, name, want, got)
		if api.queries < 3 {
			t.Errorf("%s: %d queries for 5 items in pages of 2, want at least 3", name, api.queries)
		}
	}
}
