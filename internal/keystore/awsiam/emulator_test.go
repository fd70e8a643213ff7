package awsiam

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	"github.com/aws/aws-sdk-go-v2/service/iam/types"
	"github.com/aws/aws-sdk-go-v2/service/sts"
	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/keysweep/keysweep/internal/awsconf"
	"github.com/keysweep/keysweep/internal/domain"
	"github.com/keysweep/keysweep/internal/testenv"
)

// emuAccount is moto's default account.
const emuAccount = "123456789012"

// loadEmuConfig loads the production config (awsconf.Load, which the
// harness's AWS_ENDPOINT_URL points at the emulator) with a short backoff so
// retries do not slow the tests.
func loadEmuConfig(t *testing.T, maxAttempts int) aws.Config {
	t.Helper()
	cfg, err := awsconf.Load(t.Context(), config.WithRetryer(func() aws.Retryer {
		return awsconf.NewRetryer(awsconf.RetryOptions{MaxAttempts: maxAttempts, MaxBackoff: 10 * time.Millisecond})
	}))
	if err != nil {
		t.Fatalf("awsconf.Load: %v", err)
	}
	return cfg
}

type emuKey struct {
	user     string
	created  time.Time
	lastUsed *time.Time
	inactive bool
}

// seedEmulator creates users with paths and keys, backdates the keys, and
// returns the inventory a listing must give (ids included).
func seedEmulator(t *testing.T, emu *testenv.Emu, client *iam.Client) []domain.Owner {
	t.Helper()
	ctx := t.Context()
	users := []struct{ name, path string }{
		{"alice", "/"}, {"bob", "/service/app/"}, {"carol", "/"}, {"dave", "/ops/"},
	}
	keys := []emuKey{
		{user: "alice", created: ts("2023-11-02T10:15:42Z"), lastUsed: tp("2024-04-29T16:03:00Z")},
		{user: "bob", created: ts("2021-06-15T08:01:12Z")},
		{user: "dave", created: ts("2018-07-08T12:00:00Z"), lastUsed: tp("2019-01-01T00:00:00Z")},
		{user: "dave", created: ts("2020-02-29T23:59:59Z"), inactive: true},
	}
	want := map[string]*domain.Owner{}
	for _, u := range users {
		out, err := client.CreateUser(ctx, &iam.CreateUserInput{UserName: aws.String(u.name), Path: aws.String(u.path)})
		if err != nil {
			t.Fatalf("create user %s: %v", u.name, err)
		}
		want[u.name] = &domain.Owner{Name: u.name, Path: u.path, ARN: aws.ToString(out.User.Arn), Keys: []domain.Key{}}
	}
	for _, k := range keys {
		out, err := client.CreateAccessKey(ctx, &iam.CreateAccessKeyInput{UserName: aws.String(k.user)})
		if err != nil {
			t.Fatalf("create access key for %s: %v", k.user, err)
		}
		id := aws.ToString(out.AccessKey.AccessKeyId)
		emu.SetKey(t, id, k.created, k.lastUsed)
		status := domain.StatusActive
		if k.inactive {
			status = domain.StatusInactive
			if _, err := client.UpdateAccessKey(ctx, &iam.UpdateAccessKeyInput{
				UserName: aws.String(k.user), AccessKeyId: aws.String(id), Status: types.StatusTypeInactive,
			}); err != nil {
				t.Fatalf("deactivate %s: %v", id, err)
			}
		}
		u := want[k.user]
		u.Keys = append(u.Keys, domain.Key{
			Account: emuAccount, Owner: k.user, ID: id,
			Status: status, CreatedAt: k.created, LastUsedAt: k.lastUsed, LastUseKnown: true,
		})
	}
	if _, err := client.TagUser(ctx, &iam.TagUserInput{UserName: aws.String("bob"), Tags: []types.Tag{
		{Key: aws.String("team"), Value: aws.String("payments")},
		{Key: aws.String("keysweep:exempt"), Value: aws.String("true")},
	}}); err != nil {
		t.Fatalf("tag bob: %v", err)
	}
	var list []domain.Owner
	for _, u := range users {
		list = append(list, *want[u.name])
	}
	return list
}

