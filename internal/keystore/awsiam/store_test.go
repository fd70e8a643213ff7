package awsiam

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/iam/types"
	"github.com/aws/smithy-go"
	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	"github.com/keysweep/keysweep/internal/domain"
)

const testAccount = "123456789012"

var quiet = slog.New(slog.NewTextHandler(io.Discard, nil))

// fastOptions polls without waiting and records the sleeps asked for.
func fastOptions(sleeps *[]time.Duration) Options {
	var mu sync.Mutex
	return Options{
		ReportWait:   50 * time.Millisecond,
		PollInterval: 10 * time.Millisecond,
		Account:      testAccount,
		Logger:       quiet,
		Sleep: func(ctx context.Context, d time.Duration) error {
			mu.Lock()
			defer mu.Unlock()
			if sleeps != nil {
				*sleeps = append(*sleeps, d)
			}
			return ctx.Err()
		},
	}
}

// seedUsers adds n users (u00, u01, ...) with i%3 keys each; user u03 has
// five keys so that ListAccessKeys pages. It returns the inventory the
// listing must give.
func seedUsers(f *fakeIAM, n int) []domain.Owner {
	base := ts("2024-01-01T00:00:00Z")
	var want []domain.Owner
	for i := range n {
		name, path := fmt.Sprintf("u%02d", i), "/"
		if i%2 == 1 {
			path = "/service/"
		}
		f.addUser(name, path)
		u := domain.Owner{Name: name, Path: path, ARN: "arn:aws:iam::" + testAccount + ":user" + path + name, Keys: []domain.Key{}}
		nkeys := i % 3
		if i == 3 {
			nkeys = 5
		}
		for j := range nkeys {
			id := fmt.Sprintf("AKIA%02d%02d", i, j)
			created := base.Add(time.Duration(i*10+j) * time.Hour)
			status, pstatus := types.StatusTypeActive, domain.StatusActive
			var last *time.Time
			if j%2 == 0 {
				t := created.Add(48 * time.Hour)
				last = &t
			} else {
				status, pstatus = types.StatusTypeInactive, domain.StatusInactive
			}
			f.addKey(name, id, status, created, last)
			u.Keys = append(u.Keys, domain.Key{
				Account: testAccount, Owner: name, ID: id, LastUseKnown: true,
				Status: pstatus, CreatedAt: created, LastUsedAt: last,
			})
		}
		want = append(want, u)
	}
	return want
}

func TestInventoryListing(t *testing.T) {
	f := newFakeIAM()
	want := seedUsers(f, 7)
	opts := fastOptions(nil)
	opts.NoReport = true
	p := f.store(nil, opts)

	before := time.Now().UTC()
	inv, err := p.Inventory(context.Background())
	if err != nil {
		t.Fatalf("Inventory: %v", err)
	}
	if inv.Source != SourceList || inv.Fallback != "credential report: disabled" {
		t.Errorf("Source, Fallback = %q, %q; want %q, %q", inv.Source, inv.Fallback, SourceList, "credential report: disabled")
	}
	if inv.GeneratedAt.Before(before) || inv.GeneratedAt.After(time.Now()) {
		t.Errorf("GeneratedAt = %v, want about now", inv.GeneratedAt)
	}
	if diff := cmp.Diff(want, inv.Owners); diff != "" {
		t.Errorf("Users (-want +got):\n%s", diff)
	}
	keys := 0
	for _, u := range want {
		keys += len(u.Keys)
	}
	wantCalls := map[string]int{
		"ListUsers":            4,     // 7 users, 2 a page
		"ListAccessKeys":       7 + 2, // one page each, u03's five keys take three
		"GetAccessKeyLastUsed": keys,
	}
	if diff := cmp.Diff(wantCalls, p.Calls()); diff != "" {
		t.Errorf("Calls (-want +got):\n%s", diff)
	}
}

