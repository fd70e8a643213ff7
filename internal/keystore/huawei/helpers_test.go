package huawei_test

import (
	"bytes"
	"context"
	"log/slog"
	"sync"
	"testing"
	"time"

	"github.com/keysweep/keysweep/internal/domain"
	"github.com/keysweep/keysweep/internal/engine"
	"github.com/keysweep/keysweep/internal/keystore/huawei"
	"github.com/keysweep/keysweep/internal/testenv/huaweiiam"
)

// The store satisfies the engine's port.
var _ engine.KeyStore = (*huawei.Store)(nil)

// logBuffer collects the store's logs (Debug and up) for inspection.
type logBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (l *logBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.Write(p)
}

func (l *logBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.String()
}

// sleeps records the backoff waits instead of waiting.
type sleeps struct {
	mu    sync.Mutex
	waits []time.Duration
}

func (s *sleeps) sleep(ctx context.Context, d time.Duration) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.waits = append(s.waits, d)
	return ctx.Err()
}

func (s *sleeps) total() time.Duration {
	s.mu.Lock()
	defer s.mu.Unlock()
	var t time.Duration
	for _, w := range s.waits {
		t += w
	}
	return t
}

// fixture is a local IAM server and a store pointed at it.
type fixture struct {
	srv    *huaweiiam.Server
	store  *huawei.Store
	logs   *logBuffer
	sleeps *sleeps
}

// newFixture starts a server and a store signed with its caller
// credential; change adjusts the store's config first.
func newFixture(t *testing.T, opts huaweiiam.Options, change func(*huawei.Config)) *fixture {
	t.Helper()
	srv := huaweiiam.Start(t, opts)
	f := &fixture{srv: srv, logs: &logBuffer{}, sleeps: &sleeps{}}
	caller := srv.Caller()
	cfg := huawei.Config{
		Endpoint:    srv.URL,
		DomainID:    srv.DomainID(),
		Credentials: huawei.Credentials{AccessKeyID: caller.AccessKeyID, SecretAccessKey: caller.SecretAccessKey},
		Retry:       huawei.Retry{Sleep: f.sleeps.sleep},
		Logger:      slog.New(slog.NewTextHandler(f.logs, &slog.HandlerOptions{Level: slog.LevelDebug})),
	}
	if change != nil {
		change(&cfg)
	}
	store, err := huawei.Open(context.Background(), cfg)
	if err != nil {
		t.Fatalf("open store: %v", err)
	}
	f.store = store
	return f
}

func ago(d time.Duration) time.Time { return time.Now().UTC().Add(-d).Truncate(time.Microsecond) }

func ptr[T any](v T) *T { return &v }

const day = 24 * time.Hour

func domainKey(id string) domain.Key { return domain.Key{ID: id, Owner: "someone"} }