// withoutIDs is the inventory as the credential report gives it.
func withoutIDs(users []domain.Owner) []domain.Owner {
	out := make([]domain.Owner, len(users))
	for i, u := range users {
		u.Keys = append([]domain.Key{}, u.Keys...)
		for j := range u.Keys {
			u.Keys[j].ID = ""
		}
		out[i] = u
	}
	return out
}

// byCreation compares a user's keys whatever their order: the report's two
// slots and ListAccessKeys need not agree on it.
// The report numbers its slots where a listing gives ids: Slot is not
// compared.
var byCreation = cmp.Options{
	cmpopts.SortSlices(func(a, b domain.Key) bool { return a.CreatedAt.Before(b.CreatedAt) }),
	cmpopts.IgnoreFields(domain.Key{}, "Slot"),
}

func TestEmulatorProvider(t *testing.T) {
	emu := testenv.Emulator(t)
	emu.Reset(t)
	cfg := loadEmuConfig(t, awsconf.DefaultMaxAttempts)
	counter := NewCounter()
	client := NewClient(cfg, counter)
	want := seedEmulator(t, emu, client)
	ctx := t.Context()

	newStore := func(noReport bool) *Store {
		c := NewCounter()
		return New(NewClient(cfg, c), sts.NewFromConfig(cfg), Options{
			Counter:      c,
			PollInterval: 20 * time.Millisecond,
			ReportWait:   5 * time.Second,
			NoReport:     noReport,
			Logger:       quiet,
		})
	}

	t.Run("account", func(t *testing.T) {
		got, err := newStore(false).Account(ctx)
		if err != nil || got != emuAccount {
			t.Errorf("AccountID = %q, %v; want %q", got, err, emuAccount)
		}
	})

	t.Run("inventory from the report", func(t *testing.T) {
		emu.ReportMode(t, "snapshot", true)
		p := newStore(false)
		before := time.Now().Add(-time.Second)
		inv, err := p.Inventory(ctx)
		if err != nil {
			t.Fatalf("Inventory: %v", err)
		}
		if inv.Source != SourceReport || inv.Fallback != "" {
			t.Fatalf("Source, Fallback = %q, %q; want the report", inv.Source, inv.Fallback)
		}
		if inv.GeneratedAt.Before(before.Truncate(time.Second)) || inv.GeneratedAt.After(time.Now()) {
			t.Errorf("GeneratedAt = %v, want about now", inv.GeneratedAt)
		}
		if diff := cmp.Diff(withoutIDs(want), inv.Owners, byCreation); diff != "" {
			t.Errorf("Users (-want +got):\n%s", diff)
		}
		if p.Calls()["GetCredentialReport"] != 1 {
			t.Errorf("Calls = %v, want one GetCredentialReport", p.Calls())
		}
	})

	t.Run("inventory by listing", func(t *testing.T) {
		p := newStore(true)
		inv, err := p.Inventory(ctx)
		if err != nil {
			t.Fatalf("Inventory: %v", err)
		}
		if inv.Source != SourceList || inv.Fallback != "credential report: disabled" {
			t.Errorf("Source, Fallback = %q, %q", inv.Source, inv.Fallback)
		}
		if diff := cmp.Diff(want, inv.Owners, byCreation); diff != "" {
			t.Errorf("Users (-want +got):\n%s", diff)
		}
	})

	t.Run("report denied", func(t *testing.T) {
		emu.Fault(t, "IAM.GenerateCredentialReport", "AccessDenied", 403, 0)
		defer emu.ClearFaults(t) // not t.Cleanup: the harness uses t.Context, done by then
		inv, err := newStore(false).Inventory(ctx)
		if err != nil {
			t.Fatalf("Inventory: %v", err)
		}
		if inv.Source != SourceList || !strings.HasPrefix(inv.Fallback, "credential report: AccessDenied: ") {
			t.Errorf("Source, Fallback = %q, %q; want the listing after AccessDenied", inv.Source, inv.Fallback)
		}
		if diff := cmp.Diff(want, inv.Owners, byCreation); diff != "" {
			t.Errorf("Users (-want +got):\n%s", diff)
		}
	})

	t.Run("tags, keys, last use", func(t *testing.T) {
		p := newStore(false)
		tags, err := p.OwnerTags(ctx, domain.Owner{Name: "bob"})
		if err != nil {
			t.Fatalf("UserTags: %v", err)
		}
		if diff := cmp.Diff(map[string]string{"team": "payments", "keysweep:exempt": "true"}, tags); diff != "" {
			t.Errorf("UserTags (-want +got):\n%s", diff)
		}
		bulk, err := p.TagsOf(ctx, []string{"bob", "dave", "nobody"})
		if err != nil {
			t.Fatalf("TagsOf: %v", err)
		}
		if diff := cmp.Diff(map[string]string{"team": "payments", "keysweep:exempt": "true"}, bulk["bob"]); diff != "" {
			t.Errorf("TagsOf bob (-want +got):\n%s", diff)
		}
		if _, ok := bulk["nobody"]; ok || len(bulk) != 2 {
			t.Errorf("TagsOf = %v, want bob and dave only", bulk)
		}
		if n := p.Calls()["GetAccountAuthorizationDetails"]; n != 1 {
			t.Errorf("GetAccountAuthorizationDetails calls = %d, want 1", n)
		}
		keys, err := p.OwnerKeys(ctx, domain.Owner{Name: "dave"})
		if err != nil {
			t.Fatalf("UserKeys: %v", err)
		}
		wantKeys := append([]domain.Key{}, want[3].Keys...)
		for i := range wantKeys {
			wantKeys[i].LastUsedAt, wantKeys[i].LastUseKnown = nil, false
		}
		if diff := cmp.Diff(wantKeys, keys, byCreation); diff != "" {
			t.Errorf("UserKeys (-want +got):\n%s", diff)
		}
		for _, k := range want[3].Keys {
			owner, last, err := p.lastUsed(ctx, k.ID)
			if err != nil || owner != "dave" || !cmp.Equal(k.LastUsedAt, last) {
				t.Errorf("LastUsed(%s) = %q, %v, %v; want dave, %v", k.ID, owner, last, err, k.LastUsedAt)
			}
		}
	})

	t.Run("deactivate then delete", func(t *testing.T) {
		p := newStore(false)
		id := want[1].Keys[0].ID // bob's
		if err := p.Deactivate(ctx, domain.Key{Owner: "bob", ID: id}); err != nil {
			t.Fatalf("Deactivate: %v", err)
		}
		keys, err := p.OwnerKeys(ctx, domain.Owner{Name: "bob"})
		if err != nil || len(keys) != 1 || keys[0].Status != domain.StatusInactive {
			t.Fatalf("UserKeys after Deactivate = %+v, %v", keys, err)
		}
		if err := p.Delete(ctx, domain.Key{Owner: "bob", ID: id}); err != nil {
			t.Fatalf("Delete: %v", err)
		}
		if err := p.Delete(ctx, domain.Key{Owner: "bob", ID: id}); !errors.Is(err, domain.ErrKeyNotFound) {
			t.Errorf("Delete again: err = %v, want domain.ErrKeyNotFound", err)
		}
		if err := p.Deactivate(ctx, domain.Key{Owner: "bob", ID: id}); !errors.Is(err, domain.ErrKeyNotFound) {
			t.Errorf("Deactivate deleted key: err = %v, want domain.ErrKeyNotFound", err)
		}
		if _, _, err := p.lastUsed(ctx, id); !errors.Is(err, domain.ErrKeyNotFound) {
			t.Errorf("LastUsed of deleted key: err = %v, want domain.ErrKeyNotFound", err)
		}
		if _, err := p.OwnerKeys(ctx, domain.Owner{Name: "nobody"}); !errors.Is(err, domain.ErrKeyNotFound) {
			t.Errorf("UserKeys of unknown user: err = %v, want domain.ErrKeyNotFound", err)
		}
	})
}

