// Package awsiam implements sweep.Provider on AWS IAM: the inventory from the
// credential report (one cheap call) or, when the report cannot be had, from
// listing users and keys; and the per-key reads and actions the engine needs.
package awsiam

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	"github.com/aws/aws-sdk-go-v2/service/iam/types"
	"github.com/aws/aws-sdk-go-v2/service/sts"
	"github.com/aws/smithy-go"

	"github.com/keysweep/keysweep/policy"
	"github.com/keysweep/keysweep/sweep"
)

// API is the narrow IAM interface the provider needs; *iam.Client satisfies it.
type API interface {
	GenerateCredentialReport(ctx context.Context, params *iam.GenerateCredentialReportInput, optFns ...func(*iam.Options)) (*iam.GenerateCredentialReportOutput, error)
	GetCredentialReport(ctx context.Context, params *iam.GetCredentialReportInput, optFns ...func(*iam.Options)) (*iam.GetCredentialReportOutput, error)
	ListUsers(ctx context.Context, params *iam.ListUsersInput, optFns ...func(*iam.Options)) (*iam.ListUsersOutput, error)
	ListAccessKeys(ctx context.Context, params *iam.ListAccessKeysInput, optFns ...func(*iam.Options)) (*iam.ListAccessKeysOutput, error)
	GetAccessKeyLastUsed(ctx context.Context, params *iam.GetAccessKeyLastUsedInput, optFns ...func(*iam.Options)) (*iam.GetAccessKeyLastUsedOutput, error)
	ListUserTags(ctx context.Context, params *iam.ListUserTagsInput, optFns ...func(*iam.Options)) (*iam.ListUserTagsOutput, error)
	GetAccountAuthorizationDetails(ctx context.Context, params *iam.GetAccountAuthorizationDetailsInput, optFns ...func(*iam.Options)) (*iam.GetAccountAuthorizationDetailsOutput, error)
	UpdateAccessKey(ctx context.Context, params *iam.UpdateAccessKeyInput, optFns ...func(*iam.Options)) (*iam.UpdateAccessKeyOutput, error)
	DeleteAccessKey(ctx context.Context, params *iam.DeleteAccessKeyInput, optFns ...func(*iam.Options)) (*iam.DeleteAccessKeyOutput, error)
}

// STSAPI is the narrow STS interface the provider needs; *sts.Client satisfies it.
type STSAPI interface {
	GetCallerIdentity(ctx context.Context, params *sts.GetCallerIdentityInput, optFns ...func(*sts.Options)) (*sts.GetCallerIdentityOutput, error)
}

// Inventory sources.
const (
	SourceReport = "credential-report"
	SourceList   = "list"
)

// Defaults for Options' zero values.
const (
	DefaultReportWait   = 60 * time.Second
	DefaultPollInterval = 2 * time.Second
	DefaultConcurrency  = 8
)

// Options tune a Provider. Zero values mean the defaults.
type Options struct {
	ReportWait   time.Duration // bounded wait for the credential report, default 60s
	PollInterval time.Duration // default 2s (tests set ms)
	Concurrency  int           // users listed at once in the fallback, default 8
	NoReport     bool          // skip the report (force the fallback)
	Account      string        // known account id (skips STS)
	Logger       *slog.Logger  // default slog.Default()
	// Sleep waits between report polls; default a ctx-aware timer.
	Sleep func(ctx context.Context, d time.Duration) error
}

// Provider is sweep.Provider on AWS IAM. It is safe for concurrent use.
type Provider struct {
	api  API // counts every call in calls
	sts  STSAPI
	opts Options
	log  *slog.Logger

	calls *opCounts

	mu      sync.Mutex
	account string
}

var (
	_ sweep.Provider     = (*Provider)(nil)
	_ sweep.TagDirectory = (*Provider)(nil)
)

// New returns a Provider on client. sts may be nil when opts.Account is set.
func New(client API, stsClient STSAPI, opts Options) *Provider {
	if opts.ReportWait <= 0 {
		opts.ReportWait = DefaultReportWait
	}
	if opts.PollInterval <= 0 {
		opts.PollInterval = DefaultPollInterval
	}
	if opts.Concurrency <= 0 {
		opts.Concurrency = DefaultConcurrency
	}
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	if opts.Sleep == nil {
		opts.Sleep = sleep
	}
	calls := &opCounts{m: map[string]int{}}
	return &Provider{
		api:     countingAPI{API: client, calls: calls},
		sts:     stsClient,
		opts:    opts,
		log:     opts.Logger,
		calls:   calls,
		account: opts.Account,
	}
}

