package httpapi

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"regexp"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awslambda "github.com/aws/aws-sdk-go-v2/service/lambda"
	lambdatypes "github.com/aws/aws-sdk-go-v2/service/lambda/types"

	"github.com/keysweep/keysweep/internal/domain"
	"github.com/keysweep/keysweep/internal/engine"
	"github.com/keysweep/keysweep/internal/trigger"
	"github.com/keysweep/keysweep/policy"
)

// Run ids as the engine makes them ("r-20260101T000000Z-0a1b2c3d"), and
// as a manual payload may name them, without "/" (a path segment).
var runIDRE = regexp.MustCompile(`^[A-Za-z0-9._:-]{1,128}$`)

// sweepFields names the fields POST /sweeps accepts: a manual payload
// without the ids the API hands out itself.
var sweepFields = []string{"mode", "users", "target"}

// SweepAccepted is POST /sweeps' answer.
type SweepAccepted struct {
	RunID    string `json:"runId"`
	Outcome  string `json:"outcome"`
	Location string `json:"location"`
	Message  string `json:"message"`
}

// SweepRun is GET /sweeps/{runId}'s answer.
type SweepRun struct {
	Run *domain.Run `json:"run"`
}

// SweepStarter starts a sweep without waiting for it.
type SweepStarter interface {
	StartSweep(ctx context.Context, s SweepStart) error
}

// SweepStart is a sweep the API accepted: its run record is queued.
type SweepStart struct {
	RunID string
	// Payload is the manual payload for the sweeper, run id included,
	// already checked with trigger.Parse.
	Payload []byte
	// Event is Payload parsed.
	Event trigger.Event
	// Actor is the caller who asked.
	Actor string
}

func (a *API) startSweep(r *http.Request) (*reply, error) {
	ctx := r.Context()
	actor := CallerFrom(ctx)
	fields, err := readObject(r, sweepFields...)
	if err != nil {
		return nil, err
	}
	now := a.now()
	runID := engine.NewRunID(now)
	// The sweeper gets the caller's payload with the run id added, and it
	// is checked here exactly as the sweeper will check it.
	payload := map[string]json.RawMessage{}
	for k, v := range fields {
		payload[k] = v
	}
	payload["runId"], _ = json.Marshal(runID)
	// The sweeper records who asked on the run's trigger.
	payload["requestedBy"], _ = json.Marshal(actor)
	raw, err := json.Marshal(payload)
	if err != nil {
		return nil, badRequest("invalid_body", "body: "+err.Error())
	}
	ev, err := trigger.Parse(raw)
	if err != nil {
		return nil, badRequest("invalid_sweep", strings.TrimPrefix(err.Error(), trigger.ErrBadEvent.Error()+": "))
	}
	t, eng, err := a.sweepTarget(r, ev.Target)
	if err != nil {
		return nil, err
	}
	if ev.Enforce {
		if err := a.checkEnforce(ctx, t); err != nil {
			return nil, err
		}
	}
	account, err := eng.Store.Account(ctx)
	if err != nil {
		return nil, &domain.ServiceError{Service: eng.ServiceName(), Op: "account id", Err: err}
	}
	run := &domain.Run{
		RunID: runID, Account: account, Target: t.Name, StartedAt: now, Users: ev.Users, Counts: map[string]int{},
		Trigger: domain.Trigger{Kind: domain.TriggerAPI, Source: actor},
	}
	if p := eng.Store.Provider(); p != domain.ProviderAWS {
		run.Provider = p
	}
	if ev.AuditOnly {
		run.Mode = policy.ModeAudit
	}
	if err := a.Runs.QueueRun(ctx, run); err != nil {
		return nil, &domain.ServiceError{Service: engine.ServiceJournal, Op: "queue run " + runID, Err: err}
	}
	if err := a.Sweeps.StartSweep(ctx, SweepStart{RunID: runID, Payload: raw, Event: ev, Actor: actor}); err != nil {
		a.unstarted(ctx, run, err)
		return nil, err
	}
	loc := basePath(ctx) + "/sweeps/" + runID
	return &reply{
		status:  http.StatusAccepted,
		headers: map[string]string{"Location": loc},
		body: SweepAccepted{RunID: runID, Outcome: string(domain.RunQueued), Location: loc,
			Message: "sweep queued; GET " + loc + " shows its record"},
	}, nil
}

// sweepTarget is the target a sweep request names; a request without one
// is queued under the default target (the sweeper sweeps every target).
func (a *API) sweepTarget(r *http.Request, name string) (engine.Target, *engine.Engine, error) {
	if name == "" && len(a.Targets) > 0 {
		name = a.Targets[0].Name
	}
	r.SetPathValue("target", name)
	return a.target(r)
}

