package awsiam

import (
	"context"
	"maps"
	"sync"

	"github.com/aws/aws-sdk-go-v2/aws"
	awsmiddleware "github.com/aws/aws-sdk-go-v2/aws/middleware"
	"github.com/aws/aws-sdk-go-v2/aws/retry"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	"github.com/aws/smithy-go/middleware"
)

// Counter counts, by operation, the calls an SDK client makes (a page of a
// listing is a call), the attempts it sends (every retry too: what the
// server saw) and the throttling errors those met. One middleware on the
// client's stack counts every operation; nothing wraps the client's
// methods. It is safe for concurrent use.
type Counter struct {
	mu        sync.Mutex
	calls     map[string]int
	attempts  map[string]int
	throttles map[string]int
}

// NewCounter returns an empty Counter.
func NewCounter() *Counter {
	return &Counter{calls: map[string]int{}, attempts: map[string]int{}, throttles: map[string]int{}}
}

// Calls returns the calls made, by operation name; retries inside the SDK
// are one call.
func (c *Counter) Calls() map[string]int {
	if c == nil {
		return map[string]int{}
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	return maps.Clone(c.calls)
}

func (c *Counter) call(op string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.calls[op]++
}

// Attempts returns the attempts sent, by operation name ("ListUsers", ...).
func (c *Counter) Attempts() map[string]int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return maps.Clone(c.attempts)
}

// Throttles returns how many attempts were answered with a throttling error.
func (c *Counter) Throttles() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	n := 0
	for _, v := range c.throttles {
		n += v
	}
	return n
}

// ThrottlesByOperation returns the throttling errors by operation name.
func (c *Counter) ThrottlesByOperation() map[string]int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return maps.Clone(c.throttles)
}

func (c *Counter) record(op string, throttled bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.attempts[op]++
	if throttled {
		c.throttles[op]++
	}
}

// isThrottle is the SDK retryer's own test (Throttling, ThrottlingException,
// RequestLimitExceeded and the other codes in retry.DefaultThrottleErrorCodes),
// so what is counted is what the retryer backed off from.
var isThrottle = retry.IsErrorThrottles(retry.DefaultThrottles)

// CountingMiddleware adds to a client's stack the middlewares that record
// each call in c (at the end of the Initialize step, once the operation is named: once
// per call) and
// each attempt (at the end of the Finalize step, after the retry
// middleware: once per attempt). Use it in the APIOptions of any client.
func CountingMiddleware(c *Counter) func(*middleware.Stack) error {
	return func(stack *middleware.Stack) error {
		err := stack.Initialize.Add(middleware.InitializeMiddlewareFunc("keysweepCountCalls",
			func(ctx context.Context, in middleware.InitializeInput, next middleware.InitializeHandler) (middleware.InitializeOutput, middleware.Metadata, error) {
				c.call(awsmiddleware.GetOperationName(ctx))
				return next.HandleInitialize(ctx, in)
			}), middleware.After)
		if err != nil {
			return err
		}
		return stack.Finalize.Add(middleware.FinalizeMiddlewareFunc("keysweepCountAttempts",
			func(ctx context.Context, in middleware.FinalizeInput, next middleware.FinalizeHandler) (middleware.FinalizeOutput, middleware.Metadata, error) {
				out, md, err := next.HandleFinalize(ctx, in)
				throttled := err != nil && isThrottle.IsErrorThrottle(err) == aws.TrueTernary
				c.record(awsmiddleware.GetOperationName(ctx), throttled)
				return out, md, err
			}), middleware.After)
	}
}

// NewClient returns an IAM client on cfg whose attempts are counted in c.
func NewClient(cfg aws.Config, c *Counter, optFns ...func(*iam.Options)) *iam.Client {
	return iam.NewFromConfig(cfg, append([]func(*iam.Options){func(o *iam.Options) {
		o.APIOptions = append(o.APIOptions, CountingMiddleware(c))
	}}, optFns...)...)
}
