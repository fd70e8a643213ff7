package awsconf

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/smithy-go"
)

func TestLoadMaxAttempts(t *testing.T) {
	tests := []struct {
		name    string
		env     string // "-": unset
		want    int
		wantErr string
	}{
		{name: "default", env: "-", want: DefaultMaxAttempts},
		{name: "empty", env: "", want: DefaultMaxAttempts},
		{name: "override", env: "4", want: 4},
		{name: "upper bound", env: "50", want: 50},
		{name: "not a number", env: "ten", wantErr: `KEYSWEEP_MAX_ATTEMPTS="ten"`},
		{name: "zero", env: "0", wantErr: "from 1 to 50"},
		{name: "too many", env: "51", wantErr: "from 1 to 50"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			isolate(t)
			if tc.env != "-" {
				t.Setenv(EnvMaxAttempts, tc.env)
			}
			cfg, err := Load(context.Background())
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("Load: err = %v, want one containing %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("Load: %v", err)
			}
			if got := cfg.Retryer().MaxAttempts(); got != tc.want {
				t.Errorf("MaxAttempts = %d, want %d", got, tc.want)
			}
		})
	}
}

func TestLoadCallerRetryerWins(t *testing.T) {
	isolate(t)
	cfg, err := Load(context.Background(), config.WithRetryer(func() aws.Retryer {
		return NewRetryer(RetryOptions{MaxAttempts: 2, MaxBackoff: time.Millisecond})
	}))
	if err != nil {
		t.Fatalf("Load: %v", err)
	}
	if got := cfg.Retryer().MaxAttempts(); got != 2 {
		t.Errorf("MaxAttempts = %d, want 2", got)
	}
}

func TestLoadIgnoresSDKMaxAttempts(t *testing.T) {
	isolate(t)
	t.Setenv("AWS_MAX_ATTEMPTS", "2")
	cfg, err := Load(context.Background())
	if err != nil {
		t.Fatalf("Load: %v", err)
	}
	if cfg.RetryMaxAttempts != 0 {
		t.Errorf("RetryMaxAttempts = %d, want 0 (clients would wrap the retryer)", cfg.RetryMaxAttempts)
	}
	if got := cfg.Retryer().MaxAttempts(); got != DefaultMaxAttempts {
		t.Errorf("MaxAttempts = %d, want %d", got, DefaultMaxAttempts)
	}
}

// TestRetryerNoQuota: the default token bucket (500 tokens, 5 per retry)
// refuses the 101st retry in a row; ours must never refuse one.
func TestRetryerNoQuota(t *testing.T) {
	r := Retryer()
	throttled := &smithy.GenericAPIError{Code: "Throttling", Message: "Rate exceeded"}
	if !r.IsErrorRetryable(throttled) {
		t.Fatal("Throttling is not retryable")
	}
	for i := range 1000 {
		if _, err := r.GetRetryToken(context.Background(), throttled); err != nil {
			t.Fatalf("retry %d: GetRetryToken: %v", i, err)
		}
	}
}

func TestRetryerBackoff(t *testing.T) {
	throttled := &smithy.GenericAPIError{Code: "Throttling", Message: "Rate exceeded"}
	tests := []struct {
		name string
		opts RetryOptions
		max  time.Duration
	}{
		{name: "default", opts: RetryOptions{}, max: DefaultMaxBackoff},
		{name: "short", opts: RetryOptions{MaxBackoff: 5 * time.Millisecond}, max: 5 * time.Millisecond},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := NewRetryer(tc.opts)
			if got := r.MaxAttempts(); got != DefaultMaxAttempts {
				t.Errorf("MaxAttempts = %d, want %d", got, DefaultMaxAttempts)
			}
			for attempt := 1; attempt <= 40; attempt++ {
				d, err := r.RetryDelay(attempt, throttled)
				if err != nil {
					t.Fatalf("RetryDelay(%d): %v", attempt, err)
				}
				if d > tc.max {
					t.Fatalf("RetryDelay(%d) = %v, want at most %v", attempt, d, tc.max)
				}
			}
		})
	}
}

// isolate keeps the developer's own AWS files and settings out of a test.
func isolate(t *testing.T) {
	t.Helper()
	dir := t.TempDir()
	t.Setenv("AWS_CONFIG_FILE", dir+"/config")
	t.Setenv("AWS_SHARED_CREDENTIALS_FILE", dir+"/credentials")
	t.Setenv("AWS_PROFILE", "")
	t.Setenv("AWS_REGION", "us-east-1")
	t.Setenv("AWS_MAX_ATTEMPTS", "")
	t.Setenv("AWS_RETRY_MODE", "")
	t.Setenv(EnvMaxAttempts, "")
}
