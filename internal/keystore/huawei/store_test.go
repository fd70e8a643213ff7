package huawei_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/keysweep/keysweep/internal/domain"
	"github.com/keysweep/keysweep/internal/keystore/huawei"
	"github.com/keysweep/keysweep/internal/testenv/huaweiiam"
)

func TestInventoryPagesUsersAndReadsEveryKeysFacts(t *testing.T) {
	f := newFixture(t, huaweiiam.Options{UsersPageSize: 7}, nil)
	domainID := f.srv.DomainID()
	var want []domain.Owner
	keys := 0
	for i := range 25 {
		name := fmt.Sprintf("user-%02d", i)
		id := f.srv.AddUser(name, nil)
		o := domain.Owner{Name: name, ID: id, Keys: []domain.Key{}}
		for j := range i % 3 {
			created := ago(time.Duration(400+i) * day)
			var last *time.Time
			if j == 0 {
				last = ptr(ago(time.Duration(i) * day))
			}
			ak := f.srv.AddKey(id, created, last)
			if i == 7 && j == 1 {
				f.srv.SetKey(ak, func(k *huaweiiam.Key) { k.Status = "inactive"; k.Description = "ci" })
			}
			k := domain.Key{ID: ak, Account: domainID, Owner: name, Status: domain.StatusActive, CreatedAt: created,
				LastUsedAt: last, LastUseKnown: true}
			if i == 7 && j == 1 {
				k.Status, k.Description = domain.StatusInactive, "ci"
			}
			o.Keys = append(o.Keys, k)
			keys++
		}
		want = append(want, o)
	}

	inv, err := f.store.Inventory(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(want, inv.Owners); diff != "" {
		t.Errorf("owners (-want +got)\n%s", diff)
	}
	if inv.Source != huawei.SourceList || inv.Keys() != keys {
		t.Errorf("source %q, %d keys; want list, %d", inv.Source, inv.Keys(), keys)
	}
	wantCalls := map[string]int{
		huaweiiam.RouteListUsers:       4, // 25 users, 7 a page
		huaweiiam.RouteListCredentials: 25,
		huaweiiam.RouteShowCredential:  keys,
	}
	if diff := cmp.Diff(wantCalls, f.srv.Calls()); diff != "" {
		t.Errorf("server calls (-want +got)\n%s", diff)
	}
	if diff := cmp.Diff(map[string]int{huawei.OpListUsers: 4, huawei.OpListCredentials: 25, huawei.OpShowCredential: keys}, f.store.Calls()); diff != "" {
		t.Errorf("store calls (-want +got)\n%s", diff)
	}
}

func TestNeverUsedKeyHasNoLastUse(t *testing.T) {
	f := newFixture(t, huaweiiam.Options{}, nil)
	created := ago(100 * day)
	ak := f.srv.AddKey(f.srv.AddUser("svc-never", nil), created, nil)
	got, err := f.store.FindKey(context.Background(), ak)
	if err != nil {
		t.Fatal(err)
	}
	want := domain.Key{ID: ak, Account: f.srv.DomainID(), Owner: "svc-never", Status: domain.StatusActive,
		CreatedAt: created, LastUseKnown: true}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("never used key (-want +got)\n%s", diff)
	}
}

func TestDeactivateThenDeleteThenGone(t *testing.T) {
	f := newFixture(t, huaweiiam.Options{}, nil)
	ctx := context.Background()
	uid := f.srv.AddUser("alice", nil)
	ak := f.srv.AddKey(uid, ago(500*day), ptr(ago(200*day)))
	key := domain.Key{ID: ak, Owner: "alice"}

	if err := f.store.Deactivate(ctx, key); err != nil {
		t.Fatal(err)
	}
	if k, _ := f.srv.Key(ak); k.Status != "inactive" {
		t.Fatalf("server status %s", k.Status)
	}
	got, err := f.store.Recheck(ctx, key, true)
	if err != nil || got.Status != domain.StatusInactive || got.Owner != "alice" || got.LastUsedAt == nil {
		t.Fatalf("recheck = %+v, %v", got, err)
	}
	if err := f.store.Delete(ctx, key); err != nil {
		t.Fatal(err)
	}
	if _, ok := f.srv.Key(ak); ok {
		t.Fatal("the key is still there")
	}
	for name, call := range map[string]func() error{
		"delete":     func() error { return f.store.Delete(ctx, key) },
		"deactivate": func() error { return f.store.Deactivate(ctx, key) },
		"recheck":    func() error { _, err := f.store.Recheck(ctx, key, true); return err },
		"find":       func() error { _, err := f.store.FindKey(ctx, ak); return err },
	} {
		err := call()
		var se *domain.ServiceError
		if !errors.Is(err, domain.ErrKeyNotFound) || !errors.As(err, &se) || se.Service != huawei.ServiceName {
			t.Errorf("%s of a gone key: %v, want a ServiceError wrapping ErrKeyNotFound", name, err)
		}
	}
}

