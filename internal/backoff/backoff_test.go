package backoff

import (
	"context"
	"errors"
	"testing"
	"time"
)

func TestExponential(t *testing.T) {
	base, limit := 100*time.Millisecond, time.Second
	for n, ceiling := range map[int]time.Duration{
		1: 100 * time.Millisecond, 2: 200 * time.Millisecond, 3: 400 * time.Millisecond,
		4: 800 * time.Millisecond, 5: time.Second, 60: time.Second,
	} {
		for range 200 {
			if d := Exponential(n, base, limit); d < ceiling/2 || d > ceiling {
				t.Fatalf("Exponential(%d) = %v, want within [%v, %v]", n, d, ceiling/2, ceiling)
			}
		}
	}
}

func TestFits(t *testing.T) {
	start := time.Now()
	if !Fits(t.Context(), start, time.Second, time.Minute) {
		t.Error("a second within a minute's budget does not fit")
	}
	if Fits(t.Context(), start.Add(-59*time.Second), 2*time.Second, time.Minute) {
		t.Error("a wait past the budget fits")
	}
	ctx, cancel := context.WithTimeout(t.Context(), time.Second)
	defer cancel()
	if Fits(ctx, start, time.Minute, time.Hour) {
		t.Error("a wait past the context's deadline fits")
	}
}

func TestSleep(t *testing.T) {
	if err := Sleep(t.Context(), time.Millisecond); err != nil {
		t.Errorf("Sleep = %v, want nil", err)
	}
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	if err := Sleep(ctx, time.Hour); !errors.Is(err, context.Canceled) {
		t.Errorf("Sleep after cancel = %v, want context.Canceled", err)
	}
	why := errors.New("shutting down")
	ctx, cancelCause := context.WithCancelCause(t.Context())
	cancelCause(why)
	if err := Sleep(ctx, time.Hour); !errors.Is(err, why) {
		t.Errorf("Sleep after cancel with a cause = %v, want the cause", err)
	}
}