// AccountID returns Options.Account, else asks STS once.
func (p *Provider) AccountID(ctx context.Context) (string, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.account != "" {
		return p.account, nil
	}
	if p.sts == nil {
		return "", errors.New("account id: no account given and no sts client")
	}
	p.calls.add("GetCallerIdentity")
	out, err := p.sts.GetCallerIdentity(ctx, &sts.GetCallerIdentityInput{})
	if err != nil {
		return "", fmt.Errorf("get caller identity: %w", err)
	}
	p.account = aws.ToString(out.Account)
	if p.account == "" {
		return "", errors.New("get caller identity: no account in the answer")
	}
	return p.account, nil
}

// Inventory reads every user's keys from the credential report, else (when
// the report cannot be had, or Options.NoReport) by listing users and keys.
// The reason for the fallback is logged and set in Inventory.Fallback.
func (p *Provider) Inventory(ctx context.Context) (*sweep.Inventory, error) {
	reason := "credential report: disabled"
	if !p.opts.NoReport {
		inv, err := p.reportInventory(ctx)
		if err == nil {
			return inv, nil
		}
		if ctx.Err() != nil {
			return nil, fmt.Errorf("inventory: %w", err)
		}
		reason = "credential report: " + shortError(err)
		p.log.WarnContext(ctx, "credential report unavailable, listing users and keys instead",
			"reason", reason, "error", err)
	}
	inv, err := p.listInventory(ctx)
	if err != nil {
		return nil, fmt.Errorf("inventory by listing: %w", err)
	}
	inv.Fallback = reason
	return inv, nil
}

// UserTags returns the user's tags (all pages).
func (p *Provider) UserTags(ctx context.Context, user string) (map[string]string, error) {
	tags := map[string]string{}
	pg := iam.NewListUserTagsPaginator(p.api, &iam.ListUserTagsInput{UserName: aws.String(user)})
	for pg.HasMorePages() {
		page, err := pg.NextPage(ctx)
		if err != nil {
			return nil, notFound(fmt.Sprintf("list tags of user %s", user), err)
		}
		for _, t := range page.Tags {
			tags[aws.ToString(t.Key)] = aws.ToString(t.Value)
		}
	}
	return tags, nil
}

// TagPageSize is how many users one GetAccountAuthorizationDetails page
// asks for: IAM's largest MaxItems.
const TagPageSize = 1000

// TagPages is the GetAccountAuthorizationDetails calls TagsOf makes in an
// account of n users.
func (p *Provider) TagPages(n int) int {
	return max(1, (n+TagPageSize-1)/TagPageSize)
}

// TagsOf reads the tags of the named users from GetAccountAuthorizationDetails
// filtered to users, TagPageSize users a page, and keeps only the named ones,
// so memory follows the users asked for, not the account. The pages also
// carry each user's inline and attached policies; they are dropped page by
// page.
func (p *Provider) TagsOf(ctx context.Context, users []string) (map[string]map[string]string, error) {
	want := make(map[string]bool, len(users))
	for _, u := range users {
		want[u] = true
	}
	out := make(map[string]map[string]string, len(users))
	pg := iam.NewGetAccountAuthorizationDetailsPaginator(p.api, &iam.GetAccountAuthorizationDetailsInput{
		Filter:   []types.EntityType{types.EntityTypeUser},
		MaxItems: aws.Int32(TagPageSize),
	})
	for pg.HasMorePages() {
		page, err := pg.NextPage(ctx)
		if err != nil {
			return nil, fmt.Errorf("account authorization details: %w", err)
		}
		for _, u := range page.UserDetailList {
			name := aws.ToString(u.UserName)
			if !want[name] {
				continue
			}
			tags := make(map[string]string, len(u.Tags))
			for _, t := range u.Tags {
				tags[aws.ToString(t.Key)] = aws.ToString(t.Value)
			}
			out[name] = tags
		}
	}
	return out, nil
}

