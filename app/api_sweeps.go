package app

import (
	"context"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
	lambdatypes "github.com/aws/aws-sdk-go-v2/service/lambda/types"

	"github.com/keysweep/keysweep/sweep"
)

// SweepStarter starts a sweep without waiting for it.
type SweepStarter interface {
	StartSweep(ctx context.Context, s SweepStart) error
}

// SweepStart is a sweep the API accepted: its run record is queued.
type SweepStart struct {
	RunID string
	// Payload is the manual payload for the sweeper, run id included,
	// already checked with ParseSweepEvent.
	Payload []byte
	// Event is Payload parsed.
	Event SweepEvent
	// Actor is the caller who asked.
	Actor string
}

// ServiceLambda names Lambda in an UpstreamError.
const ServiceLambda = "Lambda"

// LambdaInvoker is the part of the Lambda client LambdaStarter uses;
// *lambda.Client satisfies it.
type LambdaInvoker interface {
	Invoke(ctx context.Context, params *lambda.InvokeInput, optFns ...func(*lambda.Options)) (*lambda.InvokeOutput, error)
}

var _ LambdaInvoker = (*lambda.Client)(nil)

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
	out, err := l.Client.Invoke(ctx, &lambda.InvokeInput{
		FunctionName:   aws.String(l.Function),
		InvocationType: lambdatypes.InvocationTypeEvent,
		Payload:        s.Payload,
	})
	if err != nil {
		return &sweep.UpstreamError{Service: ServiceLambda, Op: "invoke " + l.Function, Err: err}
	}
	if out.StatusCode != 202 {
		return &sweep.UpstreamError{Service: ServiceLambda, Op: "invoke " + l.Function,
			Err: fmt.Errorf("asynchronous invocation answered status %d, want 202", out.StatusCode)}
	}
	return nil
}

// LocalStarter runs the sweep in-process, in a goroutine: `keysweep serve`
// and `keysweep invoke api` use it. Wait waits for the sweeps it started.
type LocalStarter struct {
	Sweeper *Sweeper
	// Timeout bounds one sweep, like the function's timeout; 15 minutes
	// when zero.
	Timeout time.Duration
	Logger  *slog.Logger

	wg sync.WaitGroup
}

// StartSweep: see LocalStarter. The sweep outlives the request's context.
func (l *LocalStarter) StartSweep(ctx context.Context, s SweepStart) error {
	ev := s.Event
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
		sum, err := l.Sweeper.Run(ctx, ev)
		if err != nil {
			log.Error("local sweep", "run", s.RunID, "err", err)
			return
		}
		log.Info("local sweep finished", "run", sum.RunID, "outcome", sum.Outcome)
	}()
	return nil
}

// Wait waits until every sweep started so far has finished.
func (l *LocalStarter) Wait() { l.wg.Wait() }
