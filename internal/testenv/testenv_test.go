package testenv_test

import (
	"encoding/csv"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	ddbtypes "github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	iamtypes "github.com/aws/aws-sdk-go-v2/service/iam/types"
	"github.com/aws/smithy-go"
	"github.com/google/go-cmp/cmp"

	"github.com/keysweep/keysweep/internal/testenv"
)

// newKey resets the emulator and creates user with one access key.
func newKey(t *testing.T, client *iam.Client, user string) string {
	t.Helper()
	ctx := t.Context()
	if _, err := client.CreateUser(ctx, &iam.CreateUserInput{UserName: aws.String(user)}); err != nil {
		t.Fatalf("CreateUser: %v", err)
	}
	out, err := client.CreateAccessKey(ctx, &iam.CreateAccessKeyInput{UserName: aws.String(user)})
	if err != nil {
		t.Fatalf("CreateAccessKey: %v", err)
	}
	return aws.ToString(out.AccessKey.AccessKeyId)
}

// reportRow returns the credential report's row for user as a column map,
// and the report's GeneratedTime. It generates the report first.
func reportRow(t *testing.T, client *iam.Client, user string) (map[string]string, time.Time) {
	t.Helper()
	ctx := t.Context()
	if _, err := client.GenerateCredentialReport(ctx, &iam.GenerateCredentialReportInput{}); err != nil {
		t.Fatalf("GenerateCredentialReport: %v", err)
	}
	out, err := client.GetCredentialReport(ctx, &iam.GetCredentialReportInput{})
	if err != nil {
		t.Fatalf("GetCredentialReport: %v", err)
	}
	rows, err := csv.NewReader(strings.NewReader(string(out.Content))).ReadAll()
	if err != nil {
		t.Fatalf("parse report: %v", err)
	}
	for _, r := range rows[1:] {
		if r[0] == user {
			row := map[string]string{}
			for i, col := range rows[0] {
				row[col] = r[i]
			}
			return row, aws.ToTime(out.GeneratedTime)
		}
	}
	t.Fatalf("no row for %s in report:\n%s", user, out.Content)
	return nil, time.Time{}
}

func TestIAMThroughSDK(t *testing.T) {
	e := testenv.Emulator(t)
	e.Reset(t)
	client := iam.NewFromConfig(e.Config(t))

	id := newKey(t, client, "alice")
	keys, err := client.ListAccessKeys(t.Context(), &iam.ListAccessKeysInput{UserName: aws.String("alice")})
	if err != nil {
		t.Fatalf("ListAccessKeys: %v", err)
	}
	if len(keys.AccessKeyMetadata) != 1 || aws.ToString(keys.AccessKeyMetadata[0].AccessKeyId) != id {
		t.Fatalf("ListAccessKeys = %+v, want the one key %s", keys.AccessKeyMetadata, id)
	}
	if got := keys.AccessKeyMetadata[0].Status; got != iamtypes.StatusTypeActive {
		t.Errorf("status = %s, want Active", got)
	}
}

func TestSetKeyBackdates(t *testing.T) {
	e := testenv.Emulator(t)
	e.Reset(t)
	client := iam.NewFromConfig(e.Config(t))
	ctx := t.Context()
	id := newKey(t, client, "bob")

	created := time.Date(2025, 1, 2, 3, 4, 5, 0, time.UTC)
	used := time.Date(2025, 6, 7, 8, 9, 10, 0, time.UTC)
	e.SetKey(t, id, created, &used)

	keys, err := client.ListAccessKeys(ctx, &iam.ListAccessKeysInput{UserName: aws.String("bob")})
	if err != nil {
		t.Fatalf("ListAccessKeys: %v", err)
	}
	if got := aws.ToTime(keys.AccessKeyMetadata[0].CreateDate); !got.Equal(created) {
		t.Errorf("CreateDate = %s, want %s", got, created)
	}
	lu, err := client.GetAccessKeyLastUsed(ctx, &iam.GetAccessKeyLastUsedInput{AccessKeyId: aws.String(id)})
	if err != nil {
		t.Fatalf("GetAccessKeyLastUsed: %v", err)
	}
	if got := aws.ToTime(lu.AccessKeyLastUsed.LastUsedDate); !got.Equal(used) {
		t.Errorf("LastUsedDate = %s, want %s", got, used)
	}
	if got := aws.ToString(lu.AccessKeyLastUsed.ServiceName); got != "s3" {
		t.Errorf("ServiceName = %q, want s3", got)
	}

	row, _ := reportRow(t, client, "bob")
	want := map[string]string{
		"access_key_1_active":         "true",
		"access_key_1_last_rotated":   "2025-01-02T03:04:05+00:00",
		"access_key_1_last_used_date": "2025-06-07T08:09:10+00:00",
	}
	got := map[string]string{}
	for k := range want {
		got[k] = row[k]
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("report row (-want +got):\n%s", diff)
	}

	// nil: never used.
	e.SetKey(t, id, time.Time{}, nil)
	lu, err = client.GetAccessKeyLastUsed(ctx, &iam.GetAccessKeyLastUsedInput{AccessKeyId: aws.String(id)})
	if err != nil {
		t.Fatalf("GetAccessKeyLastUsed: %v", err)
	}
	if lu.AccessKeyLastUsed.LastUsedDate != nil {
		t.Errorf("LastUsedDate = %s after clearing, want none", lu.AccessKeyLastUsed.LastUsedDate)
	}
}

