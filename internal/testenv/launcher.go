// Package testenv runs keysweep's tests, and the CLI demo, against moto, a
// local AWS emulator, instead of a real account.
//
// The emulator is testenv/moto_launcher.py at the repository root, run by the
// Python interpreter of the repository's .venv (created by `make venv`, which
// `make test` runs first). The launcher serves moto in-process on 127.0.0.1
// plus a few test-only control routes under /_keysweep/ that moto itself
// lacks: backdating access keys, a credential report that behaves like IAM's
// (a snapshot reused for four hours), injected API faults and call counts.
//
// Nothing here configures SDK endpoints: Emulator sets AWS_ENDPOINT_URL and
// dummy credentials for the whole process, and config.LoadDefaultConfig
// picks them up like it would in production.
package testenv

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"syscall"
	"time"
)

// LauncherScript is the launcher's path relative to the repository root.
const LauncherScript = "testenv/moto_launcher.py"

// ErrNoPython is returned by FindPython when neither KEYSWEEP_PYTHON nor the
// repository's .venv provides an interpreter.
var ErrNoPython = errors.New("no python for the emulator: set KEYSWEEP_PYTHON or run `make venv` (`make test` does it)")

// RepoRoot finds the repository root: the nearest directory holding go.mod,
// walking up from the working directory (a test's package directory, or
// wherever the CLI runs), then from this source file's directory.
func RepoRoot() (string, error) {
	var starts []string
	if wd, err := os.Getwd(); err == nil {
		starts = append(starts, wd)
	}
	if _, file, _, ok := runtime.Caller(0); ok && filepath.IsAbs(file) {
		starts = append(starts, filepath.Dir(file))
	}
	for _, dir := range starts {
		for {
			if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
				if _, err := os.Stat(filepath.Join(dir, LauncherScript)); err == nil {
					return dir, nil
				}
			}
			parent := filepath.Dir(dir)
			if parent == dir {
				break
			}
			dir = parent
		}
	}
	return "", fmt.Errorf("find repository root: no go.mod with %s above the working directory", LauncherScript)
}

// FindPython returns the interpreter that runs the launcher: $KEYSWEEP_PYTHON
// if set, else the repository's .venv/bin/python.
func FindPython() (string, error) {
	if p := os.Getenv("KEYSWEEP_PYTHON"); p != "" {
		return p, nil
	}
	root, err := RepoRoot()
	if err != nil {
		return "", err
	}
	p := filepath.Join(root, ".venv", "bin", "python")
	if _, err := os.Stat(p); err != nil {
		return "", fmt.Errorf("%w (%s missing)", ErrNoPython, filepath.Join(".venv", "bin", "python"))
	}
	return p, nil
}

// readyTimeout bounds the launcher's start: importing moto takes a few
// seconds on a small machine, much more on a cold disk cache.
const readyTimeout = 60 * time.Second

// StartLauncher starts the emulator with the given interpreter on a free
// loopback port and returns its base URL once it serves. ctx bounds the start
// only; stop ends the emulator (and is safe to call more than once). The
// child also exits by itself when this process dies, because it watches its
// stdin, a pipe only this process holds.
func StartLauncher(ctx context.Context, python string) (url string, stop func(), err error) {
	root, err := RepoRoot()
	if err != nil {
		return "", nil, err
	}
	cmd := exec.Command(python, filepath.Join(root, LauncherScript), "--port", "0")
	cmd.Dir = root
	// An AWS_* variable set but empty (AWS_REGION="") breaks moto's
	// backends with HTML 500s: the emulator gets none of them.
	for _, kv := range os.Environ() {
		if name, v, _ := strings.Cut(kv, "="); strings.HasPrefix(name, "AWS_") && v == "" {
			continue
		}
		cmd.Env = append(cmd.Env, kv)
	}
	// Own process group, so stop reaches anything the launcher spawns and a
	// Ctrl-C aimed at `go test` is handled by us, not delivered twice.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	stdin, err := cmd.StdinPipe()
	if err != nil {
		return "", nil, fmt.Errorf("launcher stdin: %w", err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return "", nil, fmt.Errorf("launcher stdout: %w", err)
	}
	stderr := &tailBuffer{max: 16 << 10}
	cmd.Stderr = stderr
	if err := cmd.Start(); err != nil {
		return "", nil, fmt.Errorf("start %s: %w", python, err)
	}

	exited := make(chan struct{})
	go func() { _ = cmd.Wait(); close(exited) }()

	var once sync.Once
	stop = func() {
		once.Do(func() {
			_ = stdin.Close() // the launcher's polite exit signal
			pgid := cmd.Process.Pid
			_ = syscall.Kill(-pgid, syscall.SIGTERM)
			select {
			case <-exited:
			case <-time.After(5 * time.Second):
				_ = syscall.Kill(-pgid, syscall.SIGKILL)
				<-exited
			}
		})
	}

	ready := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			if u, ok := strings.CutPrefix(sc.Text(), "READY "); ok {
				ready <- strings.TrimSpace(u)
				break
			}
		}
		_, _ = io.Copy(io.Discard, stdout) // never block the child on a full pipe
	}()

	timer := time.NewTimer(readyTimeout)
	defer timer.Stop()
	select {
	case u := <-ready:
		return u, stop, nil
	case <-exited:
		stop()
		return "", nil, fmt.Errorf("emulator exited before it was ready (is moto installed? run `make venv`); stderr:\n%s", stderr)
	case <-timer.C:
		stop()
		return "", nil, fmt.Errorf("emulator not ready after %s; stderr:\n%s", readyTimeout, stderr)
	case <-ctx.Done():
		stop()
		return "", nil, fmt.Errorf("start emulator: %w", ctx.Err())
	}
}

// tailBuffer keeps the last max bytes written to it, for error messages.
type tailBuffer struct {
	mu  sync.Mutex
	max int
	buf bytes.Buffer
}

func (b *tailBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.buf.Write(p)
	if over := b.buf.Len() - b.max; over > 0 {
		b.buf.Next(over)
	}
	return len(p), nil
}

func (b *tailBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}