func TestOwnerKeysCarryNoLastUse(t *testing.T) {
	f := newFixture(t, huaweiiam.Options{}, nil)
	uid := f.srv.AddUser("bob", nil)
	created := ago(10 * day)
	ak := f.srv.AddKey(uid, created, ptr(ago(day)))
	want := []domain.Key{{ID: ak, Account: f.srv.DomainID(), Owner: "bob", Status: domain.StatusActive, CreatedAt: created}}
	for _, owner := range []domain.Owner{{Name: "bob", ID: uid}, {Name: "bob"}} {
		got, err := f.store.OwnerKeys(context.Background(), owner)
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("owner keys of %+v (-want +got)\n%s", owner, diff)
		}
	}
	if got := f.store.Calls()[huawei.OpListUsers]; got != 1 {
		t.Errorf("an owner without id costs one name lookup; got %d", got)
	}
	_, err := f.store.OwnerKeys(context.Background(), domain.Owner{Name: "nobody"})
	if !errors.Is(err, domain.ErrKeyNotFound) {
		t.Errorf("unknown owner: %v", err)
	}
}

func TestFindKeyReadsTheOwnersName(t *testing.T) {
	f := newFixture(t, huaweiiam.Options{}, nil)
	ak := f.srv.AddKey(f.srv.AddUser("carol", nil), ago(3*day), ptr(ago(time.Hour)))
	got, err := f.store.FindKey(context.Background(), ak)
	if err != nil || got.Owner != "carol" || got.Account != f.srv.DomainID() {
		t.Fatalf("find = %+v, %v", got, err)
	}
	if diff := cmp.Diff(map[string]int{huawei.OpShowCredential: 1, huawei.OpShowUser: 1}, f.store.Calls()); diff != "" {
		t.Errorf("calls (-want +got)\n%s", diff)
	}
	for _, id := range []string{"../../v3/users", "AK?x=1", ""} {
		if _, err := f.store.FindKey(context.Background(), id); !errors.Is(err, domain.ErrKeyNotFound) {
			t.Errorf("find %q: %v, want ErrKeyNotFound", id, err)
		}
	}
	if n := f.srv.Calls()[huaweiiam.RouteUnknown]; n != 0 {
		t.Errorf("an invalid id reached the server %d times", n)
	}
}

func TestRetriesThrottlingAndServerErrors(t *testing.T) {
	tests := []struct {
		name     string
		status   int
		times    int
		wantErr  bool
		attempts int
	}{
		{"429 twice, then success", http.StatusTooManyRequests, 2, false, 3},
		{"503 once, then success", http.StatusServiceUnavailable, 1, false, 2},
		{"500 once, then success", http.StatusInternalServerError, 1, false, 2},
		{"429 forever: bounded", http.StatusTooManyRequests, -1, true, 5},
		{"403: no retry", http.StatusForbidden, -1, true, 1},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f := newFixture(t, huaweiiam.Options{}, nil)
			ak := f.srv.AddKey(f.srv.AddUser("dave", nil), ago(day), nil)
			f.srv.Fail(huaweiiam.RouteShowCredential, tc.status, tc.times)
			_, err := f.store.FindKey(context.Background(), ak)
			if got := f.store.Attempts()[huawei.OpShowCredential]; got != tc.attempts {
				t.Errorf("%d attempts, want %d", got, tc.attempts)
			}
			if !tc.wantErr {
				if err != nil {
					t.Fatal(err)
				}
				return
			}
			var se *domain.ServiceError
			var ae *huawei.APIError
			if !errors.As(err, &se) || !errors.As(err, &ae) || ae.Status != tc.status || errors.Is(err, domain.ErrKeyNotFound) {
				t.Fatalf("error %v: want a ServiceError around HTTP %d", err, tc.status)
			}
			if tc.status == http.StatusTooManyRequests && (!ae.Throttled() || ae.Code != huawei.CodeThrottled) {
				t.Errorf("throttled error %+v", ae)
			}
			if tc.status == http.StatusForbidden && ae.Code != "IAM.0002" {
				t.Errorf("403 code %q", ae.Code)
			}
		})
	}
}

