package fanout

import (
	"context"
	"fmt"
	"log/slog"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials/stscreds"

	"github.com/keysweep/keysweep/internal/engine"
	"github.com/keysweep/keysweep/internal/keystore/awsiam"
)

// RoleARN is the ARN of the member role in an account.
func RoleARN(partition, account, roleName string) string {
	return "arn:" + partition + ":iam::" + account + ":role/" + roleName
}

// AssumeRoleOpener opens a member account by assuming its keysweep role
// (templates/member-role.yaml) with the external id.
type AssumeRoleOpener struct {
	// STS assumes the role; *sts.Client satisfies it.
	STS stscreds.AssumeRoleAPIClient
	// Config is the worker's own configuration; the member account's IAM
	// client is a copy with the assumed role's credentials.
	Config     aws.Config
	Partition  string // "aws", "aws-cn", "aws-us-gov"; default "aws"
	RoleName   string
	ExternalID string
	// Provider tunes the member account's IAM provider; Account is set per
	// account.
	Provider awsiam.Options
	Logger   *slog.Logger
}

var _ Opener = (*AssumeRoleOpener)(nil)

// Open assumes the member role in account, at once, so that a role that
// cannot be assumed fails here, before the account's run starts, and not
// in the middle of it.
func (o *AssumeRoleOpener) Open(ctx context.Context, account, sessionName string) (engine.KeyStore, error) {
	partition := o.Partition
	if partition == "" {
		partition = "aws"
	}
	arn := RoleARN(partition, account, o.RoleName)
	creds := aws.NewCredentialsCache(stscreds.NewAssumeRoleProvider(o.STS, arn, func(ao *stscreds.AssumeRoleOptions) {
		ao.RoleSessionName = sessionName
		if o.ExternalID != "" {
			ao.ExternalID = aws.String(o.ExternalID)
		}
	}))
	if _, err := creds.Retrieve(ctx); err != nil {
		return nil, fmt.Errorf("assume role %s: %w", arn, err)
	}
	cfg := o.Config.Copy()
	cfg.Credentials = creds
	opts := o.Provider
	opts.Account = account
	if opts.Logger == nil {
		opts.Logger = o.Logger
	}
	return awsiam.New(awsiam.NewClient(cfg, awsiam.NewCounter()), nil, opts), nil
}
