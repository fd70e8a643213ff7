package app

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"regexp"
	"runtime/debug"
	"sort"
	"strings"
	"time"

	"github.com/aws/aws-lambda-go/events"

	"github.com/keysweep/keysweep/policy"
	"github.com/keysweep/keysweep/store"
	"github.com/keysweep/keysweep/sweep"
)

// EnvSweeperFunction names the sweeper function the API invokes for POST /sweeps.
const EnvSweeperFunction = "SWEEPER_FUNCTION"

// Request limits. Anything over them is refused and changes nothing.
const (
	// MaxBodyBytes bounds a request body (after base64 decoding).
	MaxBodyBytes = 4 << 10
	// MaxReasonChars bounds a revocation's reason, in characters.
	MaxReasonChars = 512
)

var (
	// IAM access key ids are 16 to 128 word characters.
	keyIDRE = regexp.MustCompile(`^\w{16,128}$`)
	// Run ids as the engine makes them ("r-20260101T000000Z-0a1b2c3d"),
	// and as a manual payload may name them, without "/" (a path segment).
	runIDRE = regexp.MustCompile(`^[A-Za-z0-9._:-]{1,128}$`)
)

// RunStore is the API's narrow view of the audit table's run records.
// store.Dynamo and store.Mem satisfy it.
type RunStore interface {
	GetRun(ctx context.Context, runID string) (*store.Run, error)
	QueueRun(ctx context.Context, run *store.Run) error
	FinishRun(ctx context.Context, run *store.Run) error
}

var (
	_ RunStore = (*store.Dynamo)(nil)
	_ RunStore = (*store.Mem)(nil)
)