// UserKeys re-reads the user's keys: id, status, creation time. UserPath is
// left empty and LastUsedAt nil.
func (p *Provider) UserKeys(ctx context.Context, user string) ([]policy.Key, error) {
	account, err := p.AccountID(ctx)
	if err != nil {
		return nil, err
	}
	metas, err := p.listAccessKeys(ctx, user)
	if err != nil {
		return nil, err
	}
	keys := make([]policy.Key, 0, len(metas))
	for _, m := range metas {
		keys = append(keys, keyFromMetadata(account, user, "", m))
	}
	return keys, nil
}

// LastUsed returns the key's owner and when it was last used (nil: never).
func (p *Provider) LastUsed(ctx context.Context, accessKeyID string) (string, *time.Time, error) {
	out, err := p.api.GetAccessKeyLastUsed(ctx, &iam.GetAccessKeyLastUsedInput{AccessKeyId: aws.String(accessKeyID)})
	if err != nil {
		return "", nil, notFound(fmt.Sprintf("get last use of access key %s", accessKeyID), err)
	}
	var last *time.Time
	if out.AccessKeyLastUsed != nil && out.AccessKeyLastUsed.LastUsedDate != nil {
		t := out.AccessKeyLastUsed.LastUsedDate.UTC()
		last = &t
	}
	return aws.ToString(out.UserName), last, nil
}

// Deactivate sets the key inactive.
func (p *Provider) Deactivate(ctx context.Context, user, accessKeyID string) error {
	_, err := p.api.UpdateAccessKey(ctx, &iam.UpdateAccessKeyInput{
		UserName:    aws.String(user),
		AccessKeyId: aws.String(accessKeyID),
		Status:      types.StatusTypeInactive,
	})
	if err != nil {
		return notFound(fmt.Sprintf("deactivate access key %s of %s", accessKeyID, user), err)
	}
	return nil
}

// Delete deletes the key; sweep.ErrKeyNotFound (wrapped) when it is gone.
func (p *Provider) Delete(ctx context.Context, user, accessKeyID string) error {
	_, err := p.api.DeleteAccessKey(ctx, &iam.DeleteAccessKeyInput{
		UserName:    aws.String(user),
		AccessKeyId: aws.String(accessKeyID),
	})
	if err != nil {
		return notFound(fmt.Sprintf("delete access key %s of %s", accessKeyID, user), err)
	}
	return nil
}

// Calls returns how many calls the provider made, by operation name; a
// paginated listing counts one call per page. Retried attempts inside the
// SDK are not seen here: see Counter for those.
func (p *Provider) Calls() map[string]int { return p.calls.snapshot() }

// listAccessKeys lists all the user's keys.
func (p *Provider) listAccessKeys(ctx context.Context, user string) ([]types.AccessKeyMetadata, error) {
	var metas []types.AccessKeyMetadata
	pg := iam.NewListAccessKeysPaginator(p.api, &iam.ListAccessKeysInput{UserName: aws.String(user)})
	for pg.HasMorePages() {
		page, err := pg.NextPage(ctx)
		if err != nil {
			return nil, notFound(fmt.Sprintf("list access keys of %s", user), err)
		}
		metas = append(metas, page.AccessKeyMetadata...)
	}
	return metas, nil
}

func keyFromMetadata(account, user, path string, m types.AccessKeyMetadata) policy.Key {
	k := policy.Key{
		Account:     account,
		UserName:    user,
		UserPath:    path,
		AccessKeyID: aws.ToString(m.AccessKeyId),
		Status:      policy.StatusInactive,
	}
	if m.Status == types.StatusTypeActive {
		k.Status = policy.StatusActive
	}
	if m.CreateDate != nil {
		k.CreatedAt = m.CreateDate.UTC()
	}
	return k
}

// notFound wraps err with what was done, and with sweep.ErrKeyNotFound when
// IAM says the key or the user does not exist.
func notFound(what string, err error) error {
	// GetAccessKeyLastUsed models no errors, so the SDK hands its
	// NoSuchEntity back as a generic API error: match the code as well.
	var nse *types.NoSuchEntityException
	var ae smithy.APIError
	if errors.As(err, &nse) || (errors.As(err, &ae) && ae.ErrorCode() == "NoSuchEntity") {
		return fmt.Errorf("%s: %w: %w", what, sweep.ErrKeyNotFound, err)
	}
	return fmt.Errorf("%s: %w", what, err)
}

