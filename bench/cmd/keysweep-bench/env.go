package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"log"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/iam"

	"github.com/keysweep/keysweep/bench/throttleproxy"
	"github.com/keysweep/keysweep/bench/workload"
	"github.com/keysweep/keysweep/internal/domain"
	"github.com/keysweep/keysweep/internal/journal/dynamo"
	"github.com/keysweep/keysweep/internal/testenv"
	"github.com/keysweep/keysweep/internal/wiring"
	"github.com/keysweep/keysweep/policy"
)

// Tables the benchmark creates in the emulator (emptied by every reset).
const (
	policyTable = "bench-policy"
	auditTable  = "bench-audit"
)

type binaries struct {
	keysweep string
	naive    string
	memSweep string
}

// buildTools builds the CLI (which runs exactly the Lambda's sweep path,
// lambda.Sweeper) and the naive baseline into dir.
func buildTools(ctx context.Context, dir string) (binaries, error) {
	b := binaries{keysweep: filepath.Join(dir, "keysweep"), naive: filepath.Join(dir, "naive-sweep"), memSweep: filepath.Join(dir, "sweep-memjournal")}
	for out, pkg := range map[string]string{b.keysweep: "./cmd/keysweep", b.naive: "./bench/cmd/naive-sweep", b.memSweep: "./bench/cmd/sweep-memjournal"} {
		cmd := exec.CommandContext(ctx, "go", "build", "-trimpath", "-o", out, pkg)
		cmd.Stderr = os.Stderr
		if err := cmd.Run(); err != nil {
			return b, fmt.Errorf("build %s: %w", pkg, err)
		}
	}
	return b, nil
}

// benchEnv is the emulator, the proxy in front of it, and clients that
// reach the emulator directly (seeding and state reads are not measured).
type benchEnv struct {
	emuURL   string
	proxyURL string
	proxy    *throttleproxy.Proxy
	iam      *iam.Client
	ddb      *dynamodb.Client
	stop     func()
}

func startEnv(ctx context.Context, o options) (*benchEnv, error) {
	python, err := testenv.FindPython()
	if err != nil {
		return nil, err
	}
	emuURL, stopEmu, err := testenv.StartLauncher(ctx, python)
	if err != nil {
		return nil, err
	}
	u, _ := url.Parse(emuURL)
	p, err := throttleproxy.New(throttleproxy.Config{Upstream: u, Rate: o.rate, Burst: o.burst, Latency: o.latency, DynamoDBWriteLatency: o.journalWriteLatency})
	if err != nil {
		stopEmu()
		return nil, err
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		stopEmu()
		return nil, err
	}
	srv := &http.Server{Handler: p, ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = srv.Serve(ln) }()

	cfg, err := config.LoadDefaultConfig(ctx,
		config.WithRegion("us-east-1"),
		config.WithCredentialsProvider(credentials.NewStaticCredentialsProvider("testing", "testing", "")),
		config.WithSharedConfigFiles([]string{}), config.WithSharedCredentialsFiles([]string{}),
		config.WithBaseEndpoint(emuURL))
	if err != nil {
		stopEmu()
		return nil, err
	}
	e := &benchEnv{
		emuURL:   emuURL,
		proxyURL: "http://" + ln.Addr().String(),
		proxy:    p,
		iam:      iam.NewFromConfig(cfg),
		ddb:      dynamodb.NewFromConfig(cfg),
	}
	e.stop = func() {
		_ = srv.Close()
		stopEmu()
	}
	return e, nil
}

// prepare resets the emulator and seeds w as a fresh account for one run,
// with the policy pol gives once the key ids are known.
func (e *benchEnv) prepare(ctx context.Context, o options, w *workload.Workload, pol func(*workload.Workload) *policy.Policy) error {
	if err := workload.Reset(ctx, e.emuURL); err != nil {
		return err
	}
	if err := w.Seed(ctx, e.emuURL, 5000); err != nil {
		return err
	}
	if err := dynamo.CreateTables(ctx, e.ddb, policyTable, auditTable); err != nil {
		return err
	}
	st := dynamo.New(e.ddb, dynamo.Options{PolicyTable: policyTable, AuditTable: auditTable, Retention: 400 * 24 * time.Hour})
	if err := st.PutPolicy(ctx, domain.DefaultPolicyID, pol(w), "keysweep-bench"); err != nil {
		return err
	}
	if o.preReport {
		if err := workload.TakeReport(ctx, e.emuURL, e.iam); err != nil {
			return err
		}
		if err := w.MarkUsedAfterReport(ctx, e.emuURL); err != nil {
			return err
		}
	}
	return nil
}