func TestReportSnapshotHidesChangesUntilRefresh(t *testing.T) {
	e := testenv.Emulator(t)
	e.Reset(t)
	client := iam.NewFromConfig(e.Config(t))
	id := newKey(t, client, "carol")
	e.ReportMode(t, "snapshot", false)

	before := time.Now().Add(-time.Second)
	first, generated := reportRow(t, client, "carol")
	if generated.Before(before) || generated.After(time.Now().Add(time.Second)) {
		t.Errorf("GeneratedTime = %s, want about now", generated)
	}

	e.SetKey(t, id, time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC), nil)
	second, again := reportRow(t, client, "carol")
	if diff := cmp.Diff(first, second); diff != "" {
		t.Errorf("a fresh snapshot changed before refresh (-first +second):\n%s", diff)
	}
	if !again.Equal(generated) {
		t.Errorf("GeneratedTime moved from %s to %s without a refresh", generated, again)
	}

	e.ReportMode(t, "snapshot", true)
	third, _ := reportRow(t, client, "carol")
	if got, want := third["access_key_1_last_rotated"], "2024-01-01T00:00:00+00:00"; got != want {
		t.Errorf("after refresh last_rotated = %q, want %q", got, want)
	}
}

func TestFaultGivesAPIError(t *testing.T) {
	e := testenv.Emulator(t)
	e.Reset(t)
	client := iam.NewFromConfig(e.Config(t))
	ctx := t.Context()

	e.Fault(t, "IAM.GenerateCredentialReport", "AccessDenied", 403, 1)
	_, err := client.GenerateCredentialReport(ctx, &iam.GenerateCredentialReportInput{})
	var ae smithy.APIError
	if !errors.As(err, &ae) || ae.ErrorCode() != "AccessDenied" {
		t.Fatalf("GenerateCredentialReport error = %v, want APIError AccessDenied", err)
	}
	// count 1: the next call succeeds.
	if _, err := client.GenerateCredentialReport(ctx, &iam.GenerateCredentialReportInput{}); err != nil {
		t.Fatalf("GenerateCredentialReport after the fault ran out: %v", err)
	}

	e.Fault(t, "DynamoDB.PutItem", "InternalServerError", 500, 0)
	db := dynamodb.NewFromConfig(e.Config(t), func(o *dynamodb.Options) { o.RetryMaxAttempts = 1 })
	createTable(t, db)
	_, err = db.PutItem(ctx, &dynamodb.PutItemInput{
		TableName: aws.String("t"),
		Item:      map[string]ddbtypes.AttributeValue{"id": &ddbtypes.AttributeValueMemberS{Value: "x"}},
	})
	var ise *ddbtypes.InternalServerError
	if !errors.As(err, &ise) {
		t.Fatalf("PutItem error = %v, want InternalServerError", err)
	}
	e.ClearFaults(t)
	if _, err := db.PutItem(ctx, &dynamodb.PutItemInput{
		TableName: aws.String("t"),
		Item:      map[string]ddbtypes.AttributeValue{"id": &ddbtypes.AttributeValueMemberS{Value: "x"}},
	}); err != nil {
		t.Fatalf("PutItem after ClearFaults: %v", err)
	}
}

func createTable(t *testing.T, db *dynamodb.Client) {
	t.Helper()
	_, err := db.CreateTable(t.Context(), &dynamodb.CreateTableInput{
		TableName:            aws.String("t"),
		BillingMode:          ddbtypes.BillingModePayPerRequest,
		AttributeDefinitions: []ddbtypes.AttributeDefinition{{AttributeName: aws.String("id"), AttributeType: ddbtypes.ScalarAttributeTypeS}},
		KeySchema:            []ddbtypes.KeySchemaElement{{AttributeName: aws.String("id"), KeyType: ddbtypes.KeyTypeHash}},
	})
	if err != nil {
		t.Fatalf("CreateTable: %v", err)
	}
}

func TestDynamoDB(t *testing.T) {
	e := testenv.Emulator(t)
	e.Reset(t)
	db := dynamodb.NewFromConfig(e.Config(t))
	ctx := t.Context()
	createTable(t, db)
	item := map[string]ddbtypes.AttributeValue{"id": &ddbtypes.AttributeValueMemberS{Value: "p1"}}
	if _, err := db.PutItem(ctx, &dynamodb.PutItemInput{TableName: aws.String("t"), Item: item}); err != nil {
		t.Fatalf("PutItem: %v", err)
	}
	got, err := db.GetItem(ctx, &dynamodb.GetItemInput{TableName: aws.String("t"), Key: item})
	if err != nil {
		t.Fatalf("GetItem: %v", err)
	}
	if v, ok := got.Item["id"].(*ddbtypes.AttributeValueMemberS); !ok || v.Value != "p1" {
		t.Errorf("GetItem = %v, want id p1", got.Item)
	}
}

func TestCalls(t *testing.T) {
	e := testenv.Emulator(t)
	e.Reset(t)
	client := iam.NewFromConfig(e.Config(t))
	for range 3 {
		if _, err := client.ListUsers(t.Context(), &iam.ListUsersInput{}); err != nil {
			t.Fatalf("ListUsers: %v", err)
		}
	}
	if _, err := client.CreateUser(t.Context(), &iam.CreateUserInput{UserName: aws.String("dave")}); err != nil {
		t.Fatalf("CreateUser: %v", err)
	}
	want := map[string]int{"IAM.ListUsers": 3, "IAM.CreateUser": 1}
	if diff := cmp.Diff(want, e.Calls(t)); diff != "" {
		t.Errorf("Calls (-want +got):\n%s", diff)
	}
}
