package lambdatest

import (
	"context"
	"fmt"
	"maps"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	ddbtypes "github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/sns"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	"github.com/aws/aws-sdk-go-v2/service/sts"
	"github.com/google/go-cmp/cmp"

	"github.com/keysweep/keysweep/internal/testenv"
)

// fakeAWS records what the stack creates, offline.
type fakeAWS struct {
	tables  map[string]*dynamodb.CreateTableInput
	ttl     map[string]string
	queues  map[string]map[string]string
	buckets []string
	topics  []string
	// locks are the buckets' default retentions, "MODE days".
	locks map[string]string
}

var (
	_ dynamoAPI = (*fakeAWS)(nil)
	_ sqsAPI    = (*fakeAWS)(nil)
	_ snsAPI    = (*fakeAWS)(nil)
	_ stsAPI    = (*fakeAWS)(nil)
	_ s3API     = (*fakeAWS)(nil)
)

func newFakeAWS() *fakeAWS {
	return &fakeAWS{tables: map[string]*dynamodb.CreateTableInput{}, ttl: map[string]string{}, queues: map[string]map[string]string{}, locks: map[string]string{}}
}

func (f *fakeAWS) CreateTopic(_ context.Context, in *sns.CreateTopicInput, _ ...func(*sns.Options)) (*sns.CreateTopicOutput, error) {
	f.topics = append(f.topics, aws.ToString(in.Name))
	return &sns.CreateTopicOutput{TopicArn: aws.String("arn:aws:sns:us-east-1:123456789012:" + aws.ToString(in.Name))}, nil
}

func (f *fakeAWS) CreateTable(_ context.Context, in *dynamodb.CreateTableInput, _ ...func(*dynamodb.Options)) (*dynamodb.CreateTableOutput, error) {
	name := aws.ToString(in.TableName)
	f.tables[name] = in
	return &dynamodb.CreateTableOutput{TableDescription: &ddbtypes.TableDescription{TableArn: aws.String("arn:aws:dynamodb:us-east-1:123456789012:table/" + name)}}, nil
}

func (f *fakeAWS) DescribeTable(context.Context, *dynamodb.DescribeTableInput, ...func(*dynamodb.Options)) (*dynamodb.DescribeTableOutput, error) {
	panic("not called: every table is new")
}

func (f *fakeAWS) UpdateTimeToLive(_ context.Context, in *dynamodb.UpdateTimeToLiveInput, _ ...func(*dynamodb.Options)) (*dynamodb.UpdateTimeToLiveOutput, error) {
	f.ttl[aws.ToString(in.TableName)] = aws.ToString(in.TimeToLiveSpecification.AttributeName)
	return &dynamodb.UpdateTimeToLiveOutput{}, nil
}

func (f *fakeAWS) CreateQueue(_ context.Context, in *sqs.CreateQueueInput, _ ...func(*sqs.Options)) (*sqs.CreateQueueOutput, error) {
	name := aws.ToString(in.QueueName)
	f.queues[name] = in.Attributes
	return &sqs.CreateQueueOutput{QueueUrl: aws.String("http://sqs.local/123456789012/" + name)}, nil
}

func (f *fakeAWS) GetQueueAttributes(_ context.Context, in *sqs.GetQueueAttributesInput, _ ...func(*sqs.Options)) (*sqs.GetQueueAttributesOutput, error) {
	name := aws.ToString(in.QueueUrl)[strings.LastIndex(aws.ToString(in.QueueUrl), "/")+1:]
	return &sqs.GetQueueAttributesOutput{Attributes: map[string]string{"QueueArn": "arn:aws:sqs:us-east-1:123456789012:" + name}}, nil
}

func (f *fakeAWS) CreateBucket(_ context.Context, in *s3.CreateBucketInput, _ ...func(*s3.Options)) (*s3.CreateBucketOutput, error) {
	f.buckets = append(f.buckets, aws.ToString(in.Bucket))
	return &s3.CreateBucketOutput{}, nil
}

func (f *fakeAWS) PutObjectLockConfiguration(_ context.Context, in *s3.PutObjectLockConfigurationInput, _ ...func(*s3.Options)) (*s3.PutObjectLockConfigurationOutput, error) {
	r := in.ObjectLockConfiguration.Rule.DefaultRetention
	f.locks[aws.ToString(in.Bucket)] = fmt.Sprintf("%s %d", r.Mode, aws.ToInt32(r.Days))
	return &s3.PutObjectLockConfigurationOutput{}, nil
}

