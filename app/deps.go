// Package app holds the Lambda handlers and their wiring, shared by
// functions/* (Lambda entry points) and the keysweep CLI, so that both run
// exactly the same code.
package app

import (
	"context"
	"fmt"
	"os"
	"strconv"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	"github.com/aws/aws-sdk-go-v2/service/sts"

	"github.com/keysweep/keysweep/internal/awsconf"
	"github.com/keysweep/keysweep/awsiam"
	"github.com/keysweep/keysweep/store"
)

// Environment variables read by the functions and the CLI.
const (
	EnvPolicyTable   = "POLICY_TABLE"
	EnvAuditTable    = "AUDIT_TABLE"
	EnvPolicyID      = "POLICY_ID"
	EnvRetentionDays = "AUDIT_RETENTION_DAYS"
)

// Config is what the functions read from their environment.
type Config struct {
	PolicyTable string
	AuditTable  string
	PolicyID    string
	Retention   time.Duration
}

// DefaultRetentionDays is the audit records' default lifetime.
const DefaultRetentionDays = 400

// ConfigFromEnv reads Config from the environment.
func ConfigFromEnv() (Config, error) {
	c := Config{
		PolicyTable: os.Getenv(EnvPolicyTable),
		AuditTable:  os.Getenv(EnvAuditTable),
		PolicyID:    os.Getenv(EnvPolicyID),
		Retention:   DefaultRetentionDays * 24 * time.Hour,
	}
	if c.PolicyID == "" {
		c.PolicyID = store.DefaultPolicyID
	}
	if v := os.Getenv(EnvRetentionDays); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > 3650 {
			return c, fmt.Errorf("%s: must be a whole number of days from 1 to 3650, got %q", EnvRetentionDays, v)
		}
		c.Retention = time.Duration(n) * 24 * time.Hour
	}
	return c, c.Validate()
}

// Validate checks that the table names are set.
func (c Config) Validate() error {
	if c.PolicyTable == "" {
		return fmt.Errorf("policy table: not set (flag --policy-table or %s)", EnvPolicyTable)
	}
	if c.AuditTable == "" {
		return fmt.Errorf("audit table: not set (flag --audit-table or %s)", EnvAuditTable)
	}
	return nil
}

// Deps are the AWS clients and stores built from a Config.
type Deps struct {
	Config   Config
	AWS      aws.Config
	IAM      *iam.Client
	DynamoDB *dynamodb.Client
	Store    *store.Dynamo
	Provider *awsiam.Provider
	Counter  *awsiam.Counter
}

// NewDeps loads the AWS configuration from the standard chain (honouring
// AWS_ENDPOINT_URL) and builds the clients.
func NewDeps(ctx context.Context, c Config, popts awsiam.Options) (*Deps, error) {
	cfg, err := awsconf.Load(ctx)
	if err != nil {
		return nil, fmt.Errorf("aws config: %w", err)
	}
	return NewDepsFromConfig(cfg, c, popts), nil
}

// NewDepsFromConfig builds the clients from a loaded aws.Config.
func NewDepsFromConfig(cfg aws.Config, c Config, popts awsiam.Options) *Deps {
	counter := awsiam.NewCounter()
	iamc := awsiam.NewClient(cfg, counter)
	ddb := dynamodb.NewFromConfig(cfg)
	st := store.NewDynamo(ddb, store.Options{AuditTable: c.AuditTable, PolicyTable: c.PolicyTable, Retention: c.Retention})
	prov := awsiam.New(iamc, sts.NewFromConfig(cfg), popts)
	return &Deps{Config: c, AWS: cfg, IAM: iamc, DynamoDB: ddb, Store: st, Provider: prov, Counter: counter}
}
