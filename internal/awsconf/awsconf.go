// Package awsconf loads the AWS configuration every keysweep client shares,
// with the SDK retryer configured once, here.
package awsconf

import (
	"context"
	"fmt"
	"os"
	"strconv"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/ratelimit"
	"github.com/aws/aws-sdk-go-v2/aws/retry"
	"github.com/aws/aws-sdk-go-v2/config"
)

const (
	// DefaultMaxAttempts is how many times one call is sent before its error
	// is returned. IAM throttles hard (its control plane has low, account-wide
	// rate limits), and the SDK default of 3 attempts loses calls in an
	// account with many users.
	DefaultMaxAttempts = 10

	// DefaultMaxBackoff caps the jittered exponential wait between attempts.
	DefaultMaxBackoff = 20 * time.Second

	// EnvMaxAttempts names the environment variable that overrides
	// DefaultMaxAttempts (an integer from 1 to MaxMaxAttempts).
	EnvMaxAttempts = "KEYSWEEP_MAX_ATTEMPTS"

	// MaxMaxAttempts bounds EnvMaxAttempts: with DefaultMaxBackoff one call
	// could otherwise outlive a Lambda invocation.
	MaxMaxAttempts = 50
)

// RetryOptions are the knobs of the retryer.
type RetryOptions struct {
	MaxAttempts int           // 0: DefaultMaxAttempts
	MaxBackoff  time.Duration // 0: DefaultMaxBackoff
}

// Retryer returns the retryer keysweep uses, with the defaults.
func Retryer() aws.Retryer {
	return NewRetryer(RetryOptions{})
}

// NewRetryer returns the SDK standard retryer with the given limits and no
// retry quota. The standard retryer's retry-token bucket (500 tokens, 5 per
// retry) otherwise fails calls with "retry quota exceeded" under sustained
// throttling, which is exactly when a sweep needs its retries; the backoff
// already spreads the load.
func NewRetryer(o RetryOptions) aws.Retryer {
	if o.MaxAttempts <= 0 {
		o.MaxAttempts = DefaultMaxAttempts
	}
	if o.MaxBackoff <= 0 {
		o.MaxBackoff = DefaultMaxBackoff
	}
	return retry.NewStandard(func(so *retry.StandardOptions) {
		so.MaxAttempts = o.MaxAttempts
		so.MaxBackoff = o.MaxBackoff
		so.RateLimiter = ratelimit.None
	})
}

// MaxAttemptsFromEnv returns EnvMaxAttempts' value, or DefaultMaxAttempts
// when it is unset or empty.
func MaxAttemptsFromEnv() (int, error) {
	v, ok := os.LookupEnv(EnvMaxAttempts)
	if !ok || v == "" {
		return DefaultMaxAttempts, nil
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < 1 || n > MaxMaxAttempts {
		return 0, fmt.Errorf("%s=%q: want an integer from 1 to %d", EnvMaxAttempts, v, MaxMaxAttempts)
	}
	return n, nil
}

// Load loads the default AWS configuration (environment, shared files, role;
// AWS_ENDPOINT_URL and AWS_ENDPOINT_URL_<SERVICE> are honoured by the SDK)
// with keysweep's retryer. optFns are applied after keysweep's own options,
// so a caller's config.WithRetryer wins (tests use it for short backoffs).
//
// A custom retryer makes the SDK ignore AWS_MAX_ATTEMPTS and AWS_RETRY_MODE;
// use EnvMaxAttempts instead.
func Load(ctx context.Context, optFns ...func(*config.LoadOptions) error) (aws.Config, error) {
	n, err := MaxAttemptsFromEnv()
	if err != nil {
		return aws.Config{}, fmt.Errorf("load aws config: %w", err)
	}
	opts := append([]func(*config.LoadOptions) error{
		config.WithRetryer(func() aws.Retryer {
			return NewRetryer(RetryOptions{MaxAttempts: n})
		}),
	}, optFns...)
	cfg, err := config.LoadDefaultConfig(ctx, opts...)
	if err != nil {
		return aws.Config{}, fmt.Errorf("load aws config: %w", err)
	}
	return cfg, nil
}
