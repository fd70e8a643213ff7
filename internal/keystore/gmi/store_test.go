package gmi_test

import (
	"context"
	"errors"
	"log/slog"
	"os/exec"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/keysweep/keysweep/internal/domain"
	"github.com/keysweep/keysweep/internal/engine"
	"github.com/keysweep/keysweep/internal/keystore/gmi"
	"github.com/keysweep/keysweep/internal/testenv/gmiapi"
)

var _ engine.KeyStore = (*gmi.Store)(nil)

const (
	org   = "a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11"
	adaID = "ada0ada0-0000-4000-8000-000000000001" // sorts after the other owners of TestInventory
)

var (
	now     = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	fastTry = gmi.Retry{MaxAttempts: 4, BaseDelay: time.Millisecond, MaxDelay: 4 * time.Millisecond, MaxElapsed: 5 * time.Second}
)

// env is a local GMI Cloud API with one organization, its owner's session,
// and a store on it that records the renewed secrets it is handed.
type env struct {
	srv   *gmiapi.Server
	sec   gmi.Secret
	owner gmiapi.User

	mu      sync.Mutex
	renewed []gmi.Secret
	saveErr error
}

func newEnv(t *testing.T, role string) *env {
	t.Helper()
	srv := gmiapi.New(t)
	srv.SetClock(func() time.Time { return now })
	owner := srv.AddUser(org, gmiapi.User{ID: adaID, FirstName: "Ada", LastName: "Lovelace", Role: role})
	tok, err := srv.Login(org, owner.ID, "ks1")
	if err != nil {
		t.Fatal(err)
	}
	sec := gmi.Secret{OrganizationID: org, AccessToken: tok.AccessToken, RefreshToken: tok.RefreshToken,
		ClientID: tok.ClientID, Endpoint: srv.Endpoint()}
	return &env{srv: srv, sec: sec, owner: owner}
}

func (e *env) onRenew(_ context.Context, s gmi.Secret) error {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.saveErr != nil {
		return e.saveErr
	}
	e.renewed = append(e.renewed, s)
	return nil
}

func (e *env) renewals() []gmi.Secret {
	e.mu.Lock()
	defer e.mu.Unlock()
	return append([]gmi.Secret(nil), e.renewed...)
}

