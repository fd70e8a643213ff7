package gmi_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"testing"

	"github.com/keysweep/keysweep/internal/domain"
	"github.com/keysweep/keysweep/internal/keystore/gmi"
	"github.com/keysweep/keysweep/internal/testenv/gmiapi"
)

func TestRenewal(t *testing.T) {
	e := newEnv(t, gmiapi.RoleOwner)
	k := e.srv.AddKey(org, gmiapi.Key{Name: "ci"})
	s := e.store(t, nil)
	ctx := context.Background()

	e.srv.ExpireAccessTokens()
	if _, err := s.FindKey(ctx, k.ID); err != nil {
		t.Fatalf("FindKey after the access token expired: %v", err)
	}
	got := e.renewals()
	if len(got) != 1 {
		t.Fatalf("OnRenew called %d times, want once", len(got))
	}
	r := got[0]
	if r.AccessToken == e.sec.AccessToken || r.RefreshToken == e.sec.RefreshToken ||
		r.OrganizationID != org || r.ClientID != e.sec.ClientID || r.Endpoint != e.sec.Endpoint {
		t.Errorf("renewed secret %v: want new tokens, the rest kept", r)
	}
	if err := s.Delete(ctx, domain.Key{ID: k.ID}); err != nil {
		t.Fatalf("Delete with the renewed token: %v", err)
	}
	if n := s.Calls()[gmi.OpRefreshSession]; n != 1 {
		t.Errorf("%d renewals, want 1", n)
	}

	// The stored secret is what the next run starts from: it must work,
	// and renew again.
	e.srv.ExpireAccessTokens()
	next := e.store(t, func(c *gmi.Config) { c.Secret = r })
	if _, err := next.Inventory(ctx); err != nil {
		t.Fatalf("a store on the renewed secret: %v", err)
	}
	if n := len(e.renewals()); n != 2 {
		t.Errorf("%d renewals stored, want 2", n)
	}
}

func TestRenewalOnceForConcurrentCalls(t *testing.T) {
	e := newEnv(t, gmiapi.RoleOwner)
	s := e.store(t, nil)
	e.srv.ExpireAccessTokens()
	var wg sync.WaitGroup
	errs := make(chan error, 8)
	for range 8 {
		wg.Go(func() {
			_, err := s.OwnerKeys(context.Background(), domain.Owner{Name: e.owner.ID})
			errs <- err
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Error(err)
		}
	}
	if n := s.Calls()[gmi.OpRefreshSession]; n != 1 {
		t.Errorf("%d renewals for concurrent calls, want 1", n)
	}
}

const canary = "canaryRefreshTokenValue0123"

func TestTokenExpired(t *testing.T) {
	tests := []struct {
		name  string
		setup func(*env, *gmi.Config)
	}{
		{"no refresh token", func(e *env, c *gmi.Config) { c.Secret.RefreshToken, c.Secret.ClientID = "", "" }},
		{"renewal off", func(e *env, c *gmi.Config) { c.OnRenew = nil }},
		{"refresh token refused", func(e *env, c *gmi.Config) { e.srv.RevokeRefreshTokens() }},
		{"another client id", func(e *env, c *gmi.Config) { c.Secret.ClientID = "other" }},
		// The server echoes a malformed refresh token in validationDetail's
		// originalValue, which must not reach the error.
		{"malformed refresh token", func(e *env, c *gmi.Config) { c.Secret.RefreshToken = canary }},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t, gmiapi.RoleOwner)
			var logs bytes.Buffer
			s := e.store(t, func(c *gmi.Config) {
				tc.setup(e, c)
				c.Logger = slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
			})
			e.srv.ExpireAccessTokens()
			_, err := s.Inventory(context.Background())
			if !errors.Is(err, gmi.ErrTokenExpired) {
				t.Fatalf("Inventory: %v, want ErrTokenExpired", err)
			}
			assertServiceFailure(t, err)
			if !strings.Contains(err.Error(), "renew the secret") {
				t.Errorf("%q does not say what to do", err)
			}
			assertNoToken(t, e, err.Error()+logs.String())
			if strings.Contains(err.Error()+logs.String(), canary) {
				t.Errorf("the refresh token leaked: %v", err)
			}
			if len(e.renewals()) != 0 {
				t.Error("OnRenew was called")
			}
			t.Logf("error: %v", err)
		})
	}
}