func TestInventoryReport(t *testing.T) {
	generated := ts("2024-05-02T10:00:00Z")
	tests := []struct {
		name       string
		states     []types.ReportStateType
		getErrs    []error
		wantCalls  map[string]int
		wantSleeps int
	}{
		{
			name:       "fresh",
			states:     []types.ReportStateType{types.ReportStateTypeComplete},
			wantCalls:  map[string]int{"GenerateCredentialReport": 1, "GetCredentialReport": 1},
			wantSleeps: 0,
		},
		{
			name:       "started, in progress, complete",
			states:     []types.ReportStateType{types.ReportStateTypeStarted, types.ReportStateTypeInprogress, types.ReportStateTypeComplete},
			wantCalls:  map[string]int{"GenerateCredentialReport": 3, "GetCredentialReport": 1},
			wantSleeps: 2,
		},
		{
			name:       "get says in progress, then expired",
			getErrs:    []error{&types.CredentialReportNotReadyException{Message: aws.String("ReportInProgress")}, &types.CredentialReportExpiredException{Message: aws.String("expired")}},
			wantCalls:  map[string]int{"GenerateCredentialReport": 3, "GetCredentialReport": 3},
			wantSleeps: 2,
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f := newFakeIAM()
			seedUsers(f, 3) // the listing must not be used
			f.reportStates = tc.states
			f.reportErrs = tc.getErrs
			f.report = readTestdata(t, "credential-report.csv")
			f.reportTime = generated
			var sleeps []time.Duration
			p := f.store(nil, fastOptions(&sleeps))

			inv, err := p.Inventory(context.Background())
			if err != nil {
				t.Fatalf("Inventory: %v", err)
			}
			want := &domain.Inventory{Source: SourceReport, GeneratedAt: generated, Owners: wantReportUsers()}
			if diff := cmp.Diff(want, inv); diff != "" {
				t.Errorf("Inventory (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(tc.wantCalls, p.Calls()); diff != "" {
				t.Errorf("Calls (-want +got):\n%s", diff)
			}
			if len(sleeps) != tc.wantSleeps {
				t.Errorf("slept %d times, want %d", len(sleeps), tc.wantSleeps)
			}
			for _, d := range sleeps {
				if d != 10*time.Millisecond {
					t.Errorf("slept %v, want the poll interval", d)
				}
			}
		})
	}
}

func TestInventoryFallback(t *testing.T) {
	accessDenied := &smithy.GenericAPIError{Code: "AccessDenied", Message: "User: arn:aws:sts::123456789012:assumed-role/keysweep is not authorized to perform: iam:GenerateCredentialReport"}
	tests := []struct {
		name       string
		setup      func(f *fakeIAM)
		wantReason string
	}{
		{
			name: "report never completes",
			setup: func(f *fakeIAM) {
				f.reportStates = []types.ReportStateType{types.ReportStateTypeStarted, types.ReportStateTypeInprogress}
			},
			wantReason: "credential report: not ready in time after 50ms (last state INPROGRESS)",
		},
		{
			name:       "access denied",
			setup:      func(f *fakeIAM) { f.fail["GenerateCredentialReport"] = accessDenied },
			wantReason: "credential report: AccessDenied: " + accessDenied.Message,
		},
		{
			name:       "access denied to get",
			setup:      func(f *fakeIAM) { f.fail["GetCredentialReport"] = accessDenied },
			wantReason: "credential report: AccessDenied: " + accessDenied.Message,
		},
		{
			name:       "throttled beyond the retryer",
			setup:      func(f *fakeIAM) { f.throttle["GenerateCredentialReport"] = 1 },
			wantReason: "credential report: Throttling: Rate exceeded",
		},
		{
			name:       "unparsable report",
			setup:      func(f *fakeIAM) { f.report = []byte("<html>oops</html>\n") },
			wantReason: `credential report: parse credential report: no "user" column`,
		},
		{
			name: "report never present",
			setup: func(f *fakeIAM) {
				f.report = nil
			},
			wantReason: "credential report: not ready in time after 50ms (last state ReportNotPresent: no report)",
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f := newFakeIAM()
			want := seedUsers(f, 5)
			f.report = readTestdata(t, "credential-report.csv")
			tc.setup(f)
			p := f.store(nil, fastOptions(nil))

			inv, err := p.Inventory(context.Background())
			if err != nil {
				t.Fatalf("Inventory: %v", err)
			}
			if inv.Source != SourceList {
				t.Errorf("Source = %q, want %q", inv.Source, SourceList)
			}
			if inv.Fallback != tc.wantReason {
				t.Errorf("Fallback = %q, want %q", inv.Fallback, tc.wantReason)
			}
			if diff := cmp.Diff(want, inv.Owners); diff != "" {
				t.Errorf("Users (-want +got):\n%s", diff)
			}
		})
	}
}