// childEnv is the environment of a measured tool: the SDK's standard chain
// pointed at the proxy, dummy credentials, no profile, no IMDS.
func (e *benchEnv) childEnv(extra ...string) []string {
	var env []string
	for _, kv := range os.Environ() {
		name, _, _ := strings.Cut(kv, "=")
		if strings.HasPrefix(name, "AWS_") || strings.HasPrefix(name, "KEYSWEEP_") || name == wiring.EnvPolicyTable || name == wiring.EnvAuditTable {
			continue
		}
		env = append(env, kv)
	}
	env = append(env,
		"AWS_ENDPOINT_URL="+e.proxyURL,
		"AWS_REGION=us-east-1",
		"AWS_DEFAULT_REGION=us-east-1",
		"AWS_ACCESS_KEY_ID=testing",
		"AWS_SECRET_ACCESS_KEY=testing",
		"AWS_EC2_METADATA_DISABLED=true",
		"AWS_CONFIG_FILE="+os.DevNull,
		"AWS_SHARED_CREDENTIALS_FILE="+os.DevNull,
	)
	return append(env, extra...)
}

// child is one finished tool process.
type child struct {
	wall   time.Duration
	maxRSS int64         // bytes
	cpu    time.Duration // user + system
	exit   int
	stdout []byte
	stderr string
}

// runChild runs a tool to completion and takes its wall time and peak RSS.
func runChild(ctx context.Context, name string, args, env []string, dir string) (*child, error) {
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Env = env
	cmd.Dir = dir
	var stdout bytes.Buffer
	stderr := &tail{max: 64 << 10}
	cmd.Stdout = &stdout
	cmd.Stderr = stderr
	start := time.Now()
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start %s: %w", name, err)
	}
	err := cmd.Wait()
	c := &child{wall: time.Since(start), stdout: stdout.Bytes(), stderr: stderr.String()}
	if cmd.ProcessState == nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	c.exit = cmd.ProcessState.ExitCode()
	if ru, ok := cmd.ProcessState.SysUsage().(*syscall.Rusage); ok {
		c.maxRSS = ru.Maxrss * 1024 // Linux reports KiB
		c.cpu = time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
	}
	return c, nil
}

// tail keeps the last max bytes written.
type tail struct {
	max int
	buf []byte
}

func (t *tail) Write(p []byte) (int, error) {
	t.buf = append(t.buf, p...)
	if over := len(t.buf) - t.max; over > 0 {
		t.buf = t.buf[over:]
	}
	return len(p), nil
}

func (t *tail) String() string { return string(t.buf) }

// measure runs one tool on a fresh n-user account.
func (e *benchEnv) measure(ctx context.Context, o options, bins binaries, tmp string, n int, tool string) (*result, error) {
	p := workload.Policy(2 * n)
	if tool == toolFastNoTags {
		p.Exemptions.Tag = ""
	}
	log.Printf("%s, %d users: seeding", tool, n)
	spec := workload.Spec{Users: n, Seed: o.seed, UsedAfterReport: int(o.usedAfterReport * float64(2*n)), StaleScale: o.staleScale, NothingStale: o.nothingStale}
	w := workload.Generate(spec)
	if err := e.prepare(ctx, o, w, func(*workload.Workload) *policy.Policy { return p }); err != nil {
		return nil, err
	}
	return e.runMeasured(ctx, o, bins, tmp, tool, w, p)
}

