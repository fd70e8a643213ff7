package lambdatest

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/keysweep/keysweep/internal/testenv"
)

// buildTimeout bounds one bootstrap or emulator build (a cold Go cache
// builds the standard library too).
const buildTimeout = 10 * time.Minute

// builds are the bootstraps and the emulator one test binary built; each
// is built once.
var builds struct {
	mu    sync.Mutex
	dir   string
	boots map[string]string
	rie   string
}

// Run starts function id of stack under the emulator for the test, with
// the AWS environment testenv.Emulator set in this process, and stops it
// when the test ends (logging its output if the test failed). It skips
// with -short, and where the emulator cannot run (not Linux, no make)
// unless CI=true, where that fails.
func Run(t testing.TB, stack *Stack, id string) *Runtime {
	t.Helper()
	SkipShort(t)
	ctx := context.Background()
	fn, err := stack.Function(ctx, id)
	if err != nil {
		t.Fatalf("function %s: %v", id, err)
	}
	emulator, boot := built(t, id)
	awsEnv := EmulatorEnv(os.Getenv("AWS_ENDPOINT_URL"), os.Getenv("AWS_REGION"))
	if awsEnv["AWS_ENDPOINT_URL"] == "" {
		t.Fatal("AWS_ENDPOINT_URL is not set: call testenv.Emulator first")
	}
	r, err := Start(ctx, Options{Emulator: emulator, Bootstrap: boot, Function: fn, AWSEnv: awsEnv})
	if err != nil {
		t.Fatalf("start %s under the Lambda emulator: %v", id, err)
	}
	t.Cleanup(func() {
		r.Close()
		if t.Failed() {
			t.Logf("%s under the Lambda emulator, its output:\n%s", id, r.Logs())
		}
	})
	return r
}

// SkipShort skips the test with -short: it runs real Lambda artifacts.
func SkipShort(t testing.TB) {
	t.Helper()
	if testing.Short() {
		t.Skip("runs the Lambda artifacts under the Lambda runtime interface emulator; skipped with -short")
	}
}

// built returns the emulator and function id's bootstrap, building them
// the first time.
func built(t testing.TB, id string) (emulator, bootstrap string) {
	t.Helper()
	root, err := testenv.RepoRoot()
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), buildTimeout)
	defer cancel()
	builds.mu.Lock()
	defer builds.mu.Unlock()
	if builds.rie == "" {
		path, err := EmulatorBinary(ctx, root)
		if err != nil {
			missing(t, err)
		}
		builds.rie = path
	}
	if boot, ok := builds.boots[id]; ok {
		return builds.rie, boot
	}
	if builds.dir == "" {
		dir, err := os.MkdirTemp("", "keysweep-lambdatest-")
		if err != nil {
			t.Fatal(err)
		}
		builds.dir, builds.boots = dir, map[string]string{}
	}
	start := time.Now()
	boot, err := BuildBootstrap(ctx, root, id, filepath.Join(builds.dir, id))
	if err != nil {
		missing(t, err)
	}
	t.Logf("make build-%s (GOARCH=%s): %s", id, HostArch(), time.Since(start).Round(time.Millisecond))
	builds.boots[id] = boot
	return builds.rie, boot
}

// missing fails the test, or skips it when a component the machine lacks
// is the cause and CI is not set.
func missing(t testing.TB, err error) {
	t.Helper()
	if (errors.Is(err, ErrNotLinux) || errors.Is(err, ErrNoMake)) && os.Getenv("CI") != "true" {
		t.Skipf("Lambda emulator test: %v", err)
	}
	t.Fatal(err)
}

// CleanupBuilds removes what Run built; a TestMain calls it after m.Run.
func CleanupBuilds() {
	builds.mu.Lock()
	defer builds.mu.Unlock()
	if builds.dir != "" {
		_ = os.RemoveAll(builds.dir)
		builds.dir, builds.boots = "", nil
	}
}
