package awsiam

import (
	"context"
	"fmt"
	"slices"
	"sort"
	"strconv"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	"github.com/aws/aws-sdk-go-v2/service/iam/types"
	"github.com/aws/aws-sdk-go-v2/service/sts"
	"github.com/aws/smithy-go"

	"github.com/keysweep/keysweep/internal/backoff"
)

// fakeIAM is an in-process IAM: it pages like IAM (Marker, MaxItems,
// IsTruncated), can throttle or fail an operation, and answers the
// credential report with a scripted sequence of states.
type fakeIAM struct {
	mu sync.Mutex

	account  string
	pageSize int // default page size when MaxItems is not set

	users []*fakeUser         // in creation order
	keys  map[string]*fakeKey // by id

	// throttle makes the next n calls of an operation fail with Throttling.
	throttle map[string]int
	// fail makes every call of an operation fail with the error.
	fail map[string]error
	// failUser makes calls of an operation for one user fail: op -> user -> err.
	failUser map[string]map[string]error

	// reportStates are answered by successive GenerateCredentialReport
	// calls; the last one repeats.
	reportStates []types.ReportStateType
	// reportErrs are answered by successive GetCredentialReport calls
	// before the report itself.
	reportErrs []error
	report     []byte
	reportTime time.Time

	// delay is how long each call stays in flight; maxInFlight records the
	// most calls in flight at once.
	delay       time.Duration
	inFlight    int
	maxInFlight int

	calls   map[string]int
	counter *Counter // what a client built with NewClient would count
}

var _ API = (*fakeIAM)(nil)

// store returns a Store on f whose Calls are f's calls, as a client built
// with NewClient would count them.
func (f *fakeIAM) store(sts STSAPI, opts Options) *Store {
	opts.Counter = f.counter
	return New(f, sts, opts)
}

type fakeUser struct {
	name, path string
	tags       []types.Tag
}

type fakeKey struct {
	id, user string
	status   types.StatusType
	created  time.Time
	lastUsed *time.Time
	order    int
}

func newFakeIAM() *fakeIAM {
	return &fakeIAM{
		account:  "123456789012",
		pageSize: 2,
		keys:     map[string]*fakeKey{},
		throttle: map[string]int{},
		fail:     map[string]error{},
		failUser: map[string]map[string]error{},
		calls:    map[string]int{},
		counter:  NewCounter(),
	}
}

func (f *fakeIAM) addUser(name, path string, tags ...types.Tag) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.users = append(f.users, &fakeUser{name: name, path: path, tags: tags})
}

func (f *fakeIAM) addKey(user, id string, status types.StatusType, created time.Time, lastUsed *time.Time) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.keys[id] = &fakeKey{id: id, user: user, status: status, created: created, lastUsed: lastUsed, order: len(f.keys)}
}

func (f *fakeIAM) failFor(op, user string, err error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.failUser[op] == nil {
		f.failUser[op] = map[string]error{}
	}
	f.failUser[op][user] = err
}

func (f *fakeIAM) arn(u *fakeUser) string {
	return "arn:aws:iam::" + f.account + ":user" + u.path + u.name
}

// enter starts a call of op for user: it counts it, applies the scripted
// faults, and holds the call in flight for delay. The caller must call leave.
func (f *fakeIAM) enter(ctx context.Context, op, user string) error {
	f.mu.Lock()
	f.calls[op]++
	f.counter.call(op)
	if n := f.throttle[op]; n > 0 {
		f.throttle[op] = n - 1
		f.mu.Unlock()
		return &smithy.GenericAPIError{Code: "Throttling", Message: "Rate exceeded", Fault: smithy.FaultClient}
	}
	if err := f.fail[op]; err != nil {
		f.mu.Unlock()
		return err
	}
	if err := f.failUser[op][user]; err != nil {
		f.mu.Unlock()
		return err
	}
	f.inFlight++
	f.maxInFlight = max(f.maxInFlight, f.inFlight)
	f.mu.Unlock()

	var err error
	if f.delay > 0 {
		err = backoff.Sleep(ctx, f.delay)
	}
	f.mu.Lock()
	f.inFlight--
	f.mu.Unlock()
	return err
}

func (f *fakeIAM) user(name string) (*fakeUser, error) {
	for _, u := range f.users {
		if u.name == name {
			return u, nil
		}
	}
	return nil, &types.NoSuchEntityException{Message: aws.String("The user with name " + name + " cannot be found.")}
}

// page returns the [start, end) window of n items for marker and maxItems,
// and the marker of the next page (nil when this is the last page).
func (f *fakeIAM) page(n int, marker *string, maxItems *int32) (start, end int, next *string, err error) {
	if marker != nil {
		start, err = strconv.Atoi(*marker)
		if err != nil || start < 0 || start > n {
			return 0, 0, nil, &smithy.GenericAPIError{Code: "InvalidInput", Message: "bad marker"}
		}
	}
	size := f.pageSize
	if maxItems != nil {
		size = int(*maxItems)
	}
	end = min(start+size, n)
	if end < n {
		next = aws.String(strconv.Itoa(end))
	}
	return start, end, next, nil
}

