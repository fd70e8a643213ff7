package lambdatest

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/sns"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	"github.com/aws/aws-sdk-go-v2/service/sts"

	"github.com/keysweep/keysweep/internal/cfntemplate"
)

// DefaultStackName is the local stack's name (AWS::StackName): resources
// are named <stack>-<LogicalId>.
const DefaultStackName = "keysweep-local"

// StackOptions configure a local stack.
type StackOptions struct {
	// Name is AWS::StackName; DefaultStackName when empty.
	Name string
	// Parameters override the template's parameter defaults.
	Parameters map[string]string
	// EnvVars override functions' environment variables as the file of
	// `sam local invoke --env-vars` does: under "Parameters" for every
	// function, under a logical id for that one (which wins). Only the
	// variables the template declares are overridden, and an overridden
	// variable's template value is not resolved (nothing is made for it).
	EnvVars map[string]map[string]string
}

// Stack is a template's resources made locally: the tables and queues a
// function's environment refers to are created in the emulator the AWS
// configuration points at, named <stack>-<LogicalId> unless the template
// names them, with the template's key schema, indexes and attributes.
// Creating is idempotent, so a stack can be pointed at an emulator that
// already has them. A Stack is not safe for concurrent use.
type Stack struct {
	name      string
	envVars   map[string]map[string]string
	tmpl      *Template
	r         *cfntemplate.Resolver
	ddb       dynamoAPI
	sqs       sqsAPI
	sns       snsAPI
	s3        s3API
	account   string
	region    string
	partition string
	made      map[string]*physical
}

// physical is a made resource: its Ref value and its attributes.
type physical struct {
	ref   string
	attrs map[string]string
}

// The SDK calls the stack makes, with the SDK's own signatures.
type (
	dynamoAPI interface {
		CreateTable(ctx context.Context, in *dynamodb.CreateTableInput, optFns ...func(*dynamodb.Options)) (*dynamodb.CreateTableOutput, error)
		DescribeTable(ctx context.Context, in *dynamodb.DescribeTableInput, optFns ...func(*dynamodb.Options)) (*dynamodb.DescribeTableOutput, error)
		UpdateTimeToLive(ctx context.Context, in *dynamodb.UpdateTimeToLiveInput, optFns ...func(*dynamodb.Options)) (*dynamodb.UpdateTimeToLiveOutput, error)
	}
	sqsAPI interface {
		CreateQueue(ctx context.Context, in *sqs.CreateQueueInput, optFns ...func(*sqs.Options)) (*sqs.CreateQueueOutput, error)
		GetQueueAttributes(ctx context.Context, in *sqs.GetQueueAttributesInput, optFns ...func(*sqs.Options)) (*sqs.GetQueueAttributesOutput, error)
	}
	snsAPI interface {
		CreateTopic(ctx context.Context, in *sns.CreateTopicInput, optFns ...func(*sns.Options)) (*sns.CreateTopicOutput, error)
	}
	stsAPI interface {
		GetCallerIdentity(ctx context.Context, in *sts.GetCallerIdentityInput, optFns ...func(*sts.Options)) (*sts.GetCallerIdentityOutput, error)
	}
	s3API interface {
		CreateBucket(ctx context.Context, in *s3.CreateBucketInput, optFns ...func(*s3.Options)) (*s3.CreateBucketOutput, error)
		PutObjectLockConfiguration(ctx context.Context, in *s3.PutObjectLockConfigurationInput, optFns ...func(*s3.Options)) (*s3.PutObjectLockConfigurationOutput, error)
	}
)

// NewStack makes a local stack of tmpl in the emulator cfg points at. The
// account id comes from STS (the emulator's), the region from cfg.
func NewStack(ctx context.Context, cfg aws.Config, tmpl *Template, opts StackOptions) (*Stack, error) {
	// An emulator on an IP address gets path-style bucket addresses from
	// the SDK itself.
	return newStack(ctx, tmpl, opts, cfg.Region, awsAPIs{dynamodb.NewFromConfig(cfg), sqs.NewFromConfig(cfg), sts.NewFromConfig(cfg), s3.NewFromConfig(cfg), sns.NewFromConfig(cfg)})
}

// awsAPIs are the clients a stack makes its resources with.
type awsAPIs struct {
	ddb dynamoAPI
	sqs sqsAPI
	sts stsAPI
	s3  s3API
	sns snsAPI
}

