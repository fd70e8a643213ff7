package gmi

import (
	"context"
	"errors"
	"time"

	"github.com/keysweep/keysweep/internal/backoff"
)

// Retry bounds the retries of a failed call. Zero fields take the defaults.
type Retry struct {
	// MaxAttempts is how many times one call is sent at most (default 5).
	MaxAttempts int
	// BaseDelay is the first backoff (default 250ms); each retry doubles it.
	BaseDelay time.Duration
	// MaxDelay caps one backoff (default 4s).
	MaxDelay time.Duration
	// MaxElapsed caps the time one call spends retrying (default 20s). A
	// call never sleeps past its context's deadline either.
	MaxElapsed time.Duration
}

// Retry defaults.
const (
	DefaultMaxAttempts = 5
	DefaultBaseDelay   = 250 * time.Millisecond
	DefaultMaxDelay    = 4 * time.Second
	DefaultMaxElapsed  = 20 * time.Second
)

func (r Retry) withDefaults() Retry {
	if r.MaxAttempts <= 0 {
		r.MaxAttempts = DefaultMaxAttempts
	}
	if r.BaseDelay <= 0 {
		r.BaseDelay = DefaultBaseDelay
	}
	if r.MaxDelay <= 0 {
		r.MaxDelay = DefaultMaxDelay
	}
	if r.MaxElapsed <= 0 {
		r.MaxElapsed = DefaultMaxElapsed
	}
	return r
}

// backoff is the wait before retry n (1 for the first retry): exponential
// from BaseDelay, capped at MaxDelay, with equal jitter.
func (r Retry) backoff(n int) time.Duration {
	return backoff.Exponential(n, r.BaseDelay, r.MaxDelay)
}

// errRetryBudget says why a retryable failure was not retried.
var errRetryBudget = errors.New("retry budget spent")

// wait sleeps before retry n of a call that started at start, unless the
// attempts, the elapsed-time budget or ctx's deadline rule it out; then it
// returns errRetryBudget (or ctx's error) without sleeping.
func (r Retry) wait(ctx context.Context, n int, start time.Time) error {
	if n >= r.MaxAttempts {
		return errRetryBudget
	}
	d := r.backoff(n)
	if !backoff.Fits(ctx, start, d, r.MaxElapsed) {
		return errRetryBudget
	}
	return backoff.Sleep(ctx, d)
}
