package gmi

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"net/http"
	"slices"
	"sync"
	"time"
)

// Operation names, as Calls counts them: the reference's operationIds.
const (
	OpListAPIKeys    = "ListApiKeys"    // listApiKeys, GET /organizations/{orgId}/api-keys
	OpDeleteAPIKey   = "DeleteApiKey"   // deleteApiKey, DELETE /organizations/{orgId}/api-keys/{apiKeyId}
	OpGetProfile     = "GetProfile"     // GET /me/profile ("Retrieve user's profile")
	OpRefreshSession = "RefreshSession" // refreshSession, PATCH /me/sessions
)

// maxBody bounds what the store reads of one response.
const maxBody = 8 << 20

// client sends the IAM Service API's requests: bearer authentication,
// renewal of the session on a 401, bounded retries, error decoding.
type client struct {
	http     *http.Client
	endpoint string
	retry    Retry
	log      *slog.Logger
	sess     *session

	mu    sync.Mutex
	calls map[string]int
}

// request is one HTTP request of an operation. token is the bearer token
// ("" for none); body, when set, is sent as JSON.
type request struct {
	op, method, path string
	token            string
	header           map[string]string
	body             any
}

// call sends an authenticated request and decodes a 2xx answer into out
// (when out is not nil). A 401 renews the session once and sends again; a
// retryable failure is retried within c.retry. The error is an *APIError,
// wraps ErrTokenExpired or ErrRenewalNotSaved, or is a transport error.
func (c *client) call(ctx context.Context, op, method, path string, out any) error {
	if err := c.sess.ready(ctx); err != nil {
		return err
	}
	start := time.Now()
	renewed := false
	for n := 1; ; {
		tok := c.sess.token()
		status, body, err := c.send(ctx, request{op: op, method: method, path: path, token: tok})
		if err != nil {
			if method != http.MethodGet || ctx.Err() != nil {
				return err
			}
			if c.retry.wait(ctx, n, start) != nil {
				return fmt.Errorf("%w (after %d attempts)", err, n)
			}
			c.log.InfoContext(ctx, "GMI Cloud call failed; retrying", "op", op, "attempt", n, "error", err)
			n++
			continue
		}
		switch {
		case status >= 200 && status < 300:
			if out == nil {
				return nil
			}
			if err := json.Unmarshal(body, out); err != nil {
				return fmt.Errorf("decode %s answer: %w", op, err)
			}
			return nil
		case status == http.StatusUnauthorized:
			if renewed {
				return fmt.Errorf("%w (the renewed access token was refused too)", ErrTokenExpired)
			}
			if err := c.sess.renew(ctx, tok); err != nil {
				return err
			}
			renewed = true
			continue
		}
		apiErr := decodeError(op, status, body)
		if !apiErr.retryable(method) {
			return apiErr
		}
		if werr := c.retry.wait(ctx, n, start); werr != nil {
			return fmt.Errorf("%w (gave up after %d attempts: %w)", apiErr, n, werr)
		}
		c.log.InfoContext(ctx, "GMI Cloud call failed; retrying", "op", op, "attempt", n,
			"status", apiErr.Status, "group", apiErr.Group, "code", apiErr.Code)
		n++
	}
}

// send sends one request and reads the answer. It counts the attempt.
func (c *client) send(ctx context.Context, r request) (int, []byte, error) {
	var body io.Reader
	if r.body != nil {
		b, err := json.Marshal(r.body)
		if err != nil {
			return 0, nil, fmt.Errorf("encode %s request: %w", r.op, err)
		}
		body = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, r.method, c.endpoint+r.path, body)
	if err != nil {
		return 0, nil, fmt.Errorf("build %s request: %w", r.op, err)
	}
	req.Header.Set("Accept", "application/json")
	req.Header.Set("User-Agent", "keysweep")
	if r.body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if r.token != "" {
		req.Header.Set("Authorization", "Bearer "+r.token)
	}
	for k, v := range r.header {
		req.Header.Set(k, v)
	}
	c.count(r.op)
	resp, err := c.http.Do(req)
	if err != nil {
		return 0, nil, fmt.Errorf("send %s: %w", r.op, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, maxBody+1))
	if err != nil {
		return 0, nil, fmt.Errorf("read %s answer: %w", r.op, err)
	}
	if len(b) > maxBody {
		return 0, nil, fmt.Errorf("read %s answer: larger than %d bytes", r.op, maxBody)
	}
	return resp.StatusCode, b, nil
}

func (c *client) count(op string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.calls[op]++
}

func (c *client) snapshot() map[string]int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return maps.Clone(c.calls)
}

// httpClient copies hc (or a default client) so that it never follows a
// redirect: a 3xx is reported as a failure rather than a token sent on.
func httpClient(hc *http.Client) *http.Client {
	c := &http.Client{Timeout: 30 * time.Second}
	if hc != nil {
		cp := *hc
		c = &cp
	}
	c.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	return c
}

// isAuthRefusal: the session API refused the session's own data: the
// request's authentication (401), the CE-ClientId or refresh token (400
// auth/0, auth/1), or the refresh token's form (400 request/0 naming
// refreshToken). A person must renew the secret.
func isAuthRefusal(err error) bool {
	var ae *APIError
	if !errors.As(err, &ae) {
		return false
	}
	switch {
	case ae.Status == http.StatusUnauthorized:
		return true
	case ae.Status != http.StatusBadRequest:
		return false
	case ae.Group == GroupAuth:
		return true
	case ae.Group == GroupRequest && ae.Code == CodeInvalidField:
		return slices.ContainsFunc(ae.Fields, func(f ValidationDetail) bool { return f.Field == "refreshToken" })
	}
	return false
}