func newStack(ctx context.Context, tmpl *Template, opts StackOptions, region string, apis awsAPIs) (*Stack, error) {
	ddb, q, st := apis.ddb, apis.sqs, apis.sts
	if region == "" {
		return nil, fmt.Errorf("local stack: no AWS region configured")
	}
	id, err := st.GetCallerIdentity(ctx, &sts.GetCallerIdentityInput{})
	if err != nil {
		return nil, fmt.Errorf("local stack: account id: %w", err)
	}
	name := opts.Name
	if name == "" {
		name = DefaultStackName
	}
	params, err := parameterValues(tmpl, opts.Parameters)
	if err != nil {
		return nil, fmt.Errorf("local stack: %w", err)
	}
	s := &Stack{
		name: name, envVars: opts.EnvVars, tmpl: tmpl, ddb: ddb, sqs: q, s3: apis.s3, sns: apis.sns,
		account: aws.ToString(id.Account), region: region, partition: partitionOf(region),
		made: map[string]*physical{},
	}
	for k, v := range map[string]string{
		"AWS::AccountId": s.account, "AWS::Region": region, "AWS::Partition": s.partition,
		"AWS::StackName": name, "AWS::URLSuffix": "amazonaws.com",
		"AWS::StackId": fmt.Sprintf("arn:%s:cloudformation:%s:%s:stack/%s/local", s.partition, region, s.account, name),
	} {
		params[k] = v
	}
	s.r = &cfntemplate.Resolver{Params: params, Conditions: tmpl.Conditions, Resources: stackResources{s}}
	return s, nil
}

func partitionOf(region string) string {
	switch {
	case strings.HasPrefix(region, "cn-"):
		return "aws-cn"
	case strings.HasPrefix(region, "us-gov-"):
		return "aws-us-gov"
	}
	return "aws"
}

// stackResources answers the resolver's Ref and Fn::GetAtt with the
// stack's resources, made as they are first named.
type stackResources struct{ s *Stack }

func (r stackResources) Ref(ctx context.Context, id string) (string, error) { return r.s.ref(ctx, id) }

func (r stackResources) GetAtt(ctx context.Context, id, attr string) (string, error) {
	return r.s.getAtt(ctx, id, attr)
}

// Name is the stack's name.
func (s *Stack) Name() string { return s.name }

// Ref is what !Ref gives for a parameter or a resource, making the resource
// first if needed.
func (s *Stack) Ref(ctx context.Context, name string) (string, error) {
	return s.r.Ref(ctx, name)
}

// GetAtt is what !GetAtt id.attr gives, making the resource first if needed.
func (s *Stack) GetAtt(ctx context.Context, id, attr string) (string, error) {
	return s.getAtt(ctx, id, attr)
}

// Condition evaluates one of the template's conditions.
func (s *Stack) Condition(ctx context.Context, name string) (bool, error) {
	return s.r.Condition(ctx, name)
}

func (s *Stack) ref(ctx context.Context, id string) (string, error) {
	p, err := s.resource(ctx, id)
	if err != nil {
		return "", err
	}
	return p.ref, nil
}

func (s *Stack) getAtt(ctx context.Context, id, attr string) (string, error) {
	p, err := s.resource(ctx, id)
	if err != nil {
		return "", err
	}
	v, ok := p.attrs[attr]
	if !ok {
		return "", fmt.Errorf("%w: %s.%s (a %s)", ErrUnsupported, id, attr, s.tmpl.Resources[id].Type)
	}
	return v, nil
}

// resource makes resource id once and returns it.
func (s *Stack) resource(ctx context.Context, id string) (*physical, error) {
	if p, ok := s.made[id]; ok {
		return p, nil
	}
	res, ok := s.tmpl.Resources[id]
	if !ok {
		return nil, fmt.Errorf("no resource %s in the template", id)
	}
	if err := s.requireCondition(ctx, id, res); err != nil {
		return nil, err
	}
	var (
		p   *physical
		err error
	)
	switch res.Type {
	case typeTable:
		p, err = s.makeTable(ctx, id, res)
	case typeQueue:
		p, err = s.makeQueue(ctx, id, res)
	case typeBucket:
		p, err = s.makeBucket(ctx, id, res)
	case typeFunction:
		p, err = s.functionResource(ctx, id, res)
	case typeLogGroup:
		p, err = s.logGroupResource(ctx, id, res)
	case typeTopic:
		p, err = s.makeTopic(ctx, id, res)
	default:
		return nil, fmt.Errorf("%w: resource %s of type %s", ErrUnsupported, id, res.Type)
	}
	if err != nil {
		return nil, fmt.Errorf("make %s: %w", id, err)
	}
	s.made[id] = p
	return p, nil
}

// requireCondition refuses a resource whose condition is false with these
// parameters: the deployed stack would not have it.
func (s *Stack) requireCondition(ctx context.Context, id string, res Resource) error {
	if res.Condition == "" {
		return nil
	}
	ok, err := s.r.Condition(ctx, res.Condition)
	if err != nil {
		return fmt.Errorf("%s: %w", id, err)
	}
	if !ok {
		return fmt.Errorf("%s exists only when the template's condition %s holds; set the parameters it reads (e.g. OrganizationMode=true)", id, res.Condition)
	}
	return nil
}

// physicalName is the resource's name property, or <stack>-<LogicalId>.
func (s *Stack) physicalName(ctx context.Context, id string, props map[string]any, prop string) (string, error) {
	if v, ok := props[prop]; ok {
		return s.r.ResolveString(ctx, v)
	}
	return s.name + "-" + id, nil
}