// TestEmulatorThrottling: throttling is retried by the retryer awsconf sets
// up, and the Counter sees every attempt and every throttle.
func TestEmulatorThrottling(t *testing.T) {
	emu := testenv.Emulator(t)
	emu.Reset(t)
	seed := NewClient(loadEmuConfig(t, 1), NewCounter())
	seedEmulator(t, emu, seed)
	ctx := t.Context()

	t.Run("retried", func(t *testing.T) {
		counter := NewCounter()
		p := New(NewClient(loadEmuConfig(t, awsconf.DefaultMaxAttempts), counter), nil, Options{Account: emuAccount, Logger: quiet, Counter: counter})
		emu.Fault(t, "IAM.ListAccessKeys", "Throttling", 400, 2)
		defer emu.ClearFaults(t) // not t.Cleanup: the harness uses t.Context, done by then
		before := emu.Calls(t)["IAM.ListAccessKeys"]

		keys, err := p.OwnerKeys(ctx, domain.Owner{Name: "dave"})
		if err != nil {
			t.Fatalf("UserKeys: %v", err)
		}
		if len(keys) != 2 {
			t.Errorf("UserKeys = %d keys, want 2", len(keys))
		}
		if got := counter.Throttles(); got != 2 {
			t.Errorf("Throttles = %d, want 2", got)
		}
		if diff := cmp.Diff(map[string]int{"ListAccessKeys": 3}, counter.Attempts()); diff != "" {
			t.Errorf("Attempts (-want +got):\n%s", diff)
		}
		if diff := cmp.Diff(map[string]int{"ListAccessKeys": 1}, p.Calls()); diff != "" {
			t.Errorf("Calls (-want +got):\n%s", diff)
		}
		if got := emu.Calls(t)["IAM.ListAccessKeys"] - before; got != 3 {
			t.Errorf("emulator served %d ListAccessKeys, want 3", got)
		}
	})

	t.Run("gives up after max attempts", func(t *testing.T) {
		counter := NewCounter()
		p := New(NewClient(loadEmuConfig(t, 3), counter), nil, Options{Account: emuAccount, Logger: quiet})
		emu.Fault(t, "IAM.ListAccessKeys", "Throttling", 400, 0)
		defer emu.ClearFaults(t) // not t.Cleanup: the harness uses t.Context, done by then

		_, err := p.OwnerKeys(ctx, domain.Owner{Name: "dave"})
		if err == nil || errors.Is(err, domain.ErrKeyNotFound) {
			t.Fatalf("UserKeys: err = %v, want the throttling error", err)
		}
		if got := counter.Throttles(); got != 3 {
			t.Errorf("Throttles = %d, want 3", got)
		}
		if diff := cmp.Diff(map[string]int{"ListAccessKeys": 3}, counter.ThrottlesByOperation()); diff != "" {
			t.Errorf("ThrottlesByOperation (-want +got):\n%s", diff)
		}
	})

	t.Run("report throttled falls back", func(t *testing.T) {
		p := New(NewClient(loadEmuConfig(t, 2), NewCounter()), nil, Options{Account: emuAccount, Logger: quiet, PollInterval: 20 * time.Millisecond})
		emu.Fault(t, "IAM.GenerateCredentialReport", "Throttling", 400, 0)
		defer emu.ClearFaults(t) // not t.Cleanup: the harness uses t.Context, done by then
		inv, err := p.Inventory(ctx)
		if err != nil {
			t.Fatalf("Inventory: %v", err)
		}
		if inv.Source != SourceList || !strings.HasPrefix(inv.Fallback, "credential report: Throttling: ") {
			t.Errorf("Source, Fallback = %q, %q", inv.Source, inv.Fallback)
		}
	})
}
