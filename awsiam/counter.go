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

// Counter counts the attempts an SDK client sends, by operation, and the
// throttling errors they met. Unlike Provider.Calls it sees every retry:
// it is what the server saw. It is safe for concurrent use.
type Counter struct {
	mu        sync.Mutex
	attempts  map[string]int
	throttles map[string]int
}

// NewCounter returns an empty Counter.
func NewCounter() *Counter {
	return &Counter{attempts: map[string]int{}, throttles: map[string]int{}}
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

// CountingMiddleware adds to a client's stack a middleware that records each
// attempt in c. It sits at the end of the Finalize step, after the retry
// middleware, so it runs once per attempt. Use it in iam.Options.APIOptions
// (or any other client's).
func CountingMiddleware(c *Counter) func(*middleware.Stack) error {
	return func(stack *middleware.Stack) error {
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
