// Package httpapi is keysweep's REST API as a plain net/http handler:
// revoke or inspect one key (of any target), start a sweep, read a run.
// The Lambda function serves it through API Gateway (internal/lambda, with
// aws-lambda-go-api-proxy) and `keysweep serve` serves it on loopback: one
// handler, the same answers.
package httpapi

import (
	"context"
	"log/slog"
	"net/http"
	"runtime/debug"
	"strings"
	"time"

	"github.com/keysweep/keysweep/internal/domain"
	"github.com/keysweep/keysweep/internal/engine"
)

// Request limits. Anything over them is refused and changes nothing.
const (
	// MaxBodyBytes bounds a request body (after base64 decoding).
	MaxBodyBytes = 4 << 10
	// MaxReasonChars bounds a revocation's reason, in characters.
	MaxReasonChars = 512
)

// RunStore is the API's view of the journal's run records.
type RunStore interface {
	GetRun(ctx context.Context, runID string) (*domain.Run, error)
	QueueRun(ctx context.Context, run *domain.Run) error
	FinishRun(ctx context.Context, run *domain.Run) error
}

// API answers the REST API's routes.
type API struct {
	// Targets are the key stores the API serves; the first is the default
	// (the routes without /targets/{target}).
	Targets  []engine.Target
	Policies engine.PolicyStore
	Runs     RunStore
	Sweeps   SweepStarter
	Logger   *slog.Logger
	// Now is the clock; time.Now when nil.
	Now func() time.Time
	// DefaultActor names the caller when the request carries no identity
	// ("local" for serve, "cli:<user>" for the CLI).
	DefaultActor string
	// RequireIdentity refuses a request without a caller identity (403).
	// The Lambda sets it: behind AWS_IAM authorization every request has
	// one, and a request without one means the API is misconfigured.
	RequireIdentity bool
}

func (a *API) log() *slog.Logger {
	if a.Logger != nil {
		return a.Logger
	}
	return slog.Default()
}

func (a *API) now() time.Time {
	if a.Now != nil {
		return a.Now().UTC()
	}
	return time.Now().UTC()
}

// route is one of the API's routes: its pattern and its methods.
type route struct {
	path    string
	methods map[string]func(*API, *http.Request) (*reply, error)
}

func routes() []route {
	revoke := map[string]func(*API, *http.Request) (*reply, error){http.MethodPost: (*API).revoke}
	key := map[string]func(*API, *http.Request) (*reply, error){http.MethodGet: (*API).getKey}
	return []route{
		{"/keys/{accessKeyId}/revoke", revoke},
		{"/keys/{accessKeyId}", key},
		{"/targets/{target}/keys/{accessKeyId}/revoke", revoke},
		{"/targets/{target}/keys/{accessKeyId}", key},
		{"/sweeps", map[string]func(*API, *http.Request) (*reply, error){http.MethodPost: (*API).startSweep}},
		{"/sweeps/{runId}", map[string]func(*API, *http.Request) (*reply, error){http.MethodGet: (*API).getSweep}},
	}
}

// Routes names the API's routes in messages.
const Routes = "POST /keys/{accessKeyId}/revoke, GET /keys/{accessKeyId}, POST /targets/{target}/keys/{accessKeyId}/revoke, GET /targets/{target}/keys/{accessKeyId}, POST /sweeps and GET /sweeps/{runId}"

