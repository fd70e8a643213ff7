package dynamo

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/smithy-go"
)

// tableWait bounds how long CreateTables waits for a table to become ACTIVE.
const tableWait = 5 * time.Minute

// CreateTables creates the policy and audit tables as the SAM template does
// (on demand, TTL on expiresAt for the audit table) and waits until they
// are ACTIVE. Tables that already exist are left as they are, so it is safe
// to call on every start of a demo or test.
func CreateTables(ctx context.Context, client API, policyTable, auditTable string) error {
	str := types.ScalarAttributeTypeS
	policyIn := &dynamodb.CreateTableInput{
		TableName:            aws.String(policyTable),
		BillingMode:          types.BillingModePayPerRequest,
		AttributeDefinitions: []types.AttributeDefinition{{AttributeName: aws.String("id"), AttributeType: str}},
		KeySchema:            []types.KeySchemaElement{{AttributeName: aws.String("id"), KeyType: types.KeyTypeHash}},
	}
	if err := createTable(ctx, client, policyIn); err != nil {
		return err
	}
	gsi := func(name, hash, rng string) types.GlobalSecondaryIndex {
		return types.GlobalSecondaryIndex{
			IndexName: aws.String(name),
			KeySchema: []types.KeySchemaElement{
				{AttributeName: aws.String(hash), KeyType: types.KeyTypeHash},
				{AttributeName: aws.String(rng), KeyType: types.KeyTypeRange},
			},
			Projection: &types.Projection{ProjectionType: types.ProjectionTypeAll},
		}
	}
	auditIn := &dynamodb.CreateTableInput{
		TableName:   aws.String(auditTable),
		BillingMode: types.BillingModePayPerRequest,
		AttributeDefinitions: []types.AttributeDefinition{
			{AttributeName: aws.String("pk"), AttributeType: str},
			{AttributeName: aws.String("sk"), AttributeType: str},
			{AttributeName: aws.String("runId"), AttributeType: str},
			{AttributeName: aws.String("userKey"), AttributeType: str},
			{AttributeName: aws.String("at"), AttributeType: str},
		},
		KeySchema: []types.KeySchemaElement{
			{AttributeName: aws.String("pk"), KeyType: types.KeyTypeHash},
			{AttributeName: aws.String("sk"), KeyType: types.KeyTypeRange},
		},
		GlobalSecondaryIndexes: []types.GlobalSecondaryIndex{
			gsi("byRun", "runId", "sk"),
			gsi("byUser", "userKey", "at"),
		},
	}
	if err := createTable(ctx, client, auditIn); err != nil {
		return err
	}
	_, err := client.UpdateTimeToLive(ctx, &dynamodb.UpdateTimeToLiveInput{
		TableName: aws.String(auditTable),
		TimeToLiveSpecification: &types.TimeToLiveSpecification{
			AttributeName: aws.String("expiresAt"),
			Enabled:       aws.Bool(true),
		},
	})
	// DynamoDB refuses to enable TTL that is already enabled with a
	// ValidationException; that is the idempotent case. DescribeTimeToLive
	// would tell for sure but is not worth widening DynamoAPI for.
	var ae smithy.APIError
	if err != nil && !(errors.As(err, &ae) && ae.ErrorCode() == "ValidationException") {
		return fmt.Errorf("enable ttl on %s: %w", auditTable, err)
	}
	return nil
}

func createTable(ctx context.Context, client API, in *dynamodb.CreateTableInput) error {
	name := aws.ToString(in.TableName)
	_, err := client.CreateTable(ctx, in)
	var inUse *types.ResourceInUseException
	if err != nil && !errors.As(err, &inUse) {
		return fmt.Errorf("create table %s: %w", name, err)
	}
	w := dynamodb.NewTableExistsWaiter(client, func(o *dynamodb.TableExistsWaiterOptions) {
		o.MinDelay = 200 * time.Millisecond
		o.MaxDelay = 5 * time.Second
	})
	if err := w.Wait(ctx, &dynamodb.DescribeTableInput{TableName: in.TableName}, tableWait); err != nil {
		return fmt.Errorf("wait for table %s: %w", name, err)
	}
	return nil
}
