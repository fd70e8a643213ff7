// Package backoff is the waiting in the key stores' retry loops: how long
// to back off before a retry, whether that wait still fits in the call's
// budget, and a sleep that ends with its context. Each store keeps its own
// policy (attempts, limits, which failures to retry); only the arithmetic
// and the timer live here, once.
package backoff

import (
	"context"
	"math/rand/v2"
	"time"
)

// Exponential is the wait before retry n (1 for the first): base doubled
// for each retry after the first, capped at limit, with "equal jitter":
// uniform in [d/2, d], so that concurrent callers spread out yet always
// back off. base and limit must be positive.
func Exponential(n int, base, limit time.Duration) time.Duration {
	d := base
	for i := 1; i < n && d < limit; i++ {
		d *= 2
	}
	d = min(d, limit)
	half := d / 2
	return half + rand.N(d-half+1)
}

// Fits reports whether a wait of d still fits in a call that started at
// start: within budget of waiting in all, and before ctx's deadline.
func Fits(ctx context.Context, start time.Time, d, budget time.Duration) bool {
	if time.Since(start)+d > budget {
		return false
	}
	if deadline, ok := ctx.Deadline(); ok && time.Until(deadline) < d {
		return false
	}
	return true
}

// Sleep waits d, or until ctx is done; then it returns ctx's cause (its
// error, unless it was cancelled with a cause).
func Sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return context.Cause(ctx)
	}
}
