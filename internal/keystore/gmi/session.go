package gmi

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"sync"
)

// session holds the secret's tokens and renews them. "Refresh session"
// (PATCH /me/sessions) returns a new access token AND a new refresh token,
// so the old refresh token must be assumed spent: a renewal is handed to
// onRenew to be stored, and until it is stored the store refuses to call
// the API (ready), so that a run never carries on with tokens nobody kept.
type session struct {
	c       *client
	onRenew func(context.Context, Secret) error
	log     *slog.Logger

	mu      sync.Mutex
	sec     Secret
	pending bool // renewed but not yet stored by onRenew
}

func (s *session) token() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.sec.AccessToken
}

// ready stores a renewal that onRenew failed to store before.
func (s *session) ready(ctx context.Context) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.pending {
		return nil
	}
	if err := s.onRenew(ctx, s.sec); err != nil {
		return fmt.Errorf("%w: %w", ErrRenewalNotSaved, err)
	}
	s.pending = false
	return nil
}

// renew replaces the access token stale, which the API refused, unless
// another call renewed it meanwhile.
func (s *session) renew(ctx context.Context, stale string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.sec.AccessToken != stale {
		return nil
	}
	switch {
	case s.sec.RefreshToken == "":
		return fmt.Errorf("%w (the access token was refused and the secret has no refresh token)", ErrTokenExpired)
	case s.onRenew == nil:
		return fmt.Errorf("%w (the access token was refused; renewal is off because nothing would store the renewed tokens)", ErrTokenExpired)
	}
	access, refresh, err := s.refresh(ctx)
	if err != nil {
		if isAuthRefusal(err) {
			return fmt.Errorf("%w (refresh session: %w)", ErrTokenExpired, err)
		}
		return fmt.Errorf("refresh session: %w", err)
	}
	s.sec.AccessToken, s.sec.RefreshToken = access, refresh
	s.log.InfoContext(ctx, "renewed the GMI Cloud session", "organization", s.sec.OrganizationID)
	if err := s.onRenew(ctx, s.sec); err != nil {
		s.pending = true
		return fmt.Errorf("%w: %w", ErrRenewalNotSaved, err)
	}
	return nil
}

// refresh calls "Refresh session": PATCH /me/sessions with the CE-ClientId
// header and {"refreshToken"}; the answer (sessionResponse) carries the
// new accessToken and refreshToken, both required by the schema.
func (s *session) refresh(ctx context.Context) (access, refresh string, err error) {
	status, body, err := s.c.send(ctx, request{
		op: OpRefreshSession, method: http.MethodPatch, path: "/me/sessions",
		header: map[string]string{"CE-ClientId": s.sec.ClientID},
		body:   map[string]string{"refreshToken": s.sec.RefreshToken},
	})
	if err != nil {
		return "", "", err
	}
	if status != http.StatusOK {
		return "", "", decodeError(OpRefreshSession, status, body)
	}
	var out struct {
		AccessToken  string `json:"accessToken"`
		RefreshToken string `json:"refreshToken"`
	}
	if json.Unmarshal(body, &out) != nil {
		return "", "", errors.New("the answer is not a session (JSON)")
	}
	if out.AccessToken == "" || out.RefreshToken == "" || !headerSafe(out.AccessToken) || !headerSafe(out.RefreshToken) {
		return "", "", errors.New("the answer lacks a usable accessToken or refreshToken")
	}
	return out.AccessToken, out.RefreshToken, nil
}