// TestReportErrorCodes: the SDK's typed report errors carry IAM's codes,
// which the "report never present" reason above shows.
func TestReportErrorCodes(t *testing.T) {
	for _, tc := range []struct {
		err  smithy.APIError
		code string
	}{
		{&types.CredentialReportNotPresentException{}, "ReportNotPresent"},
		{&types.CredentialReportNotReadyException{}, "ReportInProgress"},
		{&types.CredentialReportExpiredException{}, "ReportExpired"},
	} {
		if got := tc.err.ErrorCode(); got != tc.code {
			t.Errorf("%T code = %q, want %q", tc.err, got, tc.code)
		}
	}
}

func TestInventoryListingError(t *testing.T) {
	failure := &types.ServiceFailureException{Message: aws.String("internal failure")}
	tests := []struct {
		name    string
		setup   func(f *fakeIAM)
		wantErr string
		wantAs  any
	}{
		{
			name:    "list users",
			setup:   func(f *fakeIAM) { f.fail["ListUsers"] = failure },
			wantErr: "list users",
			wantAs:  new(*types.ServiceFailureException),
		},
		{
			name:    "list access keys",
			setup:   func(f *fakeIAM) { f.failFor("ListAccessKeys", "u04", failure) },
			wantErr: "list access keys of u04",
			wantAs:  new(*types.ServiceFailureException),
		},
		{
			name:    "last used",
			setup:   func(f *fakeIAM) { f.failFor("GetAccessKeyLastUsed", "u05", failure) },
			wantErr: "user u05: get last use of access key AKIA0500",
			wantAs:  new(*types.ServiceFailureException),
		},
		{
			name:    "throttled",
			setup:   func(f *fakeIAM) { f.throttle["ListUsers"] = 1 },
			wantErr: "list users",
			wantAs:  new(smithy.APIError),
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f := newFakeIAM()
			seedUsers(f, 7)
			tc.setup(f)
			opts := fastOptions(nil)
			opts.NoReport = true
			_, err := f.store(nil, opts).Inventory(context.Background())
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Fatalf("Inventory: err = %v, want one containing %q", err, tc.wantErr)
			}
			if !errors.As(err, tc.wantAs) {
				t.Errorf("Inventory: err = %v, want errors.As %T", err, tc.wantAs)
			}
		})
	}
}

// TestInventoryListingVanished: a user or key deleted between the listing
// calls is left out rather than failing the whole inventory.
func TestInventoryListingVanished(t *testing.T) {
	f := newFakeIAM()
	want := seedUsers(f, 4)
	gone := &types.NoSuchEntityException{Message: aws.String("gone")}
	f.failFor("ListAccessKeys", "u01", gone)
	f.failFor("GetAccessKeyLastUsed", "u02", gone) // u02 has two keys
	want = []domain.Owner{want[0], want[2], want[3]}
	want[1].Keys = []domain.Key{}
	opts := fastOptions(nil)
	opts.NoReport = true
	inv, err := f.store(nil, opts).Inventory(context.Background())
	if err != nil {
		t.Fatalf("Inventory: %v", err)
	}
	if diff := cmp.Diff(want, inv.Owners); diff != "" {
		t.Errorf("Users (-want +got):\n%s", diff)
	}
}

func TestInventoryConcurrencyBound(t *testing.T) {
	tests := []struct {
		name        string
		concurrency int
		want        int
	}{
		{name: "one", concurrency: 1, want: 1},
		{name: "three", concurrency: 3, want: 3},
		{name: "default", concurrency: 0, want: DefaultConcurrency},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f := newFakeIAM()
			want := seedUsers(f, 24)
			f.delay = 5 * time.Millisecond
			opts := fastOptions(nil)
			opts.NoReport = true
			opts.Concurrency = tc.concurrency
			inv, err := f.store(nil, opts).Inventory(context.Background())
			if err != nil {
				t.Fatalf("Inventory: %v", err)
			}
			if diff := cmp.Diff(want, inv.Owners); diff != "" {
				t.Errorf("Users (-want +got):\n%s", diff)
			}
			// ListUsers runs alone; after it, one call per user in flight.
			if f.maxInFlight != tc.want {
				t.Errorf("max in flight = %d, want %d", f.maxInFlight, tc.want)
			}
		})
	}
}