func TestRenewalNotSaved(t *testing.T) {
	e := newEnv(t, gmiapi.RoleOwner)
	k := e.srv.AddKey(org, gmiapi.Key{Name: "ci"})
	s := e.store(t, nil)
	ctx := context.Background()
	e.saveErr = errors.New("secrets manager: access denied")
	e.srv.ExpireAccessTokens()

	for i := range 2 {
		_, err := s.FindKey(ctx, k.ID)
		if !errors.Is(err, gmi.ErrRenewalNotSaved) {
			t.Fatalf("call %d: %v, want ErrRenewalNotSaved", i+1, err)
		}
		assertNoToken(t, e, err.Error())
	}
	if err := s.Delete(ctx, domain.Key{ID: k.ID}); !errors.Is(err, gmi.ErrRenewalNotSaved) || len(e.srv.Keys(org)) != 1 {
		t.Fatalf("Delete while the renewal is unsaved: %v; want it refused", err)
	}

	e.mu.Lock()
	e.saveErr = nil
	e.mu.Unlock()
	if _, err := s.FindKey(ctx, k.ID); err != nil {
		t.Fatalf("after the save works again: %v", err)
	}
	if got := e.renewals(); len(got) != 1 || got[0].AccessToken == e.sec.AccessToken {
		t.Errorf("stored renewals %v, want the one renewal", got)
	}
	if n := s.Calls()[gmi.OpRefreshSession]; n != 1 {
		t.Errorf("%d renewals, want 1", n)
	}
}

// TestSecretNeverLeaks drives the store through failures and renewals with
// a debug logger and checks that no token reaches an error or a log line.
func TestSecretNeverLeaks(t *testing.T) {
	e := newEnv(t, gmiapi.RoleOwner)
	var logs bytes.Buffer
	s := e.store(t, func(c *gmi.Config) {
		c.Logger = slog.New(slog.NewJSONHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	})
	ctx := context.Background()
	var text strings.Builder
	note := func(err error) {
		if err != nil {
			fmt.Fprintf(&text, "%v\n%+v\n", err, err)
		}
	}
	e.srv.FailNext(gmiapi.OpListAPIKeys, 2, "api-key", 1201)
	e.srv.ExpireAccessTokens()
	_, err := s.Inventory(ctx)
	note(err)
	note(s.Delete(ctx, domain.Key{ID: gmiapi.NewUUID()}))
	note(s.Delete(ctx, domain.Key{ID: "not-a-uuid"}))
	e.srv.FailNext(gmiapi.OpListAPIKeys, -1, "api-key", 1201)
	_, err = s.FindKey(ctx, gmiapi.NewUUID())
	note(err)
	e.srv.ExpireAccessTokens()
	e.srv.RevokeRefreshTokens()
	_, err = s.Inventory(ctx)
	note(err)
	if !errors.Is(err, gmi.ErrTokenExpired) {
		t.Fatalf("want the run to end on ErrTokenExpired, got %v", err)
	}
	for _, sec := range append(e.renewals(), e.sec) {
		fmt.Fprintf(&text, "%v %+v %#v %s\n", sec, sec, sec, sec)
		slog.New(slog.NewTextHandler(&logs, nil)).Info("secret", "secret", sec)
	}
	assertNoToken(t, e, text.String()+logs.String())
	if !strings.Contains(logs.String(), "retrying") || !strings.Contains(logs.String(), "renewed") {
		t.Errorf("the logs do not show the retries and the renewal:\n%s", logs.String())
	}
}

// assertNoToken fails when text holds any token the env's session had.
func assertNoToken(t *testing.T, e *env, text string) {
	t.Helper()
	toks := []string{e.sec.AccessToken, e.sec.RefreshToken}
	for _, r := range e.renewals() {
		toks = append(toks, r.AccessToken, r.RefreshToken)
	}
	for _, tok := range toks {
		// The tokens share a JWT header; their payload and signature are
		// what must never show.
		if _, secret, _ := strings.Cut(tok, "."); secret != "" && strings.Contains(text, secret) {
			t.Errorf("a token leaked into:\n%s", text)
			return
		}
	}
}
