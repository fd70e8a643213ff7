package notify

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/securityhub"
	"github.com/aws/aws-sdk-go-v2/service/securityhub/types"

	"github.com/keysweep/keysweep/policy"
)

// SecurityHubAPI is the part of the Security Hub client Findings uses;
// *securityhub.Client satisfies it.
type SecurityHubAPI interface {
	BatchImportFindings(ctx context.Context, params *securityhub.BatchImportFindingsInput, optFns ...func(*securityhub.Options)) (*securityhub.BatchImportFindingsOutput, error)
}

// WorkflowAPI sets the workflow status of findings; *securityhub.Client
// satisfies it.
type WorkflowAPI interface {
	BatchUpdateFindings(ctx context.Context, params *securityhub.BatchUpdateFindingsInput, optFns ...func(*securityhub.Options)) (*securityhub.BatchUpdateFindingsOutput, error)
}

// MaxBatch is the most findings one BatchImportFindings or
// BatchUpdateFindings call takes.
const MaxBatch = 100

// Findings keeps one AWS Security Hub finding per stale or soon-stale key,
// imported as the account's own product ("default"), and resolves it when
// the key is acted on, exempted or fresh again.
type Findings struct {
	API SecurityHubAPI
	// Workflow, when set, also marks resolved findings RESOLVED with
	// BatchUpdateFindings. Security Hub ignores Workflow in a
	// BatchImportFindings update of an existing finding (only the first
	// import sets it), so without it a resolved finding shows compliance
	// PASSED (and, for a deleted key, record state ARCHIVED) but keeps
	// its workflow status. Needs securityhub:BatchUpdateFindings.
	Workflow WorkflowAPI
	// Account is the AWS account that imports: every finding's
	// AwsAccountId and its product ARN's account (Security Hub takes a
	// default-product finding only for the calling account). The key's
	// own account is in the resource details and product fields.
	Account   string
	Region    string
	Partition string // empty: aws
	// Now is the clock; nil: time.Now.
	Now func() time.Time
	Limits

	mu   sync.Mutex
	last time.Time // the latest UpdatedAt sent
}

// Report is what became of one Import.
type Report struct {
	Imported int // findings Security Hub took
	Failed   []FindingFailure
}

// FindingFailure is a key whose finding was not imported or not marked
// resolved (Step "import" or "workflow"); Err is a *SendError.
type FindingFailure struct {
	FindingID string
	KeyID     string
	Step      string
	Err       error
}

// Import sends the keys' findings in batches of at most MaxBatch, each
// with a later UpdatedAt than any before, so that Security Hub takes it as
// an update of the key's finding. A key listed twice counts once (the last
// one). Failures are per key: a whole batch that fails (throttled after
// the bounded retries, say) fails each of its keys; Security Hub not
// enabled or access denied fails the rest without more calls.
func (f *Findings) Import(ctx context.Context, keys []KeyFinding) Report {
	var rep Report
	if len(keys) == 0 {
		return rep
	}
	if err := f.configured(); err != nil {
		for _, k := range keys {
			rep.Failed = append(rep.Failed, FindingFailure{FindingID(k.Provider, k.Account, k.KeyID), k.KeyID, "import", err})
		}
		return rep
	}
	now := f.updatedAt()
	byID := map[string]KeyFinding{}
	var order []string
	for _, k := range keys {
		id := FindingID(k.Provider, k.Account, k.KeyID)
		if _, seen := byID[id]; !seen {
			order = append(order, id)
		}
		byID[id] = k
	}
	var resolved []string
	var stop error // a reason that every later call would meet too
	for start := 0; start < len(order); start += MaxBatch {
		ids := order[start:min(start+MaxBatch, len(order))]
		if stop != nil {
			rep.fail(byID, ids, "import", stop)
			continue
		}
		batch := make([]types.AwsSecurityFinding, len(ids))
		for i, id := range ids {
			batch[i] = f.finding(byID[id], now)
		}
		failed, err := f.importBatch(ctx, batch)
		if err != nil {
			rep.fail(byID, ids, "import", err)
			if errors.Is(err, ErrChannelMissing) || errors.Is(err, ErrAccessDenied) {
				stop = err
			}
			continue
		}
		for _, id := range ids {
			if ferr, bad := failed[id]; bad {
				rep.fail(byID, []string{id}, "import", ferr)
				continue
			}
			rep.Imported++
			if byID[id].Resolution != Open {
				resolved = append(resolved, id)
			}
		}
	}
	if f.Workflow != nil && len(resolved) > 0 {
		f.resolveWorkflow(ctx, resolved, byID, &rep)
	}
	return rep
}

func (r *Report) fail(byID map[string]KeyFinding, ids []string, step string, err error) {
	for _, id := range ids {
		r.Failed = append(r.Failed, FindingFailure{FindingID: id, KeyID: byID[id].KeyID, Step: step, Err: err})
	}
}