func TestInventoryCancel(t *testing.T) {
	f := newFakeIAM()
	seedUsers(f, 200)
	f.delay = 20 * time.Millisecond
	opts := fastOptions(nil)
	opts.NoReport = true
	opts.Concurrency = 4
	ctx, cancel := context.WithCancel(context.Background())
	time.AfterFunc(50*time.Millisecond, cancel)

	start := time.Now()
	_, err := f.store(nil, opts).Inventory(ctx)
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("Inventory: err = %v, want context.Canceled", err)
	}
	// 200 users at 4 at a time take well over a second.
	if d := time.Since(start); d > 500*time.Millisecond {
		t.Errorf("Inventory returned %v after the cancel", d)
	}
}

// Under a deadline the report is waited for at most a third of the time
// left, then the listing takes over: a short Lambda timeout is not spent
// waiting for a report that is still being generated.
func TestReportWaitBoundedByDeadline(t *testing.T) {
	f := newFakeIAM()
	seedUsers(f, 3)
	f.reportStates = []types.ReportStateType{types.ReportStateTypeInprogress}
	opts := fastOptions(nil)
	opts.Sleep = nil // the real timer
	opts.ReportWait = time.Minute
	opts.PollInterval = 20 * time.Millisecond
	ctx, cancel := context.WithTimeout(context.Background(), 600*time.Millisecond)
	defer cancel()
	// Waiting for the report until the deadline would end in the
	// context's error; the listing answering proves the wait stopped first.
	inv, err := f.store(nil, opts).Inventory(ctx)
	if err != nil {
		t.Fatalf("Inventory: %v", err)
	}
	if inv.Source != SourceList || !strings.Contains(inv.Fallback, "not ready in time") {
		t.Errorf("source %s, fallback %q; want the listing after the report wait", inv.Source, inv.Fallback)
	}
}

func TestInventoryCancelWhilePolling(t *testing.T) {
	f := newFakeIAM()
	f.reportStates = []types.ReportStateType{types.ReportStateTypeInprogress}
	ctx, cancel := context.WithCancel(context.Background())
	opts := fastOptions(nil)
	opts.Sleep = nil // the real timer
	opts.ReportWait = time.Minute
	opts.PollInterval = time.Minute
	time.AfterFunc(20*time.Millisecond, cancel)
	_, err := f.store(nil, opts).Inventory(ctx)
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("Inventory: err = %v, want context.Canceled", err)
	}
	if n := f.calls["ListUsers"]; n != 0 {
		t.Errorf("fell back to listing after the cancel (%d ListUsers)", n)
	}
}

func TestAccountID(t *testing.T) {
	t.Run("given", func(t *testing.T) {
		s := &fakeSTS{account: "999999999999"}
		p := New(newFakeIAM(), s, Options{Account: testAccount})
		got, err := p.Account(context.Background())
		if err != nil || got != testAccount {
			t.Errorf("AccountID = %q, %v; want %q", got, err, testAccount)
		}
		if s.calls != 0 {
			t.Errorf("STS called %d times, want 0", s.calls)
		}
	})
	t.Run("from sts, once", func(t *testing.T) {
		s := &fakeSTS{account: "999999999999"}
		p := New(newFakeIAM(), s, Options{})
		for range 3 {
			got, err := p.Account(context.Background())
			if err != nil || got != "999999999999" {
				t.Errorf("AccountID = %q, %v; want %q", got, err, "999999999999")
			}
		}
		if s.calls != 1 {
			t.Errorf("STS called %d times, want 1", s.calls)
		}
	})
	t.Run("no sts", func(t *testing.T) {
		if _, err := New(newFakeIAM(), nil, Options{}).Account(context.Background()); err == nil {
			t.Error("AccountID: no error without account and sts")
		}
	})
}

