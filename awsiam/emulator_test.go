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

	"github.com/keysweep/keysweep/awsconf"
	"github.com/keysweep/keysweep/internal/testenv"
	"github.com/keysweep/keysweep/policy"
	"github.com/keysweep/keysweep/sweep"
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
func seedEmulator(t *testing.T, emu *testenv.Emu, client *iam.Client) []sweep.User {
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
	want := map[string]*sweep.User{}
	for _, u := range users {
		out, err := client.CreateUser(ctx, &iam.CreateUserInput{UserName: aws.String(u.name), Path: aws.String(u.path)})
		if err != nil {
			t.Fatalf("create user %s: %v", u.name, err)
		}
		want[u.name] = &sweep.User{Name: u.name, Path: u.path, ARN: aws.ToString(out.User.Arn), Keys: []policy.Key{}}
	}
	for _, k := range keys {
		out, err := client.CreateAccessKey(ctx, &iam.CreateAccessKeyInput{UserName: aws.String(k.user)})
		if err != nil {
			t.Fatalf("create access key for %s: %v", k.user, err)
		}
		id := aws.ToString(out.AccessKey.AccessKeyId)
		emu.SetKey(t, id, k.created, k.lastUsed)
		status := policy.StatusActive
		if k.inactive {
			status = policy.StatusInactive
			if _, err := client.UpdateAccessKey(ctx, &iam.UpdateAccessKeyInput{
				UserName: aws.String(k.user), AccessKeyId: aws.String(id), Status: types.StatusTypeInactive,
			}); err != nil {
				t.Fatalf("deactivate %s: %v", id, err)
			}
		}
		u := want[k.user]
		u.Keys = append(u.Keys, policy.Key{
			Account: emuAccount, UserName: k.user, UserPath: u.Path, AccessKeyID: id,
			Status: status, CreatedAt: k.created, LastUsedAt: k.lastUsed,
		})
	}
	if _, err := client.TagUser(ctx, &iam.TagUserInput{UserName: aws.String("bob"), Tags: []types.Tag{
		{Key: aws.String("team"), Value: aws.String("payments")},
		{Key: aws.String("keysweep:exempt"), Value: aws.String("true")},
	}}); err != nil {
		t.Fatalf("tag bob: %v", err)
	}
	var list []sweep.User
	for _, u := range users {
		list = append(list, *want[u.name])
	}
	return list
}

// withoutIDs is the inventory as the credential report gives it.
func withoutIDs(users []sweep.User) []sweep.User {
	out := make([]sweep.User, len(users))
	for i, u := range users {
		u.Keys = append([]policy.Key{}, u.Keys...)
		for j := range u.Keys {
			u.Keys[j].AccessKeyID = ""
		}
		out[i] = u
	}
	return out
}

// byCreation compares a user's keys whatever their order: the report's two
// slots and ListAccessKeys need not agree on it.
var byCreation = cmpopts.SortSlices(func(a, b policy.Key) bool { return a.CreatedAt.Before(b.CreatedAt) })

