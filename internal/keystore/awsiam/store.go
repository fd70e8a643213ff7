// Package awsiam is the AWS IAM key store: the engine's KeyStore port on
// an AWS account's IAM access keys. The inventory comes from the credential
// report (a few calls whatever the account's size) or, when the report
// cannot be had, from listing users and keys; the per-key re-checks and
// actions are IAM's own calls. It imports the domain, never the engine.
package awsiam

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	"github.com/aws/aws-sdk-go-v2/service/iam/types"
	"github.com/aws/aws-sdk-go-v2/service/sts"
	"github.com/aws/smithy-go"

	"github.com/keysweep/keysweep/internal/backoff"
	"github.com/keysweep/keysweep/internal/domain"
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

// UserAPI reads one user (its path), for revocations and inspections of
// a policy with path rules; a sweep knows paths from its inventory, so a
// sweeping role (the organization member role) need not grant it.
// *iam.Client satisfies it.
type UserAPI interface {
	GetUser(ctx context.Context, params *iam.GetUserInput, optFns ...func(*iam.Options)) (*iam.GetUserOutput, error)
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

// Options tune a Store. Zero values mean the defaults.
type Options struct {
	ReportWait   time.Duration // bounded wait for the credential report, default 60s
	PollInterval time.Duration // longest pause between report polls, default 2s (tests set ms)
	Concurrency  int           // users listed at once in the fallback, default 8
	NoReport     bool          // skip the report (force the fallback)
	// BulkTags reads many users' tags with GetAccountAuthorizationDetails
	// (a few pages for the whole account) when that is cheaper than one
	// ListUserTags each. It needs iam:GetAccountAuthorizationDetails,
	// which the template grants only when asked (BulkTagReads).
	BulkTags bool
	Account  string       // known account id (skips STS)
	Logger   *slog.Logger // default slog.Default()
	// Counter counts the calls of the clients given to New (see
	// NewClient); Calls reports from it. Nil: a counter of its own, which
	// sees only what passes through clients built with it.
	Counter *Counter
	// Sleep waits between report polls; default a ctx-aware timer.
	Sleep func(ctx context.Context, d time.Duration) error
}

// Store is the engine's KeyStore on AWS IAM. It is safe for concurrent use.
type Store struct {
	api     API
	sts     STSAPI
	opts    Options
	log     *slog.Logger
	counter *Counter

	mu      sync.Mutex
	account string
}

// New returns a Store on client. sts may be nil when opts.Account is set.
func New(client API, stsClient STSAPI, opts Options) *Store {
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
		opts.Sleep = backoff.Sleep
	}
	if opts.Counter == nil {
		opts.Counter = NewCounter()
	}
	return &Store{api: client, sts: stsClient, opts: opts, log: opts.Logger, counter: opts.Counter, account: opts.Account}
}

// Provider is domain.ProviderAWS.
func (p *Store) Provider() domain.Provider { return domain.ProviderAWS }

// Capabilities: IAM keys can be deactivated and know their last use;
// users have tags and paths; the credential report is the cheap inventory.
func (p *Store) Capabilities() domain.Capabilities {
	return domain.Capabilities{
		Deactivate: true, LastUsed: true, OwnerTags: true, OwnerPaths: true,
		BulkTags: p.opts.BulkTags, Report: !p.opts.NoReport,
	}
}