func TestUserTags(t *testing.T) {
	f := newFakeIAM()
	var tags []types.Tag
	want := map[string]string{}
	for i := range 5 { // three pages
		k, v := fmt.Sprintf("k%d", i), fmt.Sprintf("v%d", i)
		tags = append(tags, types.Tag{Key: aws.String(k), Value: aws.String(v)})
		want[k] = v
	}
	f.addUser("bob", "/", tags...)
	f.addUser("eve", "/")
	p := f.store(nil, fastOptions(nil))

	got, err := p.OwnerTags(context.Background(), domain.Owner{Name: "bob"})
	if err != nil {
		t.Fatalf("UserTags: %v", err)
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("UserTags (-want +got):\n%s", diff)
	}
	got, err = p.OwnerTags(context.Background(), domain.Owner{Name: "eve"})
	if err != nil || len(got) != 0 {
		t.Errorf("UserTags(eve) = %v, %v; want empty", got, err)
	}
	if n := p.Calls()["ListUserTags"]; n != 4 {
		t.Errorf("ListUserTags calls = %d, want 4", n)
	}
}

func TestUserKeysAndActions(t *testing.T) {
	f := newFakeIAM()
	want := seedUsers(f, 4) // u03 has five keys
	p := f.store(&fakeSTS{account: testAccount}, Options{Logger: quiet})
	ctx := context.Background()

	got, err := p.OwnerKeys(ctx, domain.Owner{Name: "u03"})
	if err != nil {
		t.Fatalf("UserKeys: %v", err)
	}
	wantKeys := want[3].Keys
	for i := range wantKeys {
		wantKeys[i].LastUsedAt, wantKeys[i].LastUseKnown = nil, false
	}
	if diff := cmp.Diff(wantKeys, got); diff != "" {
		t.Errorf("UserKeys (-want +got):\n%s", diff)
	}

	owner, last, err := p.lastUsed(ctx, "AKIA0300")
	if err != nil || owner != "u03" || last == nil || !last.Equal(ts("2024-01-04T06:00:00Z")) {
		t.Errorf("LastUsed(AKIA0300) = %q, %v, %v", owner, last, err)
	}
	owner, last, err = p.lastUsed(ctx, "AKIA0301")
	if err != nil || owner != "u03" || last != nil {
		t.Errorf("LastUsed(AKIA0301) = %q, %v, %v; want never used", owner, last, err)
	}

	if err := p.Deactivate(ctx, domain.Key{Owner: "u03", ID: "AKIA0300"}); err != nil {
		t.Fatalf("Deactivate: %v", err)
	}
	if s := f.keys["AKIA0300"].status; s != types.StatusTypeInactive {
		t.Errorf("status after Deactivate = %s", s)
	}
	if err := p.Delete(ctx, domain.Key{Owner: "u03", ID: "AKIA0300"}); err != nil {
		t.Fatalf("Delete: %v", err)
	}
	if _, ok := f.keys["AKIA0300"]; ok {
		t.Error("key still there after Delete")
	}
	err = p.Delete(ctx, domain.Key{Owner: "u03", ID: "AKIA0300"})
	if !errors.Is(err, domain.ErrKeyNotFound) {
		t.Errorf("Delete again: err = %v, want domain.ErrKeyNotFound", err)
	}
	wantCalls := map[string]int{
		"ListAccessKeys": 3, "GetAccessKeyLastUsed": 2,
		"UpdateAccessKey": 1, "DeleteAccessKey": 2,
	}
	if diff := cmp.Diff(wantCalls, p.Calls()); diff != "" {
		t.Errorf("Calls (-want +got):\n%s", diff)
	}
}

