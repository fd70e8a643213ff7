package wiring

import (
	"context"
	"fmt"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	"github.com/aws/aws-sdk-go-v2/service/sts"

	"github.com/keysweep/keysweep/internal/awsconf"
	"github.com/keysweep/keysweep/internal/engine"
	"github.com/keysweep/keysweep/internal/journal/dynamo"
	"github.com/keysweep/keysweep/internal/keystore/awsiam"
)

// Deps are the AWS clients, the journal and the default key store built
// from a Config.
type Deps struct {
	Config   Config
	AWS      aws.Config
	IAM      *iam.Client
	DynamoDB *dynamodb.Client
	Journal  *dynamo.Journal
	Store    *awsiam.Store
	Counter  *awsiam.Counter
	// Secrets reads the targets' secrets; a client on AWS when nil.
	Secrets SecretsAPI
	// Notifier tells owners, the team and Security Hub; nil when the
	// deployment has no notice channel.
	Notifier engine.Notifier
}

// NewDeps loads the AWS configuration from the standard chain (honouring
// AWS_ENDPOINT_URL) and builds the clients.
func NewDeps(ctx context.Context, c Config, opts awsiam.Options) (*Deps, error) {
	cfg, err := awsconf.Load(ctx)
	if err != nil {
		return nil, fmt.Errorf("aws config: %w", err)
	}
	return NewDepsFromConfig(cfg, c, opts), nil
}

// NewDepsFromConfig builds the clients from a loaded aws.Config. Every
// IAM and STS call is counted by one middleware.
func NewDepsFromConfig(cfg aws.Config, c Config, opts awsiam.Options) *Deps {
	counter := awsiam.NewCounter()
	iamc := awsiam.NewClient(cfg, counter)
	stsc := sts.NewFromConfig(cfg, func(o *sts.Options) { o.APIOptions = append(o.APIOptions, awsiam.CountingMiddleware(counter)) })
	ddb := dynamodb.NewFromConfig(cfg)
	j := dynamo.New(ddb, dynamo.Options{AuditTable: c.AuditTable, PolicyTable: c.PolicyTable, Retention: c.Retention})
	opts.Counter = counter
	opts.BulkTags = opts.BulkTags || c.BulkTags
	st := awsiam.New(iamc, stsc, opts)
	return &Deps{Config: c, AWS: cfg, IAM: iamc, DynamoDB: ddb, Journal: j, Store: st, Counter: counter,
		Notifier: NewNotifier(cfg, c.Notices, st.Account)}
}
