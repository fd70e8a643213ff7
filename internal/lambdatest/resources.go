package lambdatest

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	ddbtypes "github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	s3types "github.com/aws/aws-sdk-go-v2/service/s3/types"
	"github.com/aws/aws-sdk-go-v2/service/sns"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	sqstypes "github.com/aws/aws-sdk-go-v2/service/sqs/types"
)

// tableSchemaProps are the table properties that shape what the code can
// read and write: they are created as the template says. Capacity and
// encryption settings mean nothing locally; every local table is on
// demand.
var tableSchemaProps = []string{"AttributeDefinitions", "KeySchema", "GlobalSecondaryIndexes", "LocalSecondaryIndexes"}

// makeTable creates the table with the template's key schema and indexes,
// and turns on TTL as the template does.
func (s *Stack) makeTable(ctx context.Context, id string, res Resource) (*physical, error) {
	props, name, err := s.resolved(ctx, id, res, "TableName")
	if err != nil {
		return nil, err
	}
	schema := map[string]any{}
	for _, k := range tableSchemaProps {
		if v, ok := props[k]; ok {
			schema[k] = v
		}
	}
	for _, gsi := range asList(schema["GlobalSecondaryIndexes"]) {
		delete(asMap(gsi), "ProvisionedThroughput")
	}
	in := &dynamodb.CreateTableInput{}
	if err := decodeStrict(schema, in); err != nil {
		return nil, fmt.Errorf("table schema: %w", err)
	}
	in.TableName, in.BillingMode = aws.String(name), ddbtypes.BillingModePayPerRequest

	var arn string
	out, err := s.ddb.CreateTable(ctx, in)
	var inUse *ddbtypes.ResourceInUseException
	switch {
	case errors.As(err, &inUse):
		desc, err := s.ddb.DescribeTable(ctx, &dynamodb.DescribeTableInput{TableName: in.TableName})
		if err != nil {
			return nil, fmt.Errorf("describe table %s: %w", name, err)
		}
		arn = aws.ToString(desc.Table.TableArn)
	case err != nil:
		return nil, fmt.Errorf("create table %s: %w", name, err)
	default:
		arn = aws.ToString(out.TableDescription.TableArn)
		if err := s.enableTTL(ctx, name, asMap(props["TimeToLiveSpecification"])); err != nil {
			return nil, err
		}
	}
	return &physical{ref: name, attrs: map[string]string{"Arn": arn}}, nil
}

func (s *Stack) enableTTL(ctx context.Context, table string, spec map[string]any) error {
	if str(spec["Enabled"]) != "true" {
		return nil
	}
	_, err := s.ddb.UpdateTimeToLive(ctx, &dynamodb.UpdateTimeToLiveInput{
		TableName: aws.String(table),
		TimeToLiveSpecification: &ddbtypes.TimeToLiveSpecification{
			AttributeName: aws.String(str(spec["AttributeName"])),
			Enabled:       aws.Bool(true),
		},
	})
	if err != nil {
		return fmt.Errorf("enable ttl on %s: %w", table, err)
	}
	return nil
}

// makeQueue creates the queue with the template's properties as its
// attributes (CloudFormation's property names are SQS's attribute names;
// a policy such as RedrivePolicy is passed as JSON).
func (s *Stack) makeQueue(ctx context.Context, id string, res Resource) (*physical, error) {
	props, name, err := s.resolved(ctx, id, res, "QueueName")
	if err != nil {
		return nil, err
	}
	if _, named := props["QueueName"]; !named && str(props["FifoQueue"]) == "true" {
		name += ".fifo"
	}
	attrs := map[string]string{}
	for k, v := range props {
		switch k {
		case "QueueName", "Tags":
			continue
		}
		if sv, ok := v.(string); ok {
			attrs[k] = sv
			continue
		}
		raw, err := json.Marshal(v)
		if err != nil {
			return nil, fmt.Errorf("queue attribute %s: %w", k, err)
		}
		attrs[k] = string(raw)
	}
	out, err := s.sqs.CreateQueue(ctx, &sqs.CreateQueueInput{QueueName: aws.String(name), Attributes: attrs})
	if err != nil {
		return nil, fmt.Errorf("create queue %s: %w", name, err)
	}
	url := aws.ToString(out.QueueUrl)
	got, err := s.sqs.GetQueueAttributes(ctx, &sqs.GetQueueAttributesInput{
		QueueUrl:       out.QueueUrl,
		AttributeNames: []sqstypes.QueueAttributeName{sqstypes.QueueAttributeNameQueueArn},
	})
	if err != nil {
		return nil, fmt.Errorf("queue %s arn: %w", name, err)
	}
	arn := got.Attributes[string(sqstypes.QueueAttributeNameQueueArn)]
	return &physical{ref: url, attrs: map[string]string{"Arn": arn, "QueueName": name, "QueueUrl": url}}, nil
}