func TestNotFound(t *testing.T) {
	ctx := context.Background()
	tests := []struct {
		name    string
		call    func(p *Store) error
		wantErr string
	}{
		{name: "delete unknown key", call: func(p *Store) error { return p.Delete(ctx, domain.Key{Owner: "bob", ID: "AKIANOPE"}) }, wantErr: "delete access key AKIANOPE of bob"},
		{name: "delete for unknown user", call: func(p *Store) error { return p.Delete(ctx, domain.Key{Owner: "nobody", ID: "AKIABOB"}) }, wantErr: "delete access key AKIABOB of nobody"},
		{name: "deactivate unknown key", call: func(p *Store) error { return p.Deactivate(ctx, domain.Key{Owner: "bob", ID: "AKIANOPE"}) }, wantErr: "deactivate access key AKIANOPE of bob"},
		{name: "last used unknown key", call: func(p *Store) error { _, _, err := p.lastUsed(ctx, "AKIANOPE"); return err }, wantErr: "get last use of access key AKIANOPE"},
		{name: "keys of unknown user", call: func(p *Store) error { _, err := p.OwnerKeys(ctx, domain.Owner{Name: "nobody"}); return err }, wantErr: "list access keys of nobody"},
		{name: "tags of unknown user", call: func(p *Store) error { _, err := p.OwnerTags(ctx, domain.Owner{Name: "nobody"}); return err }, wantErr: "list tags of user nobody"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f := newFakeIAM()
			f.addUser("bob", "/")
			f.addKey("bob", "AKIABOB", types.StatusTypeActive, ts("2024-01-01T00:00:00Z"), nil)
			err := tc.call(f.store(nil, fastOptions(nil)))
			if !errors.Is(err, domain.ErrKeyNotFound) {
				t.Fatalf("err = %v, want domain.ErrKeyNotFound", err)
			}
			var ae smithy.APIError
			if !errors.As(err, &ae) || ae.ErrorCode() != "NoSuchEntity" {
				t.Errorf("err = %v, want the NoSuchEntity error kept", err)
			}
			if !strings.HasPrefix(err.Error(), tc.wantErr) {
				t.Errorf("err = %q, want it to start with %q", err, tc.wantErr)
			}
		})
	}
}

func TestOtherErrorsAreNotNotFound(t *testing.T) {
	f := newFakeIAM()
	f.addUser("bob", "/")
	f.fail["DeleteAccessKey"] = &smithy.GenericAPIError{Code: "AccessDenied", Message: "no"}
	err := f.store(nil, fastOptions(nil)).Delete(context.Background(), domain.Key{Owner: "bob", ID: "AKIABOB"})
	if err == nil || errors.Is(err, domain.ErrKeyNotFound) {
		t.Fatalf("Delete: err = %v, want an error that is not ErrKeyNotFound", err)
	}
}

func TestCallsIsACopy(t *testing.T) {
	f := newFakeIAM()
	f.addUser("bob", "/")
	p := f.store(nil, fastOptions(nil))
	if _, err := p.OwnerTags(context.Background(), domain.Owner{Name: "bob"}); err != nil {
		t.Fatal(err)
	}
	c := p.Calls()
	c["ListUserTags"] = 100
	if diff := cmp.Diff(map[string]int{"ListUserTags": 1}, p.Calls(), cmpopts.EquateEmpty()); diff != "" {
		t.Errorf("Calls (-want +got):\n%s", diff)
	}
}

func TestTagsOf(t *testing.T) {
	f := newFakeIAM()
	f.pageSize = 2 // IAM may answer fewer than MaxItems: three pages for five users
	tag := func(k, v string) types.Tag { return types.Tag{Key: aws.String(k), Value: aws.String(v)} }
	f.addUser("ann", "/")
	f.addUser("bob", "/", tag("keysweep:exempt", "true"), tag("team", "data"))
	f.addUser("cid", "/")
	f.addUser("dee", "/ops/", tag("team", "ops"))
	f.addUser("eve", "/")
	p := f.store(nil, fastOptions(nil))

	got, err := p.TagsOf(context.Background(), []string{"bob", "cid", "dee", "ghost"})
	if err != nil {
		t.Fatalf("TagsOf: %v", err)
	}
	want := map[string]map[string]string{
		"bob": {"keysweep:exempt": "true", "team": "data"},
		"cid": {},
		"dee": {"team": "ops"},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("TagsOf (-want +got):\n%s", diff)
	}
	if n := p.Calls()["GetAccountAuthorizationDetails"]; n != 3 {
		t.Errorf("GetAccountAuthorizationDetails calls = %d, want 3 (one a page)", n)
	}
	if n := p.Calls()["ListUserTags"]; n != 0 {
		t.Errorf("ListUserTags calls = %d, want 0", n)
	}
	for n, want := range map[int]int{0: 1, 1: 1, 1000: 1, 1001: 2, 10000: 10, 50000: 50} {
		if got := p.TagPages(n); got != want {
			t.Errorf("TagPages(%d) = %d, want %d", n, got, want)
		}
	}

	f.fail = map[string]error{"GetAccountAuthorizationDetails": &smithy.GenericAPIError{Code: "AccessDenied", Message: "not authorized"}}
	if _, err := p.TagsOf(context.Background(), []string{"bob"}); err == nil || !strings.Contains(err.Error(), "AccessDenied") {
		t.Errorf("TagsOf when denied: err = %v, want AccessDenied", err)
	}
}

