package lambdatest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
)

// EmulatorTool is the emulator's command, pinned by the tool directive in
// go.mod.
const EmulatorTool = "aws-lambda-rie"

// ErrNotLinux is returned where the emulator cannot run: it supports only
// Linux (x86-64 and arm64), and the bootstraps are Linux programs.
var ErrNotLinux = errors.New("the Lambda runtime interface emulator runs only on Linux")

// HostArch is the architecture the bootstraps are built for here: the
// machine's own, so that they run under the emulator without CPU
// emulation. The deployed build is the template's (arm64).
func HostArch() string { return runtime.GOARCH }

// BuildBootstrap builds function logicalID's bootstrap into artifactsDir
// exactly as `sam build` does: the Makefile's build-<LogicalId> target
// with ARTIFACTS_DIR set, the same recipe, flags and tags, except that
// LAMBDA_GOARCH is the host's. It returns the bootstrap's path.
func BuildBootstrap(ctx context.Context, root, logicalID, artifactsDir string) (string, error) {
	if runtime.GOOS != "linux" {
		return "", ErrNotLinux
	}
	dir, err := filepath.Abs(artifactsDir)
	if err != nil {
		return "", err
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", fmt.Errorf("artifacts dir: %w", err)
	}
	out, err := runMake(ctx, root, "build-"+logicalID, "ARTIFACTS_DIR="+dir, "LAMBDA_GOARCH="+HostArch())
	if err != nil {
		return "", fmt.Errorf("make build-%s: %w\n%s", logicalID, err, out)
	}
	path := filepath.Join(dir, "bootstrap")
	if _, err := os.Stat(path); err != nil {
		return "", fmt.Errorf("make build-%s wrote no bootstrap: %w\n%s", logicalID, err, out)
	}
	return path, nil
}

// BuildRecipe is the command `make build-<logicalID>` would run, without
// running it (make -n): what the deployed build does.
func BuildRecipe(ctx context.Context, root, logicalID string) (string, error) {
	out, err := runMake(ctx, root, "-n", "build-"+logicalID, "ARTIFACTS_DIR=ARTIFACTS_DIR")
	if err != nil {
		return "", fmt.Errorf("make -n build-%s: %w\n%s", logicalID, err, out)
	}
	return strings.TrimSpace(string(out)), nil
}

// runMake runs make in root as SAM does: a top-level make, not a sub-make
// of whatever make ran the tests.
func runMake(ctx context.Context, root string, args ...string) ([]byte, error) {
	makePath, err := exec.LookPath("make")
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrNoMake, err)
	}
	cmd := exec.CommandContext(ctx, makePath, append([]string{"--no-print-directory", "-C", root}, args...)...)
	for _, kv := range os.Environ() {
		name, _, _ := strings.Cut(kv, "=")
		switch name {
		case "MAKEFLAGS", "MFLAGS", "MAKELEVEL", "MAKEOVERRIDES":
			continue
		}
		cmd.Env = append(cmd.Env, kv)
	}
	var buf bytes.Buffer
	cmd.Stdout, cmd.Stderr = &buf, &buf
	err = cmd.Run()
	return buf.Bytes(), err
}

// ErrNoMake is returned when make is not installed: the bootstraps are
// built by the Makefile's targets, as sam build builds them.
var ErrNoMake = errors.New("make not found")

// EmulatorBinary returns the path of the pinned aws-lambda-rie, built by
// `go tool -n` into the Go build cache (a no-op when it is there).
func EmulatorBinary(ctx context.Context, root string) (string, error) {
	if runtime.GOOS != "linux" {
		return "", ErrNotLinux
	}
	goPath, err := exec.LookPath("go")
	if err != nil {
		return "", fmt.Errorf("find the go command: %w", err)
	}
	cmd := exec.CommandContext(ctx, goPath, "tool", "-n", EmulatorTool)
	cmd.Dir = root
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return "", fmt.Errorf("go tool -n %s: %w\n%s", EmulatorTool, err, stderr.String())
	}
	path := strings.TrimSpace(string(out))
	if _, err := os.Stat(path); err != nil {
		return "", fmt.Errorf("go tool -n %s: %w", EmulatorTool, err)
	}
	return path, nil
}

// GoArch maps a template architecture to GOARCH.
func GoArch(templateArch string) (string, error) {
	switch templateArch {
	case "arm64":
		return "arm64", nil
	case "x86_64":
		return "amd64", nil
	}
	return "", fmt.Errorf("unknown Lambda architecture %q", templateArch)
}