func TestEmulatorProvider(t *testing.T) {
	emu := testenv.Emulator(t)
	emu.Reset(t)
	cfg := loadEmuConfig(t, awsconf.DefaultMaxAttempts)
	counter := NewCounter()
	client := NewClient(cfg, counter)
	want := seedEmulator(t, emu, client)
	ctx := t.Context()

	newProvider := func(noReport bool) *Provider {
		return New(client, sts.NewFromConfig(cfg), Options{
			PollInterval: 20 * time.Millisecond,
			ReportWait:   5 * time.Second,
			NoReport:     noReport,
			Logger:       quiet,
		})
	}

	t.Run("account", func(t *testing.T) {
		got, err := newProvider(false).AccountID(ctx)
		if err != nil || got != emuAccount {
			t.Errorf("AccountID = %q, %v; want %q", got, err, emuAccount)
		}
	})

	t.Run("inventory from the report", func(t *testing.T) {
		emu.ReportMode(t, "snapshot", true)
		p := newProvider(false)
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
		if diff := cmp.Diff(withoutIDs(want), inv.Users, byCreation); diff != "" {
			t.Errorf("Users (-want +got):\n%s", diff)
		}
		if p.Calls()["GetCredentialReport"] != 1 {
			t.Errorf("Calls = %v, want one GetCredentialReport", p.Calls())
		}
	})

	t.Run("inventory by listing", func(t *testing.T) {
		p := newProvider(true)
		inv, err := p.Inventory(ctx)
		if err != nil {
			t.Fatalf("Inventory: %v", err)
		}
		if inv.Source != SourceList || inv.Fallback != "credential report: disabled" {
			t.Errorf("Source, Fallback = %q, %q", inv.Source, inv.Fallback)
		}
		if diff := cmp.Diff(want, inv.Users, byCreation); diff != "" {
			t.Errorf("Users (-want +got):\n%s", diff)
		}
	})

	t.Run("report denied", func(t *testing.T) {
		emu.Fault(t, "IAM.GenerateCredentialReport", "AccessDenied", 403, 0)
		defer emu.ClearFaults(t) // not t.Cleanup: the harness uses t.Context, done by then
		inv, err := newProvider(false).Inventory(ctx)
		if err != nil {
			t.Fatalf("Inventory: %v", err)
		}
		if inv.Source != SourceList || !strings.HasPrefix(inv.Fallback, "credential report: AccessDenied: ") {
			t.Errorf("Source, Fallback = %q, %q; want the listing after AccessDenied", inv.Source, inv.Fallback)
		}
		if diff := cmp.Diff(want, inv.Users, byCreation); diff != "" {
			t.Errorf("Users (-want +got):\n%s", diff)
		}
	})

	t.Run("tags, keys, last use", func(t *testing.T) {
		p := newProvider(false)
		tags, err := p.UserTags(ctx, "bob")
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
		keys, err := p.UserKeys(ctx, "dave")
		if err != nil {
			t.Fatalf("UserKeys: %v", err)
		}
		wantKeys := append([]policy.Key{}, want[3].Keys...)
		for i := range wantKeys {
			wantKeys[i].UserPath, wantKeys[i].LastUsedAt = "", nil
		}
		if diff := cmp.Diff(wantKeys, keys, byCreation); diff != "" {
			t.Errorf("UserKeys (-want +got):\n%s", diff)
		}
		for _, k := range want[3].Keys {
			owner, last, err := p.LastUsed(ctx, k.AccessKeyID)
			if err != nil || owner != "dave" || !cmp.Equal(k.LastUsedAt, last) {
				t.Errorf("LastUsed(%s) = %q, %v, %v; want dave, %v", k.AccessKeyID, owner, last, err, k.LastUsedAt)
			}
		}
	})

	t.Run("deactivate then delete", func(t *testing.T) {
		p := newProvider(false)
		id := want[1].Keys[0].AccessKeyID // bob's
		if err := p.Deactivate(ctx, "bob", id); err != nil {
			t.Fatalf("Deactivate: %v", err)
		}
		keys, err := p.UserKeys(ctx, "bob")
		if err != nil || len(keys) != 1 || keys[0].Status != policy.StatusInactive {
			t.Fatalf("UserKeys after Deactivate = %+v, %v", keys, err)
		}
		if err := p.Delete(ctx, "bob", id); err != nil {
			t.Fatalf("Delete: %v", err)
		}
		if err := p.Delete(ctx, "bob", id); !errors.Is(err, sweep.ErrKeyNotFound) {
			t.Errorf("Delete again: err = %v, want sweep.ErrKeyNotFound", err)
		}
		if err := p.Deactivate(ctx, "bob", id); !errors.Is(err, sweep.ErrKeyNotFound) {
			t.Errorf("Deactivate deleted key: err = %v, want sweep.ErrKeyNotFound", err)
		}
		if _, _, err := p.LastUsed(ctx, id); !errors.Is(err, sweep.ErrKeyNotFound) {
			t.Errorf("LastUsed of deleted key: err = %v, want sweep.ErrKeyNotFound", err)
		}
		if _, err := p.UserKeys(ctx, "nobody"); !errors.Is(err, sweep.ErrKeyNotFound) {
			t.Errorf("UserKeys of unknown user: err = %v, want sweep.ErrKeyNotFound", err)
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
		p := New(NewClient(loadEmuConfig(t, awsconf.DefaultMaxAttempts), counter), nil, Options{Account: emuAccount, Logger: quiet})
		emu.Fault(t, "IAM.ListAccessKeys", "Throttling", 400, 2)
		defer emu.ClearFaults(t) // not t.Cleanup: the harness uses t.Context, done by then
		before := emu.Calls(t)["IAM.ListAccessKeys"]

		keys, err := p.UserKeys(ctx, "dave")
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

		_, err := p.UserKeys(ctx, "dave")
		if err == nil || errors.Is(err, sweep.ErrKeyNotFound) {
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