func (s *Stack) arn(service, resource string) string {
	return fmt.Sprintf("arn:%s:%s:%s:%s:%s", s.partition, service, s.region, s.account, resource)
}

func (s *Stack) functionResource(ctx context.Context, id string, res Resource) (*physical, error) {
	name, err := s.physicalName(ctx, id, res.Properties, "FunctionName")
	if err != nil {
		return nil, err
	}
	return &physical{ref: name, attrs: map[string]string{"Arn": s.arn("lambda", "function:"+name)}}, nil
}

// logGroupResource names a log group without making it: a function
// writes its logs to its output, and the emulator prints them.
func (s *Stack) logGroupResource(ctx context.Context, id string, res Resource) (*physical, error) {
	name, err := s.physicalName(ctx, id, res.Properties, "LogGroupName")
	if err != nil {
		return nil, err
	}
	return &physical{ref: name, attrs: map[string]string{"Arn": s.arn("logs", "log-group:"+name+":*")}}, nil
}

// Function is one function of the template as the local stack gives it.
type Function struct {
	LogicalID string
	// Name is the function's name (AWS_LAMBDA_FUNCTION_NAME).
	Name string
	// Env is the template's Environment.Variables, resolved.
	Env          map[string]string
	Timeout      time.Duration
	MemoryMB     int
	Handler      string
	Runtime      string
	Architecture string // arm64 or x86_64, as the template says
	// Logging is the template's LoggingConfig: LogFormat, LogGroup and
	// ApplicationLogLevel, which Lambda gives the function as
	// AWS_LAMBDA_LOG_FORMAT, AWS_LAMBDA_LOG_GROUP_NAME and AWS_LAMBDA_LOG_LEVEL.
	Logging map[string]string
}

// SAM's defaults for a function that does not say.
const (
	defaultTimeout  = 3 * time.Second
	defaultMemoryMB = 128
)

// Function resolves function id: its environment (making the resources
// it refers to), timeout, memory size, handler, runtime and architecture.
func (s *Stack) Function(ctx context.Context, id string) (*Function, error) {
	props, err := s.tmpl.FunctionProperties(id)
	if err != nil {
		return nil, err
	}
	if err := s.requireCondition(ctx, id, s.tmpl.Resources[id]); err != nil {
		return nil, err
	}
	name, err := s.ref(ctx, id)
	if err != nil {
		return nil, err
	}
	f := &Function{LogicalID: id, Name: name, Env: map[string]string{}, Timeout: defaultTimeout, MemoryMB: defaultMemoryMB, Architecture: "x86_64"}
	for k, v := range asMap(asMap(props["Environment"])["Variables"]) {
		if val, ok := s.envOverride(id, k); ok {
			f.Env[k] = val
			continue
		}
		if f.Env[k], err = s.r.ResolveString(ctx, v); err != nil {
			return nil, fmt.Errorf("%s: environment %s: %w", id, k, err)
		}
	}
	if v, ok := props["Timeout"]; ok {
		n, err := s.intProp(ctx, v)
		if err != nil {
			return nil, fmt.Errorf("%s: Timeout: %w", id, err)
		}
		f.Timeout = time.Duration(n) * time.Second
	}
	if v, ok := props["MemorySize"]; ok {
		if f.MemoryMB, err = s.intProp(ctx, v); err != nil {
			return nil, fmt.Errorf("%s: MemorySize: %w", id, err)
		}
	}
	for prop, dst := range map[string]*string{"Handler": &f.Handler, "Runtime": &f.Runtime} {
		if v, ok := props[prop]; ok {
			if *dst, err = s.r.ResolveString(ctx, v); err != nil {
				return nil, fmt.Errorf("%s: %s: %w", id, prop, err)
			}
		}
	}
	if f.Logging, err = s.logging(ctx, props["LoggingConfig"]); err != nil {
		return nil, fmt.Errorf("%s: LoggingConfig: %w", id, err)
	}
	if v, ok := props["Architectures"]; ok {
		archs, err := s.r.Resolve(ctx, v)
		if err != nil {
			return nil, fmt.Errorf("%s: Architectures: %w", id, err)
		}
		if l, _ := archs.([]any); len(l) == 1 && str(l[0]) != "" {
			f.Architecture = str(l[0])
		} else {
			return nil, fmt.Errorf("%s: Architectures: want one, got %v", id, archs)
		}
	}
	return f, nil
}

func (s *Stack) logging(ctx context.Context, v any) (map[string]string, error) {
	out := map[string]string{}
	for k, e := range asMap(v) {
		val, err := s.r.ResolveString(ctx, e)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", k, err)
		}
		out[k] = val
	}
	return out, nil
}

func (s *Stack) envOverride(id, name string) (string, bool) {
	if v, ok := s.envVars[id][name]; ok {
		return v, true
	}
	v, ok := s.envVars["Parameters"][name]
	return v, ok
}

func (s *Stack) intProp(ctx context.Context, v any) (int, error) {
	str, err := s.r.ResolveString(ctx, v)
	if err != nil {
		return 0, err
	}
	return strconv.Atoi(str)
}