func TestRetriesStayWithinBudgetAndDeadline(t *testing.T) {
	f := newFixture(t, huaweiiam.Options{}, func(c *huawei.Config) {
		c.Retry = huawei.Retry{Attempts: 50, Base: 100 * time.Millisecond, Max: time.Second, Budget: 3 * time.Second}
	})
	ak := f.srv.AddKey(f.srv.AddUser("erin", nil), ago(day), nil)
	f.srv.Fail("", http.StatusTooManyRequests, -1)
	ctx, cancel := context.WithTimeout(context.Background(), 400*time.Millisecond)
	defer cancel()
	start := time.Now()
	_, err := f.store.FindKey(ctx, ak)
	if err == nil || time.Since(start) > 400*time.Millisecond+time.Second {
		t.Fatalf("err %v after %v: want a failure before the deadline", err, time.Since(start))
	}
	if n := f.store.Attempts()[huawei.OpShowCredential]; n < 2 || n > 6 {
		t.Errorf("%d attempts within a 400ms deadline", n)
	}
	if f.store.Throttles()[huawei.OpShowCredential] == 0 {
		t.Error("no throttle counted")
	}
}

func TestWrongSecretKeyIsRefused(t *testing.T) {
	const wrong = "this-is-not-the-callers-secret-key"
	srv := huaweiiam.Start(t, huaweiiam.Options{})
	srv.AddUser("frank", nil)
	store, err := huawei.New(huawei.Config{Endpoint: srv.URL, DomainID: srv.DomainID(),
		Credentials: huawei.Credentials{AccessKeyID: srv.Caller().AccessKeyID, SecretAccessKey: wrong}})
	if err != nil {
		t.Fatal(err)
	}
	_, err = store.Inventory(context.Background())
	var ae *huawei.APIError
	if !errors.As(err, &ae) || ae.Status != http.StatusUnauthorized || ae.Code != huawei.CodeSignature {
		t.Fatalf("inventory with a wrong SK: %v, want 401 %s", err, huawei.CodeSignature)
	}
	if got := store.Attempts()[huawei.OpListUsers]; got != 1 {
		t.Errorf("a 401 was tried %d times", got)
	}
	if diff := cmp.Diff(map[int]int{http.StatusUnauthorized: 1}, srv.Statuses()); diff != "" {
		t.Errorf("server answers (-want +got)\n%s", diff)
	}
}

func TestUnreachableEndpointFailsFast(t *testing.T) {
	srv := huaweiiam.New(huaweiiam.Options{})
	url := srv.URL
	srv.Close()
	start := time.Now()
	_, err := huawei.Open(context.Background(), huawei.Config{Endpoint: url, DomainID: "d1", V5: huawei.V5Auto,
		Credentials: huawei.Credentials{AccessKeyID: "AK", SecretAccessKey: "SK"}})
	var se *domain.ServiceError
	if !errors.As(err, &se) || time.Since(start) > 2*time.Second {
		t.Fatalf("open an unreachable endpoint: %v after %v", err, time.Since(start))
	}
	if want := "endpoint unreachable"; !strings.Contains(err.Error(), want) {
		t.Errorf("error %q does not say %q", err, want)
	}
}

