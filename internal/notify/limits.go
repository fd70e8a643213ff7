package notify

import (
	"context"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/ratelimit"
	"github.com/aws/aws-sdk-go-v2/aws/retry"
)

// Limits bound how long a channel tries, so that a notice never holds up
// a run: a throttled or failed call is retried by the SDK's standard
// retryer, at most Attempts times in all, waiting at most MaxBackoff
// between tries, within Timeout. They replace the process-wide retry
// settings for the channel's calls only (IAM's 10 attempts and 20 s
// backoffs suit a sweep, not a notice).
type Limits struct {
	Attempts   int           // tries in all; 0: 3
	MaxBackoff time.Duration // 0: 2 s
	Timeout    time.Duration // 0: 20 s
}

func (l Limits) retryer() aws.Retryer {
	attempts, backoff := l.Attempts, l.MaxBackoff
	if attempts <= 0 {
		attempts = 3
	}
	if backoff <= 0 {
		backoff = 2 * time.Second
	}
	return retry.NewStandard(func(o *retry.StandardOptions) {
		o.MaxAttempts = attempts
		o.MaxBackoff = backoff
		// No client-side retry quota: one throttled channel must not
		// starve the others' retries.
		o.RateLimiter = ratelimit.None
	})
}

func (l Limits) context(ctx context.Context) (context.Context, context.CancelFunc) {
	t := l.Timeout
	if t <= 0 {
		t = 20 * time.Second
	}
	return context.WithTimeout(ctx, t)
}