// shortError is "Code: message" for an API error, else the error's text.
func shortError(err error) string {
	var ae smithy.APIError
	if errors.As(err, &ae) {
		return ae.ErrorCode() + ": " + ae.ErrorMessage()
	}
	return err.Error()
}

// sleep waits d or until ctx is done.
func sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// opCounts counts calls by operation name.
type opCounts struct {
	mu sync.Mutex
	m  map[string]int
}

func (c *opCounts) add(op string) {
	c.mu.Lock()
	c.m[op]++
	c.mu.Unlock()
}

func (c *opCounts) snapshot() map[string]int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return maps.Clone(c.m)
}

// countingAPI counts each call (each page of a listing) before making it.
type countingAPI struct {
	API
	calls *opCounts
}

func (c countingAPI) GenerateCredentialReport(ctx context.Context, in *iam.GenerateCredentialReportInput, optFns ...func(*iam.Options)) (*iam.GenerateCredentialReportOutput, error) {
	c.calls.add("GenerateCredentialReport")
	return c.API.GenerateCredentialReport(ctx, in, optFns...)
}

func (c countingAPI) GetCredentialReport(ctx context.Context, in *iam.GetCredentialReportInput, optFns ...func(*iam.Options)) (*iam.GetCredentialReportOutput, error) {
	c.calls.add("GetCredentialReport")
	return c.API.GetCredentialReport(ctx, in, optFns...)
}

func (c countingAPI) ListUsers(ctx context.Context, in *iam.ListUsersInput, optFns ...func(*iam.Options)) (*iam.ListUsersOutput, error) {
	c.calls.add("ListUsers")
	return c.API.ListUsers(ctx, in, optFns...)
}

func (c countingAPI) ListAccessKeys(ctx context.Context, in *iam.ListAccessKeysInput, optFns ...func(*iam.Options)) (*iam.ListAccessKeysOutput, error) {
	c.calls.add("ListAccessKeys")
	return c.API.ListAccessKeys(ctx, in, optFns...)
}

func (c countingAPI) GetAccessKeyLastUsed(ctx context.Context, in *iam.GetAccessKeyLastUsedInput, optFns ...func(*iam.Options)) (*iam.GetAccessKeyLastUsedOutput, error) {
	c.calls.add("GetAccessKeyLastUsed")
	return c.API.GetAccessKeyLastUsed(ctx, in, optFns...)
}

func (c countingAPI) ListUserTags(ctx context.Context, in *iam.ListUserTagsInput, optFns ...func(*iam.Options)) (*iam.ListUserTagsOutput, error) {
	c.calls.add("ListUserTags")
	return c.API.ListUserTags(ctx, in, optFns...)
}

func (c countingAPI) GetAccountAuthorizationDetails(ctx context.Context, in *iam.GetAccountAuthorizationDetailsInput, optFns ...func(*iam.Options)) (*iam.GetAccountAuthorizationDetailsOutput, error) {
	c.calls.add("GetAccountAuthorizationDetails")
	return c.API.GetAccountAuthorizationDetails(ctx, in, optFns...)
}

func (c countingAPI) UpdateAccessKey(ctx context.Context, in *iam.UpdateAccessKeyInput, optFns ...func(*iam.Options)) (*iam.UpdateAccessKeyOutput, error) {
	c.calls.add("UpdateAccessKey")
	return c.API.UpdateAccessKey(ctx, in, optFns...)
}

func (c countingAPI) DeleteAccessKey(ctx context.Context, in *iam.DeleteAccessKeyInput, optFns ...func(*iam.Options)) (*iam.DeleteAccessKeyOutput, error) {
	c.calls.add("DeleteAccessKey")
	return c.API.DeleteAccessKey(ctx, in, optFns...)
}

// sortUsers sorts users by name, as sweep.Inventory requires.
func sortUsers(users []sweep.User) {
	slices.SortStableFunc(users, func(a, b sweep.User) int { return strings.Compare(a.Name, b.Name) })
}