// makeBucket creates the bucket, named as the template names it or
// <stack>-<LogicalId> in lower case (bucket names allow no capitals).
// Encryption, public access and lifecycle settings mean nothing locally:
// the code asks for its objects' encryption itself.
func (s *Stack) makeBucket(ctx context.Context, id string, res Resource) (*physical, error) {
	if s.s3 == nil {
		return nil, fmt.Errorf("%w: no S3 client for bucket %s", ErrUnsupported, id)
	}
	props, name, err := s.resolved(ctx, id, res, "BucketName")
	if err != nil {
		return nil, err
	}
	name = strings.ToLower(name)
	locked := str(props["ObjectLockEnabled"]) == "true"
	_, err = s.s3.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String(name), ObjectLockEnabledForBucket: aws.Bool(locked)})
	var owned *s3types.BucketAlreadyOwnedByYou
	if err != nil && !errors.As(err, &owned) {
		return nil, fmt.Errorf("create bucket %s: %w", name, err)
	}
	if locked {
		if err := s.lockBucket(ctx, name, asMap(props["ObjectLockConfiguration"])); err != nil {
			return nil, err
		}
	}
	arn := fmt.Sprintf("arn:%s:s3:::%s", s.partition, name)
	return &physical{ref: name, attrs: map[string]string{"Arn": arn, "DomainName": name + ".s3.amazonaws.com"}}, nil
}

// lockBucket sets the bucket's default Object Lock retention as the
// template's ObjectLockConfiguration does; the lock itself is what matters
// here (an archive that could be rewritten must fail its tests).
func (s *Stack) lockBucket(ctx context.Context, name string, conf map[string]any) error {
	ret := asMap(asMap(conf["Rule"])["DefaultRetention"])
	if len(ret) == 0 {
		return nil
	}
	days, err := strconv.Atoi(str(ret["Days"]))
	if err != nil {
		return fmt.Errorf("bucket %s: DefaultRetention Days %q: %w", name, str(ret["Days"]), err)
	}
	_, err = s.s3.PutObjectLockConfiguration(ctx, &s3.PutObjectLockConfigurationInput{
		Bucket: aws.String(name),
		ObjectLockConfiguration: &s3types.ObjectLockConfiguration{
			ObjectLockEnabled: s3types.ObjectLockEnabledEnabled,
			Rule: &s3types.ObjectLockRule{DefaultRetention: &s3types.DefaultRetention{
				Mode: s3types.ObjectLockRetentionMode(str(ret["Mode"])), Days: aws.Int32(int32(days)),
			}},
		},
	})
	if err != nil {
		return fmt.Errorf("lock bucket %s: %w", name, err)
	}
	return nil
}

// resolved resolves a resource's properties, and its physical name (the
// nameProp property, or <stack>-<LogicalId>: physicalName).
func (s *Stack) resolved(ctx context.Context, id string, res Resource, nameProp string) (map[string]any, string, error) {
	v, err := s.r.Resolve(ctx, res.Properties)
	if err != nil {
		return nil, "", err
	}
	props := asMap(v)
	name, err := s.physicalName(ctx, id, props, nameProp)
	if err != nil {
		return nil, "", err
	}
	return props, name, nil
}

// decodeStrict fills dst from v through JSON, refusing fields dst lacks,
// so that a template property the local stack would drop is an error.
func decodeStrict(v, dst any) error {
	raw, err := json.Marshal(v)
	if err != nil {
		return err
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.DisallowUnknownFields()
	return dec.Decode(dst)
}

func asList(v any) []any {
	l, _ := v.([]any)
	return l
}

// makeTopic creates the topic (its Ref is its ARN). Its encryption means
// nothing locally.
func (s *Stack) makeTopic(ctx context.Context, id string, res Resource) (*physical, error) {
	name, err := s.physicalName(ctx, id, res.Properties, "TopicName")
	if err != nil {
		return nil, err
	}
	out, err := s.sns.CreateTopic(ctx, &sns.CreateTopicInput{Name: aws.String(name)})
	if err != nil {
		return nil, fmt.Errorf("create topic %s: %w", name, err)
	}
	arn := aws.ToString(out.TopicArn)
	return &physical{ref: arn, attrs: map[string]string{"TopicArn": arn, "TopicName": name}}, nil
}