func (f *fakeAWS) GetCallerIdentity(context.Context, *sts.GetCallerIdentityInput, ...func(*sts.Options)) (*sts.GetCallerIdentityOutput, error) {
	return &sts.GetCallerIdentityOutput{Account: aws.String("123456789012")}, nil
}

func repoTemplate(t *testing.T) *Template {
	t.Helper()
	root, err := testenv.RepoRoot()
	if err != nil {
		t.Fatal(err)
	}
	tmpl, err := ReadTemplate(filepath.Join(root, "template.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	return tmpl
}

func fakeStack(t *testing.T, opts StackOptions) (*Stack, *fakeAWS) {
	t.Helper()
	f := newFakeAWS()
	s, err := newStack(t.Context(), repoTemplate(t), opts, "us-east-1", awsAPIs{f, f, f, f, f})
	if err != nil {
		t.Fatal(err)
	}
	return s, f
}

var orgMode = map[string]string{"OrganizationMode": "true", "ExternalId": "ext-1"}

// TestTemplateFunctionsResolve: every function of template.yaml gets its
// whole environment, timeout and memory from the local stack, in both
// modes; a change to the template that the stack cannot give locally
// fails here, offline, before any emulator test.
func TestTemplateFunctionsResolve(t *testing.T) {
	s, f := fakeStack(t, StackOptions{Parameters: orgMode})
	fns := repoTemplate(t).Functions()
	if diff := cmp.Diff([]string{"ApiFunction", "DispatcherFunction", "SweeperFunction", "WorkerFunction"}, fns); diff != "" {
		t.Errorf("functions (-want +got):\n%s", diff)
	}
	got := map[string]string{}
	for _, id := range fns {
		fn, err := s.Function(t.Context(), id)
		if err != nil {
			t.Fatal(err)
		}
		var names []string
		for k := range fn.Env {
			names = append(names, k)
		}
		sort.Strings(names)
		got[id] = strings.Join([]string{fn.Name, fn.Timeout.String(), fn.Handler, fn.Runtime, fn.Architecture, strings.Join(names, ",")}, " ")
		if fn.MemoryMB != 256 {
			t.Errorf("%s memory %d MB, want the template's 256", id, fn.MemoryMB)
		}
	}
	tables := "POLICY_TABLE,AUDIT_TABLE,AUDIT_RETENTION_DAYS"
	sorted := func(s string) string { l := strings.Split(s, ","); sort.Strings(l); return strings.Join(l, ",") }
	notices := ",KEYSWEEP_NOTICE_SENDER,KEYSWEEP_NOTICE_TOPIC_ARN"
	archive := ",AUDIT_ARCHIVE_BUCKET,AUDIT_ARCHIVE_DAYS"
	want := map[string]string{
		"SweeperFunction":    "keysweep-local-SweeperFunction 15m0s bootstrap provided.al2023 arm64 " + sorted(tables+",KEYSWEEP_BULK_TAGS,KEYSWEEP_TARGETS,REPORT_BUCKET,KEYSWEEP_SECURITY_HUB"+notices+archive),
		"ApiFunction":        "keysweep-local-ApiFunction 29s bootstrap provided.al2023 arm64 " + sorted(tables+",SWEEPER_FUNCTION,KEYSWEEP_MAX_ATTEMPTS,KEYSWEEP_TARGETS"+notices+archive),
		"DispatcherFunction": "keysweep-local-DispatcherFunction 5m0s bootstrap provided.al2023 arm64 " + sorted(tables+",ACCOUNT_QUEUE_URL"),
		"WorkerFunction": "keysweep-local-WorkerFunction 15m0s bootstrap provided.al2023 arm64 " +
			sorted(tables+",MEMBER_ROLE_NAME,MEMBER_EXTERNAL_ID,KEYSWEEP_PARTITION,MAX_RECEIVES,ACCOUNT_QUEUE_URL,KEYSWEEP_BULK_TAGS,AUDIT_ARCHIVE_BUCKET,AUDIT_ARCHIVE_DAYS"),
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("functions (-want +got):\n%s", diff)
	}
	sweeper, _ := s.Function(t.Context(), "SweeperFunction")
	wantNotices := map[string]string{"KEYSWEEP_NOTICE_SENDER": "", "KEYSWEEP_SECURITY_HUB": "false",
		"KEYSWEEP_NOTICE_TOPIC_ARN": "arn:aws:sns:us-east-1:123456789012:keysweep-local-NoticeTopic"}
	for k, v := range wantNotices {
		if sweeper.Env[k] != v {
			t.Errorf("sweeper %s = %q, want %q (the stack's own topic by default)", k, sweeper.Env[k], v)
		}
	}
	if diff := cmp.Diff([]string{"keysweep-local-NoticeTopic"}, f.topics); diff != "" {
		t.Errorf("topics made (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff(map[string]string{"LogFormat": "JSON", "LogGroup": "/aws/lambda/keysweep-local-sweeper"}, sweeper.Logging); diff != "" {
		t.Errorf("sweeper LoggingConfig (-want +got):\n%s", diff)
	}
	worker, _ := s.Function(t.Context(), "WorkerFunction")
	wantEnv := map[string]string{
		"POLICY_TABLE": "keysweep-local-PolicyTable", "AUDIT_TABLE": "keysweep-local-AuditTable", "AUDIT_RETENTION_DAYS": "400",
		"MEMBER_ROLE_NAME": "keysweep-member", "MEMBER_EXTERNAL_ID": "ext-1", "KEYSWEEP_PARTITION": "aws", "MAX_RECEIVES": "3",
		"ACCOUNT_QUEUE_URL": "http://sqs.local/123456789012/keysweep-local-AccountQueue", "KEYSWEEP_BULK_TAGS": "false",
		"AUDIT_ARCHIVE_BUCKET": "", "AUDIT_ARCHIVE_DAYS": "400",
	}
	if diff := cmp.Diff(wantEnv, worker.Env); diff != "" {
		t.Errorf("worker environment (-want +got):\n%s", diff)
	}

	audit := f.tables["keysweep-local-AuditTable"]
	var indexes []string
	for _, g := range audit.GlobalSecondaryIndexes {
		indexes = append(indexes, aws.ToString(g.IndexName)+"("+aws.ToString(g.KeySchema[0].AttributeName)+","+aws.ToString(g.KeySchema[1].AttributeName)+")")
	}
	if diff := cmp.Diff([]string{"byRun(runId,sk)", "byUser(userKey,at)"}, indexes); diff != "" {
		t.Errorf("audit table indexes from the template (-want +got):\n%s", diff)
	}
	if f.ttl["keysweep-local-AuditTable"] != "expiresAt" {
		t.Errorf("audit table TTL attribute %q, want the template's expiresAt", f.ttl["keysweep-local-AuditTable"])
	}
	redrive := f.queues["keysweep-local-AccountQueue"]["RedrivePolicy"]
	if !strings.Contains(redrive, `"deadLetterTargetArn":"arn:aws:sqs:us-east-1:123456789012:keysweep-local-AccountDLQ"`) || f.queues["keysweep-local-AccountDLQ"] == nil {
		t.Errorf("account queue redrive policy %s; want the template's DLQ, made first", redrive)
	}
}

// TestStackHonoursConditionsAndOverrides: with the default parameters the
// organization functions do not exist, as in the deployed stack; an
// --env-vars style override replaces a variable without making what its
// template value refers to.
func TestStackHonoursConditionsAndOverrides(t *testing.T) {
	s, _ := fakeStack(t, StackOptions{})
	if _, err := s.Function(t.Context(), "DispatcherFunction"); err == nil || !strings.Contains(err.Error(), "IsOrganizationMode") {
		t.Errorf("dispatcher without organization mode: %v; want an error naming the condition", err)
	}
	if _, err := s.Function(t.Context(), "NoSuchFunction"); err == nil {
		t.Error("a function not in the template resolved")
	}

	s, f := fakeStack(t, StackOptions{EnvVars: map[string]map[string]string{
		"Parameters":      {"POLICY_TABLE": "keysweep-policy", "AUDIT_TABLE": "shared-audit", "NOT_DECLARED": "x"},
		"SweeperFunction": {"AUDIT_TABLE": "keysweep-audit"},
	}})
	fn, err := s.Function(t.Context(), "SweeperFunction")
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{"POLICY_TABLE": "keysweep-policy", "AUDIT_TABLE": "keysweep-audit", "AUDIT_RETENTION_DAYS": "400", "KEYSWEEP_BULK_TAGS": "false",
		"KEYSWEEP_TARGETS": "[]", "REPORT_BUCKET": "", "AUDIT_ARCHIVE_BUCKET": "", "AUDIT_ARCHIVE_DAYS": "400",
		"KEYSWEEP_NOTICE_SENDER": "", "KEYSWEEP_SECURITY_HUB": "false", "KEYSWEEP_NOTICE_TOPIC_ARN": "arn:aws:sns:us-east-1:123456789012:keysweep-local-NoticeTopic"}
	if diff := cmp.Diff(want, fn.Env); diff != "" {
		t.Errorf("environment (-want +got):\n%s", diff)
	}
	if len(f.tables) != 0 {
		t.Errorf("made tables %v for overridden variables", slices.Sorted(maps.Keys(f.tables)))
	}
	if fn.Timeout != 900*time.Second {
		t.Errorf("timeout %s, want the template's SweeperTimeout default", fn.Timeout)
	}
}

// TestReportBucketAndTargets: with ReportBucket=true the stack makes the
// report bucket and the sweeper is told its name; Targets reaches the
// sweeper and the API as KEYSWEEP_TARGETS; by default there is no bucket.
func TestReportBucketAndTargets(t *testing.T) {
	targets := `[{"name":"otc","provider":"huawei","secretArn":"arn:aws:secretsmanager:us-east-1:123456789012:secret:otc-AbCdEf"}]`
	s, f := fakeStack(t, StackOptions{Parameters: map[string]string{"ReportBucket": "true", "Targets": targets}})
	sweeper, err := s.Function(t.Context(), "SweeperFunction")
	if err != nil {
		t.Fatal(err)
	}
	api, err := s.Function(t.Context(), "ApiFunction")
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]string{"sweeper REPORT_BUCKET": sweeper.Env["REPORT_BUCKET"], "sweeper KEYSWEEP_TARGETS": sweeper.Env["KEYSWEEP_TARGETS"],
		"api KEYSWEEP_TARGETS": api.Env["KEYSWEEP_TARGETS"], "buckets": strings.Join(f.buckets, ",")}
	want := map[string]string{"sweeper REPORT_BUCKET": "keysweep-local-reportsbucket", "sweeper KEYSWEEP_TARGETS": targets,
		"api KEYSWEEP_TARGETS": targets, "buckets": "keysweep-local-reportsbucket"}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
	if _, ok := api.Env["REPORT_BUCKET"]; ok {
		t.Error("the API is told the report bucket; only the sweeper writes reports")
	}

	s, f = fakeStack(t, StackOptions{})
	if sweeper, err = s.Function(t.Context(), "SweeperFunction"); err != nil || sweeper.Env["REPORT_BUCKET"] != "" || len(f.buckets) != 0 {
		t.Errorf("by default: %v, REPORT_BUCKET %q, buckets %v; want none", err, sweeper.Env["REPORT_BUCKET"], f.buckets)
	}
}

// TestAuditArchiveBucket: with AuditArchive=true the stack makes the
// archive bucket with Object Lock and its default retention, and the
// sweeper, the API and the worker are told its name and the lock's days.
func TestAuditArchiveBucket(t *testing.T) {
	s, f := fakeStack(t, StackOptions{Parameters: map[string]string{
		"AuditArchive": "true", "AuditArchiveDays": "30", "OrganizationMode": "true", "ExternalId": "ext-1",
	}})
	got := map[string]string{}
	for _, id := range []string{"SweeperFunction", "ApiFunction", "WorkerFunction"} {
		fn, err := s.Function(t.Context(), id)
		if err != nil {
			t.Fatal(err)
		}
		got[id] = fn.Env["AUDIT_ARCHIVE_BUCKET"] + " " + fn.Env["AUDIT_ARCHIVE_DAYS"]
	}
	got["locks"] = fmt.Sprint(f.locks)
	want := map[string]string{
		"SweeperFunction": "keysweep-local-auditarchivebucket 30", "ApiFunction": "keysweep-local-auditarchivebucket 30",
		"WorkerFunction": "keysweep-local-auditarchivebucket 30", "locks": "map[keysweep-local-auditarchivebucket:COMPLIANCE 30]",
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
}