func TestRecheckAndFindKey(t *testing.T) {
	ctx := context.Background()
	f := newFakeIAM()
	f.addUser("bob", "/")
	last := ts("2024-02-02T00:00:00Z")
	f.addKey("bob", "AKIABOB", types.StatusTypeInactive, ts("2024-01-01T00:00:00Z"), &last)
	p := f.store(nil, fastOptions(nil))

	got, err := p.Recheck(ctx, domain.Key{ID: "AKIABOB", Owner: "bob", Status: domain.StatusActive}, false)
	if err != nil || got.LastUsedAt == nil || !got.LastUsedAt.Equal(last) || !got.LastUseKnown || got.Status != domain.StatusActive {
		t.Errorf("Recheck without status = %+v, %v; want last use read, status as given", got, err)
	}
	got, err = p.Recheck(ctx, domain.Key{ID: "AKIABOB", Owner: "bob", Status: domain.StatusActive}, true)
	if err != nil || got.Status != domain.StatusInactive {
		t.Errorf("Recheck with status = %+v, %v; want the live status Inactive", got, err)
	}
	if diff := cmp.Diff(map[string]int{"GetAccessKeyLastUsed": 2, "ListAccessKeys": 1}, p.Calls()); diff != "" {
		t.Errorf("calls (-want +got):\n%s", diff)
	}

	k, err := p.FindKey(ctx, "AKIABOB")
	if err != nil || k.Owner != "bob" || k.Status != domain.StatusInactive || !k.CreatedAt.Equal(ts("2024-01-01T00:00:00Z")) {
		t.Errorf("FindKey = %+v, %v", k, err)
	}
	if _, err := p.FindKey(ctx, "AKIANOPE"); !errors.Is(err, domain.ErrKeyNotFound) {
		t.Errorf("FindKey of an unknown key: %v, want ErrKeyNotFound", err)
	}

	// IAM answers AccessDenied for a key it can no longer tie to a user:
	// the owner's listing, without the key, says it is gone.
	delete(f.keys, "AKIABOB")
	f.fail["GetAccessKeyLastUsed"] = &smithy.GenericAPIError{Code: "AccessDenied", Message: "no"}
	if _, err := p.Recheck(ctx, domain.Key{ID: "AKIABOB", Owner: "bob"}, false); !errors.Is(err, domain.ErrKeyNotFound) {
		t.Errorf("Recheck of a deleted key under AccessDenied: %v, want ErrKeyNotFound", err)
	}
	f.addKey("bob", "AKIABOB2", types.StatusTypeActive, ts("2024-01-01T00:00:00Z"), nil)
	if _, err := p.Recheck(ctx, domain.Key{ID: "AKIABOB2", Owner: "bob"}, false); err == nil || errors.Is(err, domain.ErrKeyNotFound) {
		t.Errorf("Recheck of a present key under AccessDenied: %v, want the AccessDenied error", err)
	}
}

func TestCapabilities(t *testing.T) {
	p := New(newFakeIAM(), nil, Options{BulkTags: true})
	want := domain.Capabilities{Deactivate: true, LastUsed: true, OwnerTags: true, OwnerPaths: true, BulkTags: true, Report: true}
	if diff := cmp.Diff(want, p.Capabilities()); diff != "" {
		t.Errorf("capabilities (-want +got):\n%s", diff)
	}
	if c := New(newFakeIAM(), nil, Options{NoReport: true}).Capabilities(); c.Report || c.BulkTags {
		t.Errorf("without report and bulk tags: %+v", c)
	}
}