// Account returns Options.Account, else asks STS once.
func (p *Store) Account(ctx context.Context) (string, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.account != "" {
		return p.account, nil
	}
	if p.sts == nil {
		return "", errors.New("account id: no account given and no sts client")
	}
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
func (p *Store) Inventory(ctx context.Context) (*domain.Inventory, error) {
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

// OwnerTags returns the user's tags (all pages).
func (p *Store) OwnerTags(ctx context.Context, owner domain.Owner) (map[string]string, error) {
	tags := map[string]string{}
	pg := iam.NewListUserTagsPaginator(p.api, &iam.ListUserTagsInput{UserName: aws.String(owner.Name)})
	for pg.HasMorePages() {
		page, err := pg.NextPage(ctx)
		if err != nil {
			return nil, notFound(fmt.Sprintf("list tags of user %s", owner.Name), err)
		}
		for _, t := range page.Tags {
			tags[aws.ToString(t.Key)] = aws.ToString(t.Value)
		}
	}
	return tags, nil
}

// OwnerPath reads the user's IAM path with GetUser (the revocation API
// needs it for path exemptions; a sweep knows paths from its inventory).
func (p *Store) OwnerPath(ctx context.Context, owner domain.Owner) (string, error) {
	users, ok := p.api.(UserAPI)
	if !ok {
		return "", domain.Unsupported(domain.ProviderAWS, "reading a user's path (GetUser)")
	}
	out, err := users.GetUser(ctx, &iam.GetUserInput{UserName: aws.String(owner.Name)})
	if err != nil {
		return "", notFound("get user "+owner.Name, err)
	}
	if out.User == nil {
		return "", fmt.Errorf("get user %s: no user in the answer", owner.Name)
	}
	return aws.ToString(out.User.Path), nil
}

// OwnerKeys re-reads the user's keys: id, status, creation time. Last use
// is not in the listing (LastUseKnown false): the inventory or Recheck
// gives it.
func (p *Store) OwnerKeys(ctx context.Context, owner domain.Owner) ([]domain.Key, error) {
	account, err := p.Account(ctx)
	if err != nil {
		return nil, err
	}
	metas, err := p.listAccessKeys(ctx, owner.Name)
	if err != nil {
		return nil, err
	}
	keys := make([]domain.Key, 0, len(metas))
	for _, m := range metas {
		keys = append(keys, keyFromMetadata(account, owner.Name, m))
	}
	return keys, nil
}

// lastUsed returns the key's owner and when it was last used (nil: never).
func (p *Store) lastUsed(ctx context.Context, id string) (string, *time.Time, error) {
	out, err := p.api.GetAccessKeyLastUsed(ctx, &iam.GetAccessKeyLastUsedInput{AccessKeyId: aws.String(id)})
	if err != nil {
		return "", nil, notFound(fmt.Sprintf("get last use of access key %s", id), err)
	}
	var last *time.Time
	if out.AccessKeyLastUsed != nil && out.AccessKeyLastUsed.LastUsedDate != nil {
		t := out.AccessKeyLastUsed.LastUsedDate.UTC()
		last = &t
	}
	return aws.ToString(out.UserName), last, nil
}

// Recheck re-reads the key's owner and last use (GetAccessKeyLastUsed)
// and, when status is true, its status (ListAccessKeys of the owner).
// IAM may refuse GetAccessKeyLastUsed for a key id it cannot tie to a user
// of the account (one deleted meanwhile, say) with AccessDenied rather
// than NoSuchEntity: then the owner's live key list tells whether the key
// is still there.
func (p *Store) Recheck(ctx context.Context, key domain.Key, status bool) (domain.Key, error) {
	owner, last, err := p.lastUsed(ctx, key.ID)
	if errors.Is(err, domain.ErrKeyNotFound) {
		return domain.Key{}, err
	}
	if err != nil {
		if live, lerr := p.findIn(ctx, key.Owner, key.ID); lerr == nil && live == nil {
			return domain.Key{}, fmt.Errorf("%w (last-use re-check: %v)", domain.ErrKeyNotFound, err)
		}
		return domain.Key{}, err
	}
	out := key
	if owner != "" {
		out.Owner = owner
	}
	out.LastUsedAt, out.LastUseKnown = last, true
	if status {
		live, err := p.findIn(ctx, out.Owner, key.ID)
		if err != nil {
			return domain.Key{}, err
		}
		if live == nil {
			return domain.Key{}, fmt.Errorf("access key %s of %s: %w", key.ID, out.Owner, domain.ErrKeyNotFound)
		}
		out.Status, out.CreatedAt = live.Status, live.CreatedAt
	}
	return out, nil
}

// findIn lists owner's keys and returns key id's, or nil when absent (the
// owner being gone included).
func (p *Store) findIn(ctx context.Context, owner, id string) (*domain.Key, error) {
	keys, err := p.OwnerKeys(ctx, domain.Owner{Name: owner})
	if errors.Is(err, domain.ErrKeyNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	for i := range keys {
		if keys[i].ID == id {
			return &keys[i], nil
		}
	}
	return nil, nil
}

// FindKey reads a key from its id alone: its owner and last use from
// GetAccessKeyLastUsed, its status and creation from the owner's listing.
func (p *Store) FindKey(ctx context.Context, id string) (domain.Key, error) {
	owner, last, err := p.lastUsed(ctx, id)
	if err != nil {
		return domain.Key{}, err
	}
	if owner == "" {
		return domain.Key{}, fmt.Errorf("access key %s: no owner: %w", id, domain.ErrKeyNotFound)
	}
	live, err := p.findIn(ctx, owner, id)
	if err != nil {
		return domain.Key{}, err
	}
	if live == nil {
		return domain.Key{}, fmt.Errorf("access key %s of %s: %w", id, owner, domain.ErrKeyNotFound)
	}
	live.LastUsedAt, live.LastUseKnown = last, true
	return *live, nil
}

// Deactivate sets the key inactive.
func (p *Store) Deactivate(ctx context.Context, key domain.Key) error {
	_, err := p.api.UpdateAccessKey(ctx, &iam.UpdateAccessKeyInput{
		UserName:    aws.String(key.Owner),
		AccessKeyId: aws.String(key.ID),
		Status:      types.StatusTypeInactive,
	})
	if err != nil {
		return notFound(fmt.Sprintf("deactivate access key %s of %s", key.ID, key.Owner), err)
	}
	return nil
}

// Delete deletes the key; domain.ErrKeyNotFound (wrapped) when it is gone.
func (p *Store) Delete(ctx context.Context, key domain.Key) error {
	_, err := p.api.DeleteAccessKey(ctx, &iam.DeleteAccessKeyInput{
		UserName:    aws.String(key.Owner),
		AccessKeyId: aws.String(key.ID),
	})
	if err != nil {
		return notFound(fmt.Sprintf("delete access key %s of %s", key.ID, key.Owner), err)
	}
	return nil
}

// Calls returns how many calls the store's clients made, by operation
// name; a paginated listing counts one call per page, and retries inside
// the SDK are one call (Counter.Attempts has those).
func (p *Store) Calls() map[string]int { return p.counter.Calls() }

// listAccessKeys lists all the user's keys.
func (p *Store) listAccessKeys(ctx context.Context, user string) ([]types.AccessKeyMetadata, error) {
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

func keyFromMetadata(account, user string, m types.AccessKeyMetadata) domain.Key {
	k := domain.Key{Account: account, Owner: user, ID: aws.ToString(m.AccessKeyId), Status: domain.StatusInactive}
	if m.Status == types.StatusTypeActive {
		k.Status = domain.StatusActive
	}
	if m.CreateDate != nil {
		k.CreatedAt = m.CreateDate.UTC()
	}
	return k
}

// notFound wraps err with what was done, and with domain.ErrKeyNotFound when
// IAM says the key or the user does not exist.
func notFound(what string, err error) error {
	// GetAccessKeyLastUsed models no errors, so the SDK hands its
	// NoSuchEntity back as a generic API error: match the code as well.
	var nse *types.NoSuchEntityException
	var ae smithy.APIError
	if errors.As(err, &nse) || (errors.As(err, &ae) && ae.ErrorCode() == "NoSuchEntity") {
		return fmt.Errorf("%s: %w: %w", what, domain.ErrKeyNotFound, err)
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

// sortOwners sorts owners by name, as domain.Inventory requires.
func sortOwners(owners []domain.Owner) {
	slices.SortStableFunc(owners, func(a, b domain.Owner) int { return strings.Compare(a.Name, b.Name) })
}