// importBatch imports one batch; failed maps the ids Security Hub refused
// to their errors.
func (f *Findings) importBatch(ctx context.Context, batch []types.AwsSecurityFinding) (failed map[string]error, err error) {
	ctx, cancel := f.context(ctx)
	defer cancel()
	out, err := f.API.BatchImportFindings(ctx, &securityhub.BatchImportFindingsInput{Findings: batch},
		func(o *securityhub.Options) { o.Retryer = f.retryer() })
	if err != nil {
		return nil, classify(ChannelFindings, err, securityHubReason)
	}
	failed = map[string]error{}
	for _, ff := range out.FailedFindings {
		code := aws.ToString(ff.ErrorCode)
		failed[aws.ToString(ff.Id)] = &SendError{Channel: ChannelFindings, Reason: itemReason(code),
			Err: fmt.Errorf("%s: %s", code, aws.ToString(ff.ErrorMessage))}
	}
	return failed, nil
}

// resolveWorkflow marks the resolved findings RESOLVED.
func (f *Findings) resolveWorkflow(ctx context.Context, ids []string, byID map[string]KeyFinding, rep *Report) {
	arn := f.productARN()
	for start := 0; start < len(ids); start += MaxBatch {
		part := ids[start:min(start+MaxBatch, len(ids))]
		in := &securityhub.BatchUpdateFindingsInput{Workflow: &types.WorkflowUpdate{Status: types.WorkflowStatusResolved}}
		for _, id := range part {
			in.FindingIdentifiers = append(in.FindingIdentifiers, types.AwsSecurityFindingIdentifier{Id: aws.String(id), ProductArn: aws.String(arn)})
		}
		cctx, cancel := f.context(ctx)
		out, err := f.Workflow.BatchUpdateFindings(cctx, in, func(o *securityhub.Options) { o.Retryer = f.retryer() })
		cancel()
		if err != nil {
			rep.fail(byID, part, "workflow", classify(ChannelFindings, err, securityHubReason))
			continue
		}
		for _, u := range out.UnprocessedFindings {
			code := aws.ToString(u.ErrorCode)
			id := ""
			if u.FindingIdentifier != nil {
				id = aws.ToString(u.FindingIdentifier.Id)
			}
			rep.fail(byID, []string{id}, "workflow", &SendError{Channel: ChannelFindings, Reason: itemReason(code),
				Err: fmt.Errorf("%s: %s", code, aws.ToString(u.ErrorMessage))})
		}
	}
}

func (f *Findings) configured() error {
	switch {
	case f.API == nil:
		return &SendError{Channel: ChannelFindings, Reason: ErrNotConfigured, Err: errors.New("no Security Hub client")}
	case !policy.IsAccountID(f.Account):
		return &SendError{Channel: ChannelFindings, Reason: ErrNotConfigured, Err: fmt.Errorf("account %q is not a 12-digit AWS account id", f.Account)}
	case f.Region == "":
		return &SendError{Channel: ChannelFindings, Reason: ErrNotConfigured, Err: errors.New("no region")}
	}
	return nil
}

func (f *Findings) partition() string {
	if f.Partition == "" {
		return "aws"
	}
	return f.Partition
}

// productARN is the account's default product, which takes its own
// findings.
func (f *Findings) productARN() string {
	return fmt.Sprintf("arn:%s:securityhub:%s:%s:product/%s/default", f.partition(), f.Region, f.Account, f.Account)
}

// updatedAt gives the time of the next import, in milliseconds and later
// than the one before: Security Hub ignores an update that is not newer
// than the finding it holds.
func (f *Findings) updatedAt() time.Time {
	now := time.Now
	if f.Now != nil {
		now = f.Now
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	t := now().UTC().Truncate(time.Millisecond)
	if !t.After(f.last) {
		t = f.last.Add(time.Millisecond)
	}
	f.last = t
	return t
}

// securityHubReason maps Security Hub's modeled errors.
func securityHubReason(err error) error {
	var (
		access   *types.InvalidAccessException
		notFound *types.ResourceNotFoundException
		denied   *types.AccessDeniedException
		limit    *types.LimitExceededException
		throttle *types.ThrottlingException
		input    *types.InvalidInputException
	)
	switch {
	case errors.As(err, &access), errors.As(err, &notFound):
		return ErrChannelMissing
	case errors.As(err, &denied):
		return ErrAccessDenied
	case errors.As(err, &limit), errors.As(err, &throttle):
		return ErrThrottled
	case errors.As(err, &input):
		return ErrRejected
	}
	return nil
}

// itemReason maps the ErrorCode of one refused finding.
func itemReason(code string) error {
	switch {
	case code == "InvalidAccess" || code == "InvalidAccessException" || strings.HasPrefix(code, "ResourceNotFound"):
		return ErrChannelMissing
	case strings.HasPrefix(code, "AccessDenied"):
		return ErrAccessDenied
	case strings.HasPrefix(code, "Throttl") || strings.HasPrefix(code, "LimitExceeded") || code == "TooManyRequestsException":
		return ErrThrottled
	}
	return ErrRejected
}