func TestV3OnlyAndV5Endpoints(t *testing.T) {
	tags := map[string]string{"keysweep:exempt": "true", "team": "data"}
	t.Run("v3 only (OTC)", func(t *testing.T) {
		f := newFixture(t, huaweiiam.Options{}, func(c *huawei.Config) { c.V5 = huawei.V5Auto })
		uid := f.srv.AddUser("gina", tags)
		if f.store.Capabilities().OwnerTags {
			t.Error("owner tags without v5")
		}
		_, err := f.store.OwnerTags(context.Background(), domain.Owner{Name: "gina", ID: uid})
		if !errors.Is(err, domain.ErrUnsupported) {
			t.Errorf("owner tags: %v, want ErrUnsupported", err)
		}
		inv, err := f.store.Inventory(context.Background())
		if err != nil || len(inv.Notes) != 1 {
			t.Errorf("inventory %v, notes %q", err, inv.Notes)
		}
	})
	t.Run("v5 offered", func(t *testing.T) {
		f := newFixture(t, huaweiiam.Options{V5: true}, func(c *huawei.Config) { c.V5 = huawei.V5Auto })
		uid := f.srv.AddUser("gina", tags)
		if !f.store.Capabilities().OwnerTags {
			t.Error("no owner tags with v5")
		}
		got, err := f.store.OwnerTags(context.Background(), domain.Owner{Name: "gina", ID: uid})
		if diff := cmp.Diff(tags, got); err != nil || diff != "" {
			t.Errorf("tags %v (-want +got)\n%s", err, diff)
		}
	})
	t.Run("v5 forced on a v3-only endpoint", func(t *testing.T) {
		f := newFixture(t, huaweiiam.Options{}, func(c *huawei.Config) { c.V5 = huawei.V5On })
		uid := f.srv.AddUser("gina", tags)
		_, err := f.store.OwnerTags(context.Background(), domain.Owner{Name: "gina", ID: uid})
		var ae *huawei.APIError
		if !errors.As(err, &ae) || ae.Code != "APIG.0101" {
			t.Errorf("owner tags: %v, want the gateway's 404", err)
		}
	})
	t.Run("owner path", func(t *testing.T) {
		f := newFixture(t, huaweiiam.Options{}, nil)
		if _, err := f.store.OwnerPath(context.Background(), domain.Owner{Name: "x"}); !errors.Is(err, domain.ErrUnsupported) {
			t.Errorf("owner path: %v", err)
		}
		want := domain.Capabilities{Deactivate: true, LastUsed: true}
		if diff := cmp.Diff(want, f.store.Capabilities(), cmpopts.EquateEmpty()); diff != "" {
			t.Errorf("capabilities (-want +got)\n%s", diff)
		}
	})
}

func TestAccountAsksIAMWhenNotConfigured(t *testing.T) {
	f := newFixture(t, huaweiiam.Options{DomainID: "0ae9c6993a2e47bb8c4c7a9bb8278d61"}, func(c *huawei.Config) { c.DomainID = "" })
	for range 2 {
		got, err := f.store.Account(context.Background())
		if err != nil || got != "0ae9c6993a2e47bb8c4c7a9bb8278d61" {
			t.Fatalf("account %q, %v", got, err)
		}
	}
	if got := f.store.Calls()[huawei.OpListAuthDomains]; got != 1 {
		t.Errorf("%d domain look-ups, want 1", got)
	}
	if f.store.Provider() != domain.ProviderHuawei {
		t.Errorf("provider %q", f.store.Provider())
	}
}

func TestInventoryLeavesOutWhatVanishedWhileListing(t *testing.T) {
	f := newFixture(t, huaweiiam.Options{}, nil)
	for _, name := range []string{"a", "b"} {
		id := f.srv.AddUser(name, nil)
		f.srv.AddKey(id, ago(day), nil)
		f.srv.AddKey(id, ago(2*day), nil)
	}
	f.srv.Fail(huaweiiam.RouteListCredentials, http.StatusNotFound, 1) // the first user listed is gone
	f.srv.Fail(huaweiiam.RouteShowCredential, http.StatusNotFound, 1)  // and one key of the other
	inv, err := f.store.Inventory(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if len(inv.Owners) != 1 || inv.Keys() != 1 {
		t.Errorf("%d owners with %d keys, want 1 with 1", len(inv.Owners), inv.Keys())
	}
}
