package huawei

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"strings"
	"syscall"
	"time"

	"github.com/keysweep/keysweep/internal/backoff"
)

// Retry bounds the retries of throttled (429) and failed (5xx) calls:
// exponential backoff with jitter, at most Attempts tries and Budget
// of waiting per call, and never a wait past the context's deadline.
type Retry struct {
	Attempts int           // tries in all, the first included; default 5
	Base     time.Duration // first backoff ceiling; default 250ms
	Max      time.Duration // largest backoff ceiling; default 5s
	Budget   time.Duration // most waiting per call; default 20s
	// Sleep waits d or until ctx is done; a timer by default (tests stub it).
	Sleep func(ctx context.Context, d time.Duration) error
}

func (r Retry) withDefaults() Retry {
	if r.Attempts <= 0 {
		r.Attempts = 5
	}
	if r.Base <= 0 {
		r.Base = 250 * time.Millisecond
	}
	if r.Max <= 0 {
		r.Max = 5 * time.Second
	}
	if r.Budget <= 0 {
		r.Budget = 20 * time.Second
	}
	if r.Sleep == nil {
		r.Sleep = backoff.Sleep
	}
	return r
}

// request is one IAM call.
type request struct {
	op     string // operation name, for Calls
	what   string // what is being done, for errors ("delete access key X")
	method string
	path   string
	query  url.Values
	in     any  // JSON body, or nil
	out    any  // decoded 2xx body, or nil
	gone   bool // a 404 means the key or its owner is gone
}

// client signs, sends, retries and counts the store's calls.
type client struct {
	base   *url.URL
	http   *http.Client
	cred   Credentials
	domain string // sent as X-Domain-Id, as the SDK does for global services
	now    func() time.Time
	retry  Retry
	log    *slog.Logger
	calls  *counter
}

// do runs the request, retrying as Retry allows. Failures are a
// *domain.ServiceError around an *APIError or the transport error.
func (c *client) do(ctx context.Context, r request) error {
	var body []byte
	if r.in != nil {
		b, err := json.Marshal(r.in)
		if err != nil {
			return fmt.Errorf("%s: encode request: %w", r.what, err)
		}
		body = b
	}
	c.calls.call(r.op)
	start := time.Now()
	for attempt := 1; ; attempt++ {
		err := c.once(ctx, r, body)
		if err == nil {
			return nil
		}
		wait, ok := c.retryWait(ctx, err, attempt, start)
		if !ok {
			if attempt > 1 {
				err = fmt.Errorf("%w (after %d tries)", err, attempt)
			}
			return serviceError(r.what, err)
		}
		c.log.DebugContext(ctx, "huawei iam call retried", "op", r.op, "attempt", attempt, "wait", wait, "error", err)
		if serr := c.retry.Sleep(ctx, wait); serr != nil {
			return serviceError(r.what, fmt.Errorf("%w (retry cut short: %v)", err, serr))
		}
	}
}

// retryWait says whether to try again after err, and how long to wait.
func (c *client) retryWait(ctx context.Context, err error, attempt int, start time.Time) (time.Duration, bool) {
	if attempt >= c.retry.Attempts || ctx.Err() != nil {
		return 0, false
	}
	// Uniform in [ceiling/2, ceiling], the ceiling doubling from Base up to Max.
	wait := backoff.Exponential(attempt, c.retry.Base, c.retry.Max)
	var apiErr *APIError
	switch {
	case errors.As(err, &apiErr):
		if !apiErr.retryable() {
			return 0, false
		}
		wait = max(wait, min(apiErr.RetryAfter, c.retry.Max))
	case !retryableTransport(err):
		return 0, false
	}
	return wait, backoff.Fits(ctx, start, wait, c.retry.Budget)
}

// retryableTransport: a reset or timeout may pass; a refused connection or
// an unknown host will not within a run, so it fails at once and clearly.
func retryableTransport(err error) bool {
	var dns *net.DNSError
	switch {
	case errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded):
		return false
	case errors.Is(err, syscall.ECONNREFUSED), errors.As(err, &dns):
		return false
	}
	var netErr net.Error
	return errors.As(err, &netErr) || errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, syscall.ECONNRESET)
}

// once sends one signed attempt and decodes its answer.
func (c *client) once(ctx context.Context, r request, body []byte) error {
	u := *c.base
	u.Path = r.path
	u.RawQuery = canonicalQuery(r.query) // the same encoding the signature covers
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, r.method, u.String(), rd)
	if err != nil {
		return err
	}
	req.Header.Set(headerContentType, "application/json;charset=utf8")
	if c.domain != "" {
		req.Header.Set(headerDomainID, c.domain)
	}
	signRequest(req, body, c.cred, c.now())
	c.calls.attempt(r.op)
	resp, err := c.http.Do(req)
	if err != nil {
		return fmt.Errorf("%s %s: %w", r.method, c.base.Host, unwrapURLError(err))
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, 32<<20))
	if err != nil {
		return fmt.Errorf("%s %s: read answer: %w", r.method, c.base.Host, err)
	}
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		apiErr := parseAPIError(resp.StatusCode, resp.Header, data)
		apiErr.gone = r.gone && resp.StatusCode == http.StatusNotFound
		if apiErr.Throttled() {
			c.calls.throttle(r.op)
		}
		return apiErr
	}
	if r.out == nil || len(bytes.TrimSpace(data)) == 0 {
		return nil
	}
	if err := json.Unmarshal(data, r.out); err != nil {
		return fmt.Errorf("decode %s answer: %w", r.op, err)
	}
	return nil
}

// unwrapURLError drops *url.Error's "Get "https://...": " prefix: the host
// is named once by the caller, and a query never reaches an error text.
func unwrapURLError(err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		if strings.Contains(ue.Err.Error(), "connection refused") || errors.Is(ue.Err, syscall.ECONNREFUSED) {
			return fmt.Errorf("endpoint unreachable: %w", ue.Err)
		}
		return ue.Err
	}
	return err
}