// Handler returns the API as an http.Handler. Routes match on the escaped
// path, segment by segment (Go's ServeMux), so an escaped "/" in a key id
// stays in its segment and never reaches another route. Every answer is
// JSON; every failure is an error body with its status, and nothing but a
// successful call changes a key store or the journal.
func (a *API) Handler() http.Handler {
	mux := http.NewServeMux()
	for _, rt := range routes() {
		for method, h := range rt.methods {
			mux.Handle(method+" "+rt.path, a.serve(rt.path, h))
		}
		mux.Handle(rt.path, a.notAllowed(rt))
	}
	notFound := a.serve("", func(*API, *http.Request) (*reply, error) {
		return nil, &apiError{status: http.StatusNotFound, code: "unknown_route", message: "no such route; the API has " + Routes}
	})
	mux.Handle("/", notFound)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		// ServeMux would redirect a path with an empty or dot segment to
		// a cleaned one; the API names no such path, as API Gateway
		// answers it.
		if !canonical(r.URL.EscapedPath()) {
			notFound.ServeHTTP(w, r)
			return
		}
		mux.ServeHTTP(w, r)
	})
}

// canonical reports a path of non-empty segments other than "." and "..".
func canonical(p string) bool {
	if !strings.HasPrefix(p, "/") {
		return false
	}
	if p == "/" {
		return true
	}
	for _, seg := range strings.Split(strings.TrimSuffix(p[1:], "/"), "/") {
		if seg == "" || seg == "." || seg == ".." {
			return false
		}
	}
	return true
}

// serve runs a route's function with the API's common parts: the caller's
// identity, a deadline short of the invocation's, logging, recovery.
func (a *API) serve(pattern string, h func(*API, *http.Request) (*reply, error)) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		status := 0
		actor := CallerFrom(r.Context())
		defer func() {
			if v := recover(); v != nil {
				a.log().ErrorContext(r.Context(), "api: panic", "panic", v, "stack", string(debug.Stack()))
				status = writeError(w, &apiError{status: http.StatusInternalServerError, code: "internal", message: "internal error; the function's log has the details"})
			}
			level := slog.LevelInfo
			if status >= 500 {
				level = slog.LevelError
			}
			a.log().Log(r.Context(), level, "api request", "method", r.Method, "path", r.URL.EscapedPath(), "route", pattern,
				"status", status, "actor", actor, "ms", time.Since(start).Milliseconds())
		}()
		ctx, cancel := withMargin(r.Context())
		defer cancel()
		if actor == "" {
			if a.RequireIdentity {
				status = writeError(w, &apiError{status: http.StatusForbidden, code: "no_identity",
					message: "the request carries no caller identity; the API must be called through API Gateway with IAM authorization"})
				return
			}
			actor = a.DefaultActor
			if actor == "" {
				actor = "unknown"
			}
		}
		rp, err := h(a, r.WithContext(WithCaller(ctx, actor)))
		if err != nil {
			ae := a.classify(err)
			if ae.status >= 500 {
				a.log().ErrorContext(ctx, "api: failed", "route", pattern, "err", err)
			}
			status = writeError(w, ae)
			return
		}
		status = writeJSON(w, rp.status, rp.body, rp.headers)
	})
}

// notAllowed answers a known path with a method it does not take: 405 and
// the Allow header.
func (a *API) notAllowed(rt route) http.Handler {
	allow := ""
	for _, m := range []string{http.MethodGet, http.MethodPost} {
		if _, ok := rt.methods[m]; ok {
			if allow != "" {
				allow += ", "
			}
			allow += m
		}
	}
	return a.serve(rt.path, func(_ *API, r *http.Request) (*reply, error) {
		return nil, &apiError{status: http.StatusMethodNotAllowed, code: "method_not_allowed",
			message: r.Method + " is not allowed on " + rt.path + "; allowed: " + allow, allow: allow}
	})
}

// withMargin ends the context a little before the invocation's deadline, so
// that an outcome record can still be written after a call that used up
// the time.
func withMargin(ctx context.Context) (context.Context, context.CancelFunc) {
	const margin = 2 * time.Second
	if dl, ok := ctx.Deadline(); ok && time.Until(dl) > 2*margin {
		return context.WithDeadline(ctx, dl.Add(-margin))
	}
	return context.WithCancel(ctx)
}

// reply is a route's answer.
type reply struct {
	status  int
	body    any
	headers map[string]string
}
