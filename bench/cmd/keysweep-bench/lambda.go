package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/keysweep/keysweep/internal/testenv"
)

// lambdaMain measures the sweeper's Lambda binary: its size as the
// Makefile's build-SweeperFunction builds it (linux/arm64, -s -w,
// lambda.norpc), and its start-up time: from exec to the runtime API's first
// GET .../invocation/next, against a fake runtime API on loopback. This
// machine is x86_64, so the start-up is timed on an amd64 copy built the
// same way.
func lambdaMain(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("keysweep-bench lambda", flag.ContinueOnError)
	n := fs.Int("n", 30, "start-ups to time")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return nil
		}
		return err
	}
	root, err := testenv.RepoRoot()
	if err != nil {
		return err
	}
	tmp, err := os.MkdirTemp("", "keysweep-lambda-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(tmp)

	type build struct {
		name, goarch string
		stripped     bool
	}
	sizes := map[string]int64{}
	for _, b := range []build{{"arm64", "arm64", true}, {"arm64-unstripped", "arm64", false}, {"amd64", "amd64", true}} {
		out := filepath.Join(tmp, "bootstrap-"+b.name)
		argv := []string{"build", "-tags", "lambda.norpc", "-trimpath"}
		if b.stripped {
			argv = append(argv, "-ldflags", "-s -w")
		}
		argv = append(argv, "-o", out, "./functions/sweeper")
		cmd := exec.CommandContext(ctx, "go", argv...)
		cmd.Dir = root
		cmd.Env = append(os.Environ(), "GOOS=linux", "GOARCH="+b.goarch, "CGO_ENABLED=0")
		cmd.Stderr = os.Stderr
		if err := cmd.Run(); err != nil {
			return fmt.Errorf("build %s: %w", b.name, err)
		}
		fi, err := os.Stat(out)
		if err != nil {
			return err
		}
		sizes[b.name] = fi.Size()
	}
	fmt.Printf("sweeper bootstrap, linux/arm64, -s -w, lambda.norpc: %d bytes (%.2f MiB)\n", sizes["arm64"], mib(sizes["arm64"]))
	fmt.Printf("  the same without -s -w: %d bytes (%.2f MiB)\n", sizes["arm64-unstripped"], mib(sizes["arm64-unstripped"]))
	fmt.Printf("  linux/amd64 copy timed below: %d bytes (%.2f MiB)\n", sizes["amd64"], mib(sizes["amd64"]))

	var starts []time.Duration
	var rss []int
	for i := range *n {
		d, kb, err := timeStart(ctx, filepath.Join(tmp, "bootstrap-amd64"))
		if err != nil {
			return fmt.Errorf("start-up %d: %w", i+1, err)
		}
		starts = append(starts, d)
		rss = append(rss, kb)
	}
	slices.Sort(starts)
	slices.Sort(rss)
	pct := func(p float64) time.Duration { return starts[min(len(starts)-1, int(p*float64(len(starts))))] }
	fmt.Printf("start-up (exec to first /next), %d runs: min %v, median %v, p90 %v, max %v\n",
		len(starts), starts[0].Round(10*time.Microsecond), pct(0.5).Round(10*time.Microsecond),
		pct(0.9).Round(10*time.Microsecond), starts[len(starts)-1].Round(10*time.Microsecond))
	fmt.Printf("RSS at the first /next: median %.1f MiB\n", float64(rss[len(rss)/2])/1024)
	return nil
}

func mib(b int64) float64 { return float64(b) / (1 << 20) }

// timeStart runs the bootstrap once against a fake runtime API and returns
// the time from exec to its first GET /2018-06-01/runtime/invocation/next,
// and its RSS (KiB) at that moment; then it kills it.
func timeStart(ctx context.Context, bin string) (time.Duration, int, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, 0, err
	}
	got := make(chan time.Time, 1)
	hold := make(chan struct{})
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodGet && r.URL.Path == "/2018-06-01/runtime/invocation/next" {
			select {
			case got <- time.Now():
			default:
			}
			<-hold // keep the runtime waiting, as Lambda does between events
			return
		}
		http.NotFound(w, r)
	}), ReadHeaderTimeout: 5 * time.Second}
	go func() { _ = srv.Serve(ln) }()
	defer srv.Close()
	defer close(hold)

	cmd := exec.CommandContext(ctx, bin)
	cmd.Env = []string{
		"AWS_LAMBDA_RUNTIME_API=" + ln.Addr().String(),
		"AWS_LAMBDA_FUNCTION_NAME=keysweep-sweeper", "AWS_LAMBDA_FUNCTION_VERSION=$LATEST",
		"AWS_LAMBDA_FUNCTION_MEMORY_SIZE=128", "AWS_REGION=us-east-1", "AWS_DEFAULT_REGION=us-east-1",
		"AWS_ACCESS_KEY_ID=testing", "AWS_SECRET_ACCESS_KEY=testing", "AWS_SESSION_TOKEN=testing",
		"AWS_CONFIG_FILE=" + os.DevNull, "AWS_SHARED_CREDENTIALS_FILE=" + os.DevNull, "AWS_EC2_METADATA_DISABLED=true",
		"POLICY_TABLE=policy", "AUDIT_TABLE=audit", "HOME=" + os.TempDir(),
	}
	start := time.Now()
	if err := cmd.Start(); err != nil {
		return 0, 0, err
	}
	defer func() { _ = cmd.Process.Kill(); _ = cmd.Wait() }()
	select {
	case t := <-got:
		return t.Sub(start), vmRSS(cmd.Process.Pid), nil
	case <-time.After(10 * time.Second):
		return 0, 0, errors.New("no /next request within 10 s")
	case <-ctx.Done():
		return 0, 0, ctx.Err()
	}
}

// vmRSS reads a process's resident set (KiB) from /proc.
func vmRSS(pid int) int {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "VmRSS:"); ok {
			kb, _ := strconv.Atoi(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")))
			return kb
		}
	}
	return 0
}