// store builds a store on the env; edit adjusts its config.
func (e *env) store(t *testing.T, edit func(*gmi.Config)) *gmi.Store {
	t.Helper()
	cfg := gmi.Config{Secret: e.sec, OnRenew: e.onRenew, Retry: fastTry, Now: func() time.Time { return now },
		Logger: slog.New(slog.DiscardHandler)}
	if edit != nil {
		edit(&cfg)
	}
	s, err := gmi.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func day(n int) time.Time { return now.AddDate(0, 0, n) }

func ptr[T any](v T) *T { return &v }

func TestInventory(t *testing.T) {
	e := newEnv(t, gmiapi.RoleOwner)
	bob := &gmiapi.Owner{ID: "0b0b0b0b-0000-4000-8000-000000000001", FirstName: "Bob", LastName: "Stone"}
	ada := &gmiapi.Owner{ID: e.owner.ID, FirstName: "Ada", LastName: "Lovelace"}
	never := e.srv.AddKey(org, gmiapi.Key{Name: "ci", CreatedAt: day(-400), Owner: ada})
	expired := e.srv.AddKey(org, gmiapi.Key{Name: "old", CreatedAt: day(-40), ExpiresAt: day(-10), Owner: ada})
	later := e.srv.AddKey(org, gmiapi.Key{Name: "gpu", Scope: "ce_resource", CreatedAt: day(-5), ExpiresAt: day(30), Owner: bob})
	orphan := e.srv.AddKey(org, gmiapi.Key{Name: "orphan", CreatedAt: day(-1)})
	s := e.store(t, nil)

	inv, err := s.Inventory(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	key := func(k gmiapi.Key, owner string) domain.Key {
		dk := domain.Key{ID: k.ID, Account: org, Owner: owner, Status: domain.StatusNone, CreatedAt: k.CreatedAt.UTC(),
			Name: k.Name, Scope: k.Scope}
		if !k.ExpiresAt.IsZero() {
			dk.ExpiresAt = ptr(k.ExpiresAt.UTC())
		}
		return dk
	}
	want := &domain.Inventory{
		Source:      "list",
		GeneratedAt: now,
		Owners: []domain.Owner{
			{Name: gmi.NoOwner, Keys: []domain.Key{key(orphan, gmi.NoOwner)}},
			{Name: bob.ID, DisplayName: "Bob Stone", Keys: []domain.Key{key(later, bob.ID)}},
			{Name: ada.ID, DisplayName: "Ada Lovelace", Keys: []domain.Key{key(never, ada.ID), key(expired, ada.ID)}},
		},
	}
	if diff := cmp.Diff(want, inv); diff != "" {
		t.Errorf("inventory (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff(map[string]int{gmi.OpListAPIKeys: 1, gmi.OpGetProfile: 1}, s.Calls()); diff != "" {
		t.Errorf("calls (-want +got):\n%s", diff)
	}
	if _, err := s.Inventory(context.Background()); err != nil {
		t.Fatal(err)
	}
	if n := s.Calls()[gmi.OpGetProfile]; n != 1 {
		t.Errorf("the profile was read %d times, want once per store", n)
	}
}

func TestInventoryNotesAUserRole(t *testing.T) {
	e := newEnv(t, gmiapi.RoleUser)
	e.srv.AddKey(org, gmiapi.Key{Name: "other's", Owner: &gmiapi.Owner{ID: gmiapi.NewUUID()}})
	inv, err := e.store(t, nil).Inventory(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if inv.Keys() != 0 || len(inv.Notes) != 1 {
		t.Fatalf("inventory of an organization user: %d keys, notes %q; want none and one note", inv.Keys(), inv.Notes)
	}
	t.Logf("note: %s", inv.Notes[0])
}

func TestInventoryWithoutProfile(t *testing.T) {
	e := newEnv(t, gmiapi.RoleOwner)
	e.srv.AddKey(org, gmiapi.Key{Name: "ci"})
	e.srv.FailNext(gmiapi.OpGetProfile, -1, "user", 1201)
	inv, err := e.store(t, nil).Inventory(context.Background())
	if err != nil {
		t.Fatalf("an unreadable profile failed the inventory: %v", err)
	}
	if inv.Keys() != 1 || len(inv.Notes) != 1 || !strings.Contains(inv.Notes[0], "could not read the GMI Cloud session's role") {
		t.Errorf("inventory: %d keys, notes %q; want the key and a note", inv.Keys(), inv.Notes)
	}
}

func TestOwnerKeysRecheckFindKey(t *testing.T) {
	e := newEnv(t, gmiapi.RoleOwner)
	mine := e.srv.AddKey(org, gmiapi.Key{Name: "a", CreatedAt: day(-3), Owner: &gmiapi.Owner{ID: e.owner.ID}})
	e.srv.AddKey(org, gmiapi.Key{Name: "b", Owner: &gmiapi.Owner{ID: gmiapi.NewUUID()}})
	s := e.store(t, nil)
	ctx := context.Background()

	keys, err := s.OwnerKeys(ctx, domain.Owner{Name: e.owner.ID})
	if err != nil || len(keys) != 1 || keys[0].ID != mine.ID {
		t.Fatalf("OwnerKeys = %+v, %v; want the one key", keys, err)
	}
	got, err := s.Recheck(ctx, domain.Key{ID: mine.ID, Owner: e.owner.ID}, true)
	if err != nil || got.ID != mine.ID || got.Name != "a" || got.ExpiresAt != nil {
		t.Fatalf("Recheck = %+v, %v", got, err)
	}
	if got, err := s.FindKey(ctx, mine.ID); err != nil || got.Owner != e.owner.ID {
		t.Fatalf("FindKey = %+v, %v", got, err)
	}
	e.srv.RemoveKey(org, mine.ID)
	if _, err := s.Recheck(ctx, domain.Key{ID: mine.ID}, false); !errors.Is(err, domain.ErrKeyNotFound) {
		t.Errorf("Recheck of a vanished key: %v, want ErrKeyNotFound", err)
	}
	if _, err := s.FindKey(ctx, gmiapi.NewUUID()); !errors.Is(err, domain.ErrKeyNotFound) {
		t.Errorf("FindKey of an unknown key: %v, want ErrKeyNotFound", err)
	}
}

func TestDelete(t *testing.T) {
	e := newEnv(t, gmiapi.RoleOwner)
	k := e.srv.AddKey(org, gmiapi.Key{Name: "ci", Owner: &gmiapi.Owner{ID: e.owner.ID}})
	s := e.store(t, nil)
	ctx := context.Background()

	if err := s.Delete(ctx, domain.Key{ID: k.ID}); err != nil {
		t.Fatal(err)
	}
	if left := e.srv.Keys(org); len(left) != 0 {
		t.Fatalf("keys left after delete: %+v", left)
	}
	err := s.Delete(ctx, domain.Key{ID: k.ID})
	if !errors.Is(err, domain.ErrKeyNotFound) {
		t.Fatalf("delete of a gone key: %v, want ErrKeyNotFound", err)
	}
	var se *domain.ServiceError
	if errors.As(err, &se) {
		t.Errorf("a gone key is reported as a service failure: %v", err)
	}
	want := map[string]int{gmi.OpDeleteAPIKey: 2, gmi.OpListAPIKeys: 1} // the 404 is confirmed by the listing
	if diff := cmp.Diff(want, s.Calls()); diff != "" {
		t.Errorf("calls (-want +got):\n%s", diff)
	}
}

func TestInvalidOrganization(t *testing.T) {
	e := newEnv(t, gmiapi.RoleOwner)
	ctx := context.Background()
	k := e.srv.AddKey(org, gmiapi.Key{Name: "ci"})

	t.Run("not a UUID", func(t *testing.T) {
		bad := e.store(t, func(c *gmi.Config) { c.Secret.OrganizationID = "acme" })
		_, err := bad.Inventory(ctx)
		var ae *gmi.APIError
		if !errors.As(err, &ae) || ae.Status != 400 || ae.Group != "request" || len(ae.Fields) != 1 || ae.Fields[0].Field != "orgId" {
			t.Fatalf("Inventory: %v, want 400 request/0 naming orgId", err)
		}
		assertServiceFailure(t, err)
		t.Logf("error: %v", err)
	})
	t.Run("unknown", func(t *testing.T) {
		other := gmiapi.NewUUID()
		bad := e.store(t, func(c *gmi.Config) { c.Secret.OrganizationID = other })
		if _, err := bad.Inventory(ctx); !errors.Is(err, gmi.ErrOrganizationNotFound) {
			t.Errorf("Inventory: %v, want ErrOrganizationNotFound", err)
		}
		err := bad.Delete(ctx, domain.Key{ID: k.ID})
		if !errors.Is(err, gmi.ErrOrganizationNotFound) || errors.Is(err, domain.ErrKeyNotFound) {
			t.Fatalf("Delete: %v, want ErrOrganizationNotFound and not ErrKeyNotFound", err)
		}
		assertServiceFailure(t, err)
		if len(e.srv.Keys(org)) != 1 {
			t.Error("the key was deleted")
		}
	})
}

func assertServiceFailure(t *testing.T, err error) {
	t.Helper()
	var se *domain.ServiceError
	if !errors.As(err, &se) || se.Service != gmi.ServiceName {
		t.Errorf("%v is not a *domain.ServiceError of %s", err, gmi.ServiceName)
	}
}

func TestRetries(t *testing.T) {
	ctx := context.Background()
	t.Run("500 retried then success", func(t *testing.T) {
		e := newEnv(t, gmiapi.RoleOwner)
		k := e.srv.AddKey(org, gmiapi.Key{Name: "ci"})
		s := e.store(t, nil)
		e.srv.FailNext(gmiapi.OpListAPIKeys, 2, "api-key", 1201)
		if _, err := s.FindKey(ctx, k.ID); err != nil {
			t.Fatal(err)
		}
		e.srv.FailNext(gmiapi.OpDeleteAPIKey, 1, "api-key", 1600)
		if err := s.Delete(ctx, domain.Key{ID: k.ID}); err != nil {
			t.Fatal(err)
		}
		want := map[string]int{gmi.OpListAPIKeys: 3, gmi.OpDeleteAPIKey: 2}
		if diff := cmp.Diff(want, s.Calls()); diff != "" {
			t.Errorf("calls (-want +got):\n%s", diff)
		}
	})
	t.Run("500 forever is a bounded failure", func(t *testing.T) {
		e := newEnv(t, gmiapi.RoleOwner)
		s := e.store(t, nil)
		e.srv.FailNext(gmiapi.OpListAPIKeys, -1, "api-key", 1201)
		_, err := s.FindKey(ctx, gmiapi.NewUUID())
		var ae *gmi.APIError
		if !errors.As(err, &ae) || ae.Status != 500 || ae.Code != 1201 || errors.Is(err, domain.ErrKeyNotFound) {
			t.Fatalf("FindKey: %v, want the 500 api-key/1201", err)
		}
		assertServiceFailure(t, err)
		if n := s.Calls()[gmi.OpListAPIKeys]; n != fastTry.MaxAttempts {
			t.Errorf("%d attempts, want %d", n, fastTry.MaxAttempts)
		}
	})
	t.Run("no backoff past the deadline", func(t *testing.T) {
		e := newEnv(t, gmiapi.RoleOwner)
		s := e.store(t, func(c *gmi.Config) {
			c.Retry = gmi.Retry{BaseDelay: time.Hour, MaxDelay: time.Hour, MaxElapsed: 2 * time.Hour}
		})
		e.srv.FailNext(gmiapi.OpListAPIKeys, -1, "api-key", 1201)
		dctx, cancel := context.WithTimeout(ctx, time.Minute)
		defer cancel()
		if _, err := s.FindKey(dctx, gmiapi.NewUUID()); err == nil {
			t.Fatal("want a failure")
		}
		if n := s.Calls()[gmi.OpListAPIKeys]; n != 1 {
			t.Errorf("%d attempts, want 1: the backoff does not fit before the deadline", n)
		}
	})
	t.Run("a 500 not documented as transient is not retried", func(t *testing.T) {
		e := newEnv(t, gmiapi.RoleOwner)
		s := e.store(t, nil)
		e.srv.FailNext(gmiapi.OpDeleteAPIKey, -1, "api-key", 9999)
		if err := s.Delete(ctx, domain.Key{ID: gmiapi.NewUUID()}); err == nil {
			t.Fatal("want a failure")
		}
		if n := s.Calls()[gmi.OpDeleteAPIKey]; n != 1 {
			t.Errorf("%d attempts, want 1", n)
		}
	})
}

func TestUnsupported(t *testing.T) {
	e := newEnv(t, gmiapi.RoleOwner)
	s := e.store(t, nil)
	ctx := context.Background()
	if s.Provider() != domain.ProviderGMI {
		t.Errorf("Provider = %q", s.Provider())
	}
	if diff := cmp.Diff(domain.Capabilities{Expiry: true}, s.Capabilities()); diff != "" {
		t.Errorf("capabilities (-want +got):\n%s", diff)
	}
	if acct, err := s.Account(ctx); acct != org || err != nil {
		t.Errorf("Account = %q, %v", acct, err)
	}
	_, tagErr := s.OwnerTags(ctx, domain.Owner{})
	_, pathErr := s.OwnerPath(ctx, domain.Owner{})
	for _, err := range []error{s.Deactivate(ctx, domain.Key{ID: "k"}), tagErr, pathErr} {
		if !errors.Is(err, domain.ErrUnsupported) {
			t.Errorf("%v, want ErrUnsupported", err)
		}
	}
	if len(s.Calls()) != 0 {
		t.Errorf("unsupported steps called the API: %v", s.Calls())
	}
}

// TestAdapterDependsOnlyOnTheDomain: an adapter imports the domain, never
// the engine. internal/backoff, the retry arithmetic the key stores share,
// imports nothing of keysweep: were it to reach the engine, the engine
// would be listed too.
func TestAdapterDependsOnlyOnTheDomain(t *testing.T) {
	out, err := exec.Command("go", "list", "-deps", "github.com/keysweep/keysweep/internal/keystore/gmi").CombinedOutput()
	if err != nil {
		t.Fatalf("go list: %v\n%s", err, out)
	}
	for _, dep := range strings.Fields(string(out)) {
		if strings.HasPrefix(dep, "github.com/keysweep/keysweep/") &&
			dep != "github.com/keysweep/keysweep/internal/keystore/gmi" &&
			dep != "github.com/keysweep/keysweep/internal/domain" && dep != "github.com/keysweep/keysweep/policy" &&
			dep != "github.com/keysweep/keysweep/internal/backoff" {
			t.Errorf("the GMI key store depends on %s", dep)
		}
	}
}