// checkEnforce refuses a request for enforce mode the policy does not allow.
func (a *API) checkEnforce(ctx context.Context, t engine.Target) error {
	p, source, perr, err := a.loadPolicy(ctx, t)
	if err != nil {
		return err
	}
	if perr != nil {
		return &apiError{status: http.StatusConflict, code: "invalid_policy", message: "the stored policy is invalid; a sweep would change nothing: " + perr.Error()}
	}
	if p.Mode != policy.ModeEnforce {
		return badRequest("mode_not_allowed", "mode: enforce requested, but the policy ("+source+") is in "+string(p.Mode)+" mode; a request can narrow the policy, never widen it")
	}
	return nil
}

// unstarted marks a queued run that could not be started as failed.
func (a *API) unstarted(ctx context.Context, run *domain.Run, cause error) {
	end := a.now()
	run.Outcome, run.FinishedAt = domain.RunFailed, &end
	run.Errors = []string{"the sweep could not be started: " + cause.Error()}
	wctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	defer cancel()
	if err := a.Runs.FinishRun(wctx, run); err != nil {
		a.log().ErrorContext(ctx, "api: mark unstarted run failed", "run", run.RunID, "err", err)
	}
}

func (a *API) getSweep(r *http.Request) (*reply, error) {
	id := r.PathValue("runId")
	if !runIDRE.MatchString(id) {
		return nil, badRequest("invalid_run_id", "runId: 1 to 128 letters, digits and ._:- characters, got "+trigger.Quote(id, 40))
	}
	run, err := a.Runs.GetRun(r.Context(), id)
	if errors.Is(err, domain.ErrNotFound) {
		return nil, &apiError{status: http.StatusNotFound, code: "run_not_found", message: "no run " + id}
	}
	if err != nil {
		return nil, &domain.ServiceError{Service: engine.ServiceJournal, Op: "read run " + id, Err: err}
	}
	return &reply{status: http.StatusOK, body: SweepRun{Run: run}}, nil
}

// ServiceLambda names Lambda in a ServiceError.
const ServiceLambda = "Lambda"

// LambdaInvoker is the part of the Lambda client LambdaStarter uses;
// *lambda.Client satisfies it.
type LambdaInvoker interface {
	Invoke(ctx context.Context, params *awslambda.InvokeInput, optFns ...func(*awslambda.Options)) (*awslambda.InvokeOutput, error)
}

var _ LambdaInvoker = (*awslambda.Client)(nil)

// LambdaStarter starts a sweep by invoking the sweeper function
// asynchronously (InvocationType Event) with the manual payload: Lambda
// queues it, retries it on failure, and the sweeper's failure destination
// gets it in the end if it keeps failing.
type LambdaStarter struct {
	Client   LambdaInvoker
	Function string // name or ARN of the sweeper function
}

// StartSweep: see LambdaStarter.
func (l *LambdaStarter) StartSweep(ctx context.Context, s SweepStart) error {
	out, err := l.Client.Invoke(ctx, &awslambda.InvokeInput{
		FunctionName:   aws.String(l.Function),
		InvocationType: lambdatypes.InvocationTypeEvent,
		Payload:        s.Payload,
	})
	if err != nil {
		return &domain.ServiceError{Service: ServiceLambda, Op: "invoke " + l.Function, Err: err}
	}
	if out.StatusCode != 202 {
		return &domain.ServiceError{Service: ServiceLambda, Op: "invoke " + l.Function,
			Err: fmt.Errorf("asynchronous invocation answered status %d, want 202", out.StatusCode)}
	}
	return nil
}

// LocalStarter runs the sweep in-process, in a goroutine, with Run:
// `keysweep serve` and the tests use it. Wait waits for the sweeps it
// started.
type LocalStarter struct {
	Run func(ctx context.Context, ev trigger.Event) error
	// Timeout bounds one sweep, like the function's timeout; 15 minutes
	// when zero.
	Timeout time.Duration
	Logger  *slog.Logger

	wg sync.WaitGroup
}

// StartSweep: see LocalStarter. The sweep outlives the request's context.
func (l *LocalStarter) StartSweep(ctx context.Context, s SweepStart) error {
	timeout := l.Timeout
	if timeout <= 0 {
		timeout = 15 * time.Minute
	}
	log := l.Logger
	if log == nil {
		log = slog.Default()
	}
	l.wg.Add(1)
	go func() {
		defer l.wg.Done()
		ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), timeout)
		defer cancel()
		if err := l.Run(ctx, s.Event); err != nil {
			log.Error("local sweep", "run", s.RunID, "err", err)
			return
		}
		log.Info("local sweep finished", "run", s.RunID)
	}()
	return nil
}

// Wait waits until every sweep started so far has finished.
func (l *LocalStarter) Wait() { l.wg.Wait() }