// userCall answers op for the named user as IAM does: enter (faults and
// delay), then, under f's lock, NoSuchEntity for an unknown user, else
// what answer gives.
func userCall[T any](ctx context.Context, f *fakeIAM, op string, name *string, answer func(u *fakeUser) (*T, error)) (*T, error) {
	user := aws.ToString(name)
	if err := f.enter(ctx, op, user); err != nil {
		return nil, err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	u, err := f.user(user)
	if err != nil {
		return nil, err
	}
	return answer(u)
}

// keyCall is userCall for an action on one of the user's keys: an unknown
// key is NoSuchEntity too; else change runs on it and out is the answer.
func keyCall[T any](ctx context.Context, f *fakeIAM, op string, name, id *string, change func(k *fakeKey), out *T) (*T, error) {
	return userCall(ctx, f, op, name, func(u *fakeUser) (*T, error) {
		k := f.keys[aws.ToString(id)]
		if k == nil || k.user != u.name {
			return nil, &types.NoSuchEntityException{Message: aws.String(fmt.Sprintf("The Access Key with id %s cannot be found.", aws.ToString(id)))}
		}
		change(k)
		return out, nil
	})
}

func (f *fakeIAM) GenerateCredentialReport(ctx context.Context, _ *iam.GenerateCredentialReportInput, _ ...func(*iam.Options)) (*iam.GenerateCredentialReportOutput, error) {
	if err := f.enter(ctx, "GenerateCredentialReport", ""); err != nil {
		return nil, err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	state := types.ReportStateTypeComplete
	if len(f.reportStates) > 0 {
		state = f.reportStates[0]
		if len(f.reportStates) > 1 {
			f.reportStates = f.reportStates[1:]
		}
	}
	return &iam.GenerateCredentialReportOutput{State: state}, nil
}

func (f *fakeIAM) GetCredentialReport(ctx context.Context, _ *iam.GetCredentialReportInput, _ ...func(*iam.Options)) (*iam.GetCredentialReportOutput, error) {
	if err := f.enter(ctx, "GetCredentialReport", ""); err != nil {
		return nil, err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if len(f.reportErrs) > 0 {
		err := f.reportErrs[0]
		f.reportErrs = f.reportErrs[1:]
		return nil, err
	}
	if f.report == nil {
		return nil, &types.CredentialReportNotPresentException{Message: aws.String("no report")}
	}
	return &iam.GetCredentialReportOutput{
		Content:       f.report,
		GeneratedTime: aws.Time(f.reportTime),
		ReportFormat:  types.ReportFormatTypeTextCsv,
	}, nil
}

func (f *fakeIAM) ListUsers(ctx context.Context, in *iam.ListUsersInput, _ ...func(*iam.Options)) (*iam.ListUsersOutput, error) {
	if err := f.enter(ctx, "ListUsers", ""); err != nil {
		return nil, err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	start, end, next, err := f.page(len(f.users), in.Marker, in.MaxItems)
	if err != nil {
		return nil, err
	}
	out := &iam.ListUsersOutput{IsTruncated: next != nil, Marker: next}
	for _, u := range f.users[start:end] {
		out.Users = append(out.Users, types.User{
			UserName: aws.String(u.name), Path: aws.String(u.path), Arn: aws.String(f.arn(u)),
			UserId: aws.String("AIDA" + u.name), CreateDate: aws.Time(time.Unix(0, 0)),
		})
	}
	return out, nil
}

func (f *fakeIAM) userKeys(user string) []*fakeKey {
	var keys []*fakeKey
	for _, k := range f.keys {
		if k.user == user {
			keys = append(keys, k)
		}
	}
	sort.Slice(keys, func(i, j int) bool { return keys[i].order < keys[j].order })
	return keys
}

func (f *fakeIAM) ListAccessKeys(ctx context.Context, in *iam.ListAccessKeysInput, _ ...func(*iam.Options)) (*iam.ListAccessKeysOutput, error) {
	return userCall(ctx, f, "ListAccessKeys", in.UserName, func(u *fakeUser) (*iam.ListAccessKeysOutput, error) {
		keys := f.userKeys(u.name)
		start, end, next, err := f.page(len(keys), in.Marker, in.MaxItems)
		if err != nil {
			return nil, err
		}
		out := &iam.ListAccessKeysOutput{IsTruncated: next != nil, Marker: next}
		for _, k := range keys[start:end] {
			out.AccessKeyMetadata = append(out.AccessKeyMetadata, types.AccessKeyMetadata{
				AccessKeyId: aws.String(k.id), UserName: aws.String(k.user), Status: k.status, CreateDate: aws.Time(k.created),
			})
		}
		return out, nil
	})
}

func (f *fakeIAM) GetAccessKeyLastUsed(ctx context.Context, in *iam.GetAccessKeyLastUsedInput, _ ...func(*iam.Options)) (*iam.GetAccessKeyLastUsedOutput, error) {
	id := aws.ToString(in.AccessKeyId)
	f.mu.Lock()
	k := f.keys[id]
	f.mu.Unlock()
	user := ""
	if k != nil {
		user = k.user
	}
	if err := f.enter(ctx, "GetAccessKeyLastUsed", user); err != nil {
		return nil, err
	}
	if k == nil {
		// GetAccessKeyLastUsed models no errors: the SDK gives its
		// NoSuchEntity as a generic API error, not a typed one.
		return nil, &smithy.GenericAPIError{Code: "NoSuchEntity", Message: "The Access Key with id " + id + " cannot be found"}
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	return &iam.GetAccessKeyLastUsedOutput{
		UserName:          aws.String(k.user),
		AccessKeyLastUsed: &types.AccessKeyLastUsed{LastUsedDate: k.lastUsed, Region: aws.String("N/A"), ServiceName: aws.String("N/A")},
	}, nil
}

func (f *fakeIAM) GetUser(ctx context.Context, in *iam.GetUserInput, _ ...func(*iam.Options)) (*iam.GetUserOutput, error) {
	return userCall(ctx, f, "GetUser", in.UserName, func(u *fakeUser) (*iam.GetUserOutput, error) {
		return &iam.GetUserOutput{User: &types.User{UserName: aws.String(u.name), Path: aws.String(u.path), Arn: aws.String(f.arn(u))}}, nil
	})
}

func (f *fakeIAM) ListUserTags(ctx context.Context, in *iam.ListUserTagsInput, _ ...func(*iam.Options)) (*iam.ListUserTagsOutput, error) {
	return userCall(ctx, f, "ListUserTags", in.UserName, func(u *fakeUser) (*iam.ListUserTagsOutput, error) {
		start, end, next, err := f.page(len(u.tags), in.Marker, in.MaxItems)
		if err != nil {
			return nil, err
		}
		return &iam.ListUserTagsOutput{IsTruncated: next != nil, Marker: next, Tags: append([]types.Tag(nil), u.tags[start:end]...)}, nil
	})
}

// GetAccountAuthorizationDetails answers the users (Filter User) with their
// tags and an inline policy, as IAM does. Like IAM, it may return fewer than
// MaxItems with more to come: pages hold at most pageSize users when set.
func (f *fakeIAM) GetAccountAuthorizationDetails(ctx context.Context, in *iam.GetAccountAuthorizationDetailsInput, _ ...func(*iam.Options)) (*iam.GetAccountAuthorizationDetailsOutput, error) {
	if err := f.enter(ctx, "GetAccountAuthorizationDetails", ""); err != nil {
		return nil, err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	maxItems := in.MaxItems
	if f.pageSize > 0 && (maxItems == nil || int(*maxItems) > f.pageSize) {
		maxItems = aws.Int32(int32(f.pageSize))
	}
	start, end, next, err := f.page(len(f.users), in.Marker, maxItems)
	if err != nil {
		return nil, err
	}
	out := &iam.GetAccountAuthorizationDetailsOutput{IsTruncated: next != nil, Marker: next}
	if !slices.Contains(in.Filter, types.EntityTypeUser) && len(in.Filter) > 0 {
		return out, nil
	}
	for _, u := range f.users[start:end] {
		out.UserDetailList = append(out.UserDetailList, types.UserDetail{
			UserName: aws.String(u.name), Path: aws.String(u.path), Arn: aws.String(f.arn(u)),
			Tags:           append([]types.Tag(nil), u.tags...),
			UserPolicyList: []types.PolicyDetail{{PolicyName: aws.String("inline"), PolicyDocument: aws.String(`{"Version":"2012-10-17","Statement":[]}`)}},
		})
	}
	return out, nil
}

func (f *fakeIAM) UpdateAccessKey(ctx context.Context, in *iam.UpdateAccessKeyInput, _ ...func(*iam.Options)) (*iam.UpdateAccessKeyOutput, error) {
	return keyCall(ctx, f, "UpdateAccessKey", in.UserName, in.AccessKeyId, func(k *fakeKey) { k.status = in.Status }, &iam.UpdateAccessKeyOutput{})
}

func (f *fakeIAM) DeleteAccessKey(ctx context.Context, in *iam.DeleteAccessKeyInput, _ ...func(*iam.Options)) (*iam.DeleteAccessKeyOutput, error) {
	return keyCall(ctx, f, "DeleteAccessKey", in.UserName, in.AccessKeyId, func(k *fakeKey) { delete(f.keys, k.id) }, &iam.DeleteAccessKeyOutput{})
}

// fakeSTS answers GetCallerIdentity and counts the calls.
type fakeSTS struct {
	mu      sync.Mutex
	account string
	calls   int
}

var _ STSAPI = (*fakeSTS)(nil)

func (f *fakeSTS) GetCallerIdentity(context.Context, *sts.GetCallerIdentityInput, ...func(*sts.Options)) (*sts.GetCallerIdentityOutput, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls++
	return &sts.GetCallerIdentityOutput{Account: aws.String(f.account)}, nil
}