// runMeasured runs tool on the seeded account w under policy p (twice with
// -steady: the first run records, the second is measured) and reads back
// what it did.
func (e *benchEnv) runMeasured(ctx context.Context, o options, bins binaries, tmp, tool string, w *workload.Workload, p *policy.Policy) (*result, error) {
	want := w.WantActed()
	if tool == toolFastNoTags {
		// Without the tag rule, the tagged users' stale keys are fair game.
		for _, k := range w.Keys() {
			if k.Category == workload.ExemptStale {
				want[k.ID] = true
			}
		}
	}
	var first *firstRun
	if o.steady {
		e.proxy.Reset()
		log.Printf("%s, %d users: first run (records)", tool, len(w.Users))
		c, err := e.runTool(ctx, o, bins, tmp, tool, p)
		if err != nil {
			return nil, err
		}
		first = newFirstRun(tool, c, e.proxy.Stats())
		// The next run is a day later: IAM's report is older than its
		// four hours, and a new one is generated.
		if err := workload.ExpireReport(ctx, e.emuURL); err != nil {
			return nil, err
		}
	}
	e.proxy.Reset()
	log.Printf("%s, %d users: running", tool, len(w.Users))
	before := loadAvg()
	c, err := e.runTool(ctx, o, bins, tmp, tool, p)
	if err != nil {
		return nil, err
	}
	stats := e.proxy.Stats()
	after := loadAvg()
	state, err := w.State(ctx, e.emuURL, e.iam)
	if err != nil {
		return nil, err
	}
	c.stderr = scrub(c.stderr, tmp)
	r := newResult(o, len(w.Users), tool, w, want, state, stats, c)
	r.Machine.LoadBefore, r.Machine.LoadAfter = before, after
	r.First = first
	return r, nil
}

// runTool runs tool once as a child process against the proxy.
func (e *benchEnv) runTool(ctx context.Context, o options, bins binaries, tmp, tool string, p *policy.Policy) (*child, error) {
	var bulk []string
	if bulkTags(tool) {
		bulk = []string{wiring.EnvBulkTagReads + "=true"}
	}
	switch tool {
	case toolFast, toolFallback, toolFastNoTags, toolFastNoBulk:
		args := []string{"sweep", "--output", "json"}
		if tool == toolFallback {
			args = append(args, "--no-report")
		}
		env := e.childEnv(append([]string{wiring.EnvPolicyTable + "=" + policyTable, wiring.EnvAuditTable + "=" + auditTable}, bulk...)...)
		return runChild(ctx, bins.keysweep, args, env, "")
	case toolNaive, toolFastMem:
		pf := filepath.Join(tmp, "policy.json")
		b, _ := json.Marshal(p)
		if err := os.WriteFile(pf, b, 0o644); err != nil {
			return nil, err
		}
		if tool == toolNaive {
			return runChild(ctx, bins.naive, []string{"-policy", pf, "-concurrency", fmt.Sprint(o.concurrency)}, e.childEnv(), "")
		}
		args := []string{"-policy", pf}
		if bulkTags(tool) {
			args = append(args, "-bulk-tags")
		}
		return runChild(ctx, bins.memSweep, args, e.childEnv(), "")
	}
	file, ok := c7nPolicies[tool]
	if !ok {
		return nil, fmt.Errorf("no tool %q", tool)
	}
	home, err := os.MkdirTemp(tmp, "c7n-home-")
	if err != nil {
		return nil, err
	}
	// A fresh HOME: c7n's cache (and with it the credential report and
	// the user list) starts empty, as on a first run; within the run it
	// is kept (15 minutes by default), so a second policy reuses both.
	return runChild(ctx, o.custodian, []string{"run", "-s", filepath.Join(home, "out"), "--region", "us-east-1",
		filepath.Join("bench", "c7n", file)}, e.childEnv("HOME="+home), "")
}

// scrub keeps machine paths out of recorded results: the repository root
// and the run's temporary directory become placeholders.
func scrub(s, tmp string) string {
	if wd, err := os.Getwd(); err == nil {
		s = strings.ReplaceAll(s, wd, "<repo>")
	}
	s = strings.ReplaceAll(s, tmp, "<tmp>")
	if home, err := os.UserHomeDir(); err == nil && home != "/" {
		s = strings.ReplaceAll(s, home, "<home>")
	}
	return s
}