// API is the REST API's handler for API Gateway proxy events. The Lambda
// function, `keysweep invoke api` and `keysweep serve` (through ServeHTTP)
// all run it.
type API struct {
	Revoker  *sweep.Revoker
	Policies PolicyStore
	PolicyID string
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

// NewAPI wires the API on d's clients and stores; sweeps start through
// starter. logger may be nil.
func NewAPI(d *Deps, starter SweepStarter, logger *slog.Logger) *API {
	return &API{
		Revoker: &sweep.Revoker{
			Provider: d.Provider, Journal: d.Store, History: d.Store,
			Paths: IAMUserPaths{API: d.IAM}, Logger: logger,
		},
		Policies: d.Store,
		PolicyID: d.Config.PolicyID,
		Runs:     d.Store,
		Sweeps:   starter,
		Logger:   logger,
	}
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

// Route templates, as API Gateway names them in an event's resource.
const (
	resRevoke = "/keys/{accessKeyId}/revoke"
	resKey    = "/keys/{accessKeyId}"
	resSweeps = "/sweeps"
	resSweep  = "/sweeps/{runId}"
)

// request is one decoded API call.
type request struct {
	ev     events.APIGatewayProxyRequest
	params map[string]string
	actor  string
}

// reply is a handler's answer.
type reply struct {
	status  int
	body    any
	headers map[string]string
}

type handlerFunc func(a *API, ctx context.Context, rq *request) (*reply, error)

// routes maps each template to its handlers by method.
var routes = map[string]map[string]handlerFunc{
	resRevoke: {http.MethodPost: (*API).revoke},
	resKey:    {http.MethodGet: (*API).getKey},
	resSweeps: {http.MethodPost: (*API).startSweep},
	resSweep:  {http.MethodGet: (*API).getSweep},
}

// templates in matching order.
var templates = []string{resRevoke, resKey, resSweeps, resSweep}

// match finds the route of a request: by its resource when API Gateway
// names one of ours (it then gives the path parameters, and the path may
// carry a custom domain's base path), else by its path (serve, hand-made
// events, a proxy resource).
func match(ev events.APIGatewayProxyRequest) (string, map[string]string, bool) {
	for _, t := range templates {
		if ev.Resource != t {
			continue
		}
		params := map[string]string{}
		fromPath, pathOK := matchPath(t, ev.Path)
		for _, name := range paramNames(t) {
			v, ok := ev.PathParameters[name]
			if !ok && pathOK {
				v = fromPath[name]
			}
			params[name] = v
		}
		return t, params, true
	}
	for _, t := range templates {
		if params, ok := matchPath(t, ev.Path); ok {
			return t, params, true
		}
	}
	return "", nil, false
}

func paramNames(tmpl string) []string {
	var out []string
	for _, seg := range strings.Split(strings.Trim(tmpl, "/"), "/") {
		if strings.HasPrefix(seg, "{") && strings.HasSuffix(seg, "}") {
			out = append(out, seg[1:len(seg)-1])
		}
	}
	return out
}

// matchPath matches a path against a template segment by segment.
func matchPath(tmpl, path string) (map[string]string, bool) {
	if !strings.HasPrefix(path, "/") {
		return nil, false
	}
	ts := strings.Split(strings.TrimPrefix(tmpl, "/"), "/")
	ps := strings.Split(strings.TrimPrefix(path, "/"), "/")
	if len(ts) != len(ps) {
		return nil, false
	}
	params := map[string]string{}
	for i, seg := range ts {
		if strings.HasPrefix(seg, "{") && strings.HasSuffix(seg, "}") {
			if ps[i] == "" {
				return nil, false
			}
			params[seg[1:len(seg)-1]] = ps[i]
			continue
		}
		if seg != ps[i] {
			return nil, false
		}
	}
	return params, true
}

// Handle answers one API Gateway proxy request. It never returns an error:
// every failure is a JSON error response with its status, and nothing but
// a successful call changes IAM or the audit table.
func (a *API) Handle(ctx context.Context, ev events.APIGatewayProxyRequest) (resp events.APIGatewayProxyResponse, _ error) {
	start := time.Now()
	var actor, route string
	defer func() {
		if v := recover(); v != nil {
			a.log().ErrorContext(ctx, "api: panic", "panic", v, "stack", string(debug.Stack()))
			resp = errorResponse(&apiError{status: http.StatusInternalServerError, code: "internal", message: "internal error; the function's log has the details"})
		}
		level := slog.LevelInfo
		if resp.StatusCode >= 500 {
			level = slog.LevelError
		}
		a.log().Log(ctx, level, "api request", "method", ev.HTTPMethod, "path", ev.Path, "route", route,
			"status", resp.StatusCode, "actor", actor, "requestId", ev.RequestContext.RequestID,
			"ms", time.Since(start).Milliseconds())
	}()
	ctx, cancel := withMargin(ctx)
	defer cancel()

	actor = callerOf(ev.RequestContext.Identity)
	if actor == "" {
		if a.RequireIdentity {
			return errorResponse(&apiError{status: http.StatusForbidden, code: "no_identity",
				message: "the request carries no caller identity; the API must be called through API Gateway with IAM authorization"}), nil
		}
		actor = a.DefaultActor
		if actor == "" {
			actor = "unknown"
		}
	}
	t, params, ok := match(ev)
	if !ok {
		return errorResponse(&apiError{status: http.StatusNotFound, code: "unknown_route",
			message: "no such route; the API has POST /keys/{accessKeyId}/revoke, GET /keys/{accessKeyId}, POST /sweeps and GET /sweeps/{runId}"}), nil
	}
	route = t
	h, ok := routes[t][ev.HTTPMethod]
	if !ok {
		allow := allowed(t)
		return errorResponse(&apiError{status: http.StatusMethodNotAllowed, code: "method_not_allowed",
			message: ev.HTTPMethod + " is not allowed on " + t + "; allowed: " + allow, allow: allow}), nil
	}
	rp, err := h(a, ctx, &request{ev: ev, params: params, actor: actor})
	if err != nil {
		ae := a.classify(err)
		if ae.status >= 500 {
			a.log().ErrorContext(ctx, "api: failed", "route", t, "err", err)
		}
		return errorResponse(ae), nil
	}
	return jsonResponse(rp.status, rp.body, rp.headers), nil
}

// withMargin ends the context a little before the invocation's deadline, so
// that an outcome record can still be written after an IAM call that used
// up the time.
func withMargin(ctx context.Context) (context.Context, context.CancelFunc) {
	const margin = 2 * time.Second
	if dl, ok := ctx.Deadline(); ok && time.Until(dl) > 2*margin {
		return context.WithDeadline(ctx, dl.Add(-margin))
	}
	return context.WithCancel(ctx)
}

func allowed(tmpl string) string {
	var ms []string
	for m := range routes[tmpl] {
		ms = append(ms, m)
	}
	sort.Strings(ms)
	return strings.Join(ms, ", ")
}

// callerOf names the caller from API Gateway's identity: the IAM ARN under
// AWS_IAM authorization, else the caller or account id.
func callerOf(id events.APIGatewayRequestIdentity) string {
	var s string
	switch {
	case id.UserArn != "":
		s = id.UserArn
	case id.Caller != "":
		s = "caller:" + id.Caller
	case id.AccountID != "":
		s = "account:" + id.AccountID
	default:
		return ""
	}
	return sanitize(s, 512)
}

// sanitize drops control characters and bounds the length of text that
// goes into records and logs.
func sanitize(s string, max int) string {
	s = strings.Map(func(r rune) rune {
		if r < 0x20 || r == 0x7f {
			return -1
		}
		return r
	}, s)
	if len(s) > max {
		s = s[:max]
	}
	return strings.ToValidUTF8(s, "")
}

func jsonResponse(status int, body any, headers map[string]string) events.APIGatewayProxyResponse {
	b, err := json.Marshal(body)
	if err != nil {
		b = []byte(`{"error":{"code":"internal","message":"could not encode the answer","retryable":false}}`)
		status = http.StatusInternalServerError
	}
	h := map[string]string{
		"Content-Type":           "application/json; charset=utf-8",
		"Cache-Control":          "no-store",
		"X-Content-Type-Options": "nosniff",
	}
	for k, v := range headers {
		h[k] = v
	}
	return events.APIGatewayProxyResponse{StatusCode: status, Headers: h, Body: string(b) + "\n"}
}

// loadPolicy reads the current policy. An invalid stored policy is not a
// failure here (perr): a key can still be revoked or shown, unjudged. A
// failed read of the policy table is.
func (a *API) loadPolicy(ctx context.Context) (p *policy.Policy, source string, perr error, err error) {
	p, source, err = LoadPolicy(ctx, a.Policies, a.PolicyID)
	switch {
	case err == nil:
		return p, source, nil, nil
	case errors.Is(err, policy.ErrInvalid):
		return nil, source, err, nil
	}
	return nil, "", nil, &sweep.UpstreamError{Service: sweep.ServiceDynamoDB, Op: "read the policy", Err: err}
}

func keyID(rq *request) (string, error) {
	id := rq.params["accessKeyId"]
	if !keyIDRE.MatchString(id) {
		return "", badRequest("invalid_key_id", "accessKeyId: an IAM access key id is 16 to 128 letters, digits or underscores, got "+quote(id, 40))
	}
	return id, nil
}

// quote shows a bounded, printable form of caller input in a message.
func quote(s string, max int) string {
	r := []rune(s)
	if len(r) > max {
		return strconvQuote(string(r[:max])) + "…"
	}
	return strconvQuote(s)
}

// revokeBody names the fields POST /keys/{accessKeyId}/revoke accepts.
var revokeFields = []string{"reason", "action"}

func (a *API) revoke(ctx context.Context, rq *request) (*reply, error) {
	id, err := keyID(rq)
	if err != nil {
		return nil, err
	}
	body, err := requestBody(rq.ev)
	if err != nil {
		return nil, err
	}
	fields, err := decodeObject(body, revokeFields...)
	if err != nil {
		return nil, err
	}
	reason, err := stringField(fields, "reason")
	if err != nil {
		return nil, err
	}
	if err := checkReason(reason); err != nil {
		return nil, err
	}
	actionName, err := stringField(fields, "action")
	if err != nil {
		return nil, err
	}
	var action policy.Verdict
	switch actionName {
	case "", "delete":
		action = policy.Delete
	case "deactivate":
		action = policy.Deactivate
	default:
		return nil, badRequest("invalid_action", `action: must be "delete" (the default) or "deactivate", got `+quote(actionName, 40))
	}
	p, source, perr, err := a.loadPolicy(ctx)
	if err != nil {
		return nil, err
	}
	rev, err := a.Revoker.Revoke(ctx, sweep.RevokeRequest{
		AccessKeyID: id, Action: action, Reason: reason, Actor: rq.actor,
		Policy: p, PolicySource: source, PolicyErr: perr,
	})
	if err != nil {
		return nil, err
	}
	return &reply{status: http.StatusOK, body: rev}, nil
}

func (a *API) getKey(ctx context.Context, rq *request) (*reply, error) {
	id, err := keyID(rq)
	if err != nil {
		return nil, err
	}
	p, source, perr, err := a.loadPolicy(ctx)
	if err != nil {
		return nil, err
	}
	v, err := a.Revoker.Inspect(ctx, id, p, source, perr)
	if err != nil {
		return nil, err
	}
	return &reply{status: http.StatusOK, body: v}, nil
}

// sweepFields names the fields POST /sweeps accepts: a manual payload
// without the ids the API hands out itself.
var sweepFields = []string{"mode", "users"}

// SweepAccepted is POST /sweeps' answer.
type SweepAccepted struct {
	RunID    string `json:"runId"`
	Outcome  string `json:"outcome"`
	Location string `json:"location"`
	Message  string `json:"message"`
}

func (a *API) startSweep(ctx context.Context, rq *request) (*reply, error) {
	body, err := requestBody(rq.ev)
	if err != nil {
		return nil, err
	}
	fields, err := decodeObject(body, sweepFields...)
	if err != nil {
		return nil, err
	}
	now := a.now()
	runID := sweep.NewRunID(now)
	// The sweeper gets the caller's payload with the run id added, and it
	// is checked here exactly as the sweeper will check it.
	payload := map[string]json.RawMessage{}
	for k, v := range fields {
		payload[k] = v
	}
	payload["runId"], _ = json.Marshal(runID)
	// The sweeper records who asked on the run's trigger.
	payload["requestedBy"], _ = json.Marshal(rq.actor)
	raw, err := json.Marshal(payload)
	if err != nil {
		return nil, badRequest("invalid_body", "body: "+err.Error())
	}
	ev, err := ParseSweepEvent(raw)
	if err != nil {
		return nil, badRequest("invalid_sweep", strings.TrimPrefix(err.Error(), ErrBadEvent.Error()+": "))
	}
	if ev.Enforce {
		p, source, perr, err := a.loadPolicy(ctx)
		if err != nil {
			return nil, err
		}
		if perr != nil {
			return nil, &apiError{status: http.StatusConflict, code: "invalid_policy", message: "the stored policy is invalid; a sweep would change nothing: " + perr.Error()}
		}
		if p.Mode != policy.ModeEnforce {
			return nil, badRequest("mode_not_allowed", "mode: enforce requested, but the policy ("+source+") is in "+string(p.Mode)+" mode; a request can narrow the policy, never widen it")
		}
	}
	account, err := a.Revoker.Provider.AccountID(ctx)
	if err != nil {
		return nil, &sweep.UpstreamError{Service: sweep.ServiceIAM, Op: "account id", Err: err}
	}
	run := &store.Run{
		RunID: runID, Account: account, StartedAt: now, Users: ev.Users, Counts: map[string]int{},
		Trigger: store.Trigger{Kind: "api", Source: rq.actor},
	}
	if ev.AuditOnly {
		run.Mode = policy.ModeAudit
	}
	if err := a.Runs.QueueRun(ctx, run); err != nil {
		return nil, &sweep.UpstreamError{Service: sweep.ServiceDynamoDB, Op: "queue run " + runID, Err: err}
	}
	if err := a.Sweeps.StartSweep(ctx, SweepStart{RunID: runID, Payload: raw, Event: ev, Actor: rq.actor}); err != nil {
		end := a.now()
		run.Outcome, run.FinishedAt = store.OutcomeFailed, &end
		run.Errors = []string{"the sweep could not be started: " + err.Error()}
		wctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
		defer cancel()
		if ferr := a.Runs.FinishRun(wctx, run); ferr != nil {
			a.log().ErrorContext(ctx, "api: mark unstarted run failed", "run", runID, "err", ferr)
		}
		return nil, err
	}
	loc := location(rq.ev, "/sweeps/"+runID)
	return &reply{
		status:  http.StatusAccepted,
		headers: map[string]string{"Location": loc},
		body: SweepAccepted{RunID: runID, Outcome: store.OutcomeQueued, Location: loc,
			Message: "sweep queued; GET " + loc + " shows its record"},
	}, nil
}

// location is path under the API's own base (stage or custom domain base
// path), which API Gateway's request context carries and the event's path
// does not.
func location(ev events.APIGatewayProxyRequest, path string) string {
	full, rel := ev.RequestContext.Path, ev.Path
	if full != "" && rel != "" && strings.HasSuffix(full, rel) {
		return strings.TrimSuffix(full, rel) + path
	}
	return path
}

// SweepRun is GET /sweeps/{runId}'s answer.
type SweepRun struct {
	Run *store.Run `json:"run"`
}

func (a *API) getSweep(ctx context.Context, rq *request) (*reply, error) {
	id := rq.params["runId"]
	if !runIDRE.MatchString(id) {
		return nil, badRequest("invalid_run_id", "runId: 1 to 128 letters, digits and ._:- characters, got "+quote(id, 40))
	}
	run, err := a.Runs.GetRun(ctx, id)
	if errors.Is(err, store.ErrNotFound) {
		return nil, &apiError{status: http.StatusNotFound, code: "run_not_found", message: "no run " + id}
	}
	if err != nil {
		return nil, &sweep.UpstreamError{Service: sweep.ServiceDynamoDB, Op: "read run " + id, Err: err}
	}
	return &reply{status: http.StatusOK, body: SweepRun{Run: run}}, nil
}
