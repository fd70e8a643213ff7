// Command keysweep-bench measures what a sweep costs in IAM calls, time and
// memory on a seeded emulator behind the throttling proxy, for keysweep's
// fast path (credential report), its fallback (listing), a naive baseline
// and Cloud Custodian, and checks the targets of issues 4 and 16. `make
// bench` runs it; docs/PERFORMANCE.md explains the figures.
//
//	keysweep-bench [-variants 1000,10000,50000] [-tools fast,fallback,naive,c7n]
//	               [-rate 10] [-burst 20] [-latency 20ms] [-out FILE]
//	               [-nothing-stale] [-steady] [-journal-write-latency 100ms]
//	keysweep-bench -scenarios exempt-key-id,no-recheck,date-agreement -tools fast,c7n
//	keysweep-bench lambda [-n 20]
//	keysweep-bench report FILE
//
// For each variant and tool it resets the emulator, seeds the workload
// (bench/workload), creates the tables and stores the policy, runs the tool
// as a child process pointed at the proxy (AWS_ENDPOINT_URL), and records
// the proxy's counts, the wall time, the child's peak RSS, and which keys
// the run changed (read back from a live credential report). With -steady
// each tool runs twice on the same account and the second run is measured.
// -scenarios runs small hand-made accounts instead, each showing a rule one
// tool can express and the other cannot (limits.go).
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log"
	"os"
	"os/signal"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/keysweep/keysweep/internal/testenv"
)

// Tools a run can measure.
const (
	toolFast       = "fast"            // keysweep sweep (credential report), tags in bulk (KEYSWEEP_BULK_TAGS=true)
	toolFastNoBulk = "fast-nobulk"     // keysweep sweep as deployed by default: one ListUserTags per candidate
	toolFallback   = "fallback"        // keysweep sweep --no-report, tags in bulk
	toolFastNoTags = "fast-notags"     // keysweep sweep, policy without tag rules
	toolFastMem    = "fast-memjournal" // diagnostic: the fast sweep, audit trail in memory (bench/cmd/sweep-memjournal)
	toolNaive      = "naive"           // bench/cmd/naive-sweep
	toolC7n        = "c7n"             // custodian run bench/c7n/policy.yml: the best policy
	toolC7nTwo     = "c7n-two"         // bench/c7n/policy-two.yml: the same rules as two policies
	toolC7nOrig    = "c7n-original"    // bench/c7n/policy-original.yml: the policy as first written
)

var allTools = []string{toolFast, toolFastNoBulk, toolFallback, toolFastNoTags, toolFastMem, toolNaive, toolC7n, toolC7nTwo, toolC7nOrig}

// c7nPolicies are Cloud Custodian's policy files, by tool.
var c7nPolicies = map[string]string{
	toolC7n:     "policy.yml",
	toolC7nTwo:  "policy-two.yml",
	toolC7nOrig: "policy-original.yml",
}

// isKeysweep reports whether tool runs keysweep's engine.
func isKeysweep(tool string) bool {
	switch tool {
	case toolFast, toolFastNoBulk, toolFallback, toolFastNoTags, toolFastMem:
		return true
	}
	return false
}

// bulkTags reports whether tool reads tags in bulk (the opt-in permission
// iam:GetAccountAuthorizationDetails).
func bulkTags(tool string) bool {
	return tool == toolFast || tool == toolFallback || tool == toolFastMem
}

type options struct {
	variants        []int
	tools           []string
	rate            float64
	burst           int
	latency         time.Duration
	seed            uint64
	usedAfterReport float64
	staleScale      float64
	preReport       bool
	out             string
	label           string
	custodian       string
	concurrency     int
	// nothingStale seeds no newly stale key (only the exempt users').
	nothingStale bool
	// steady runs each tool twice on one account and measures the second.
	steady bool
	// journalWriteLatency slows every DynamoDB write (a slow journal).
	journalWriteLatency time.Duration
	// scenarios, when set, replace the variants (limits.go).
	scenarios []scenario
}

func main() {
	log.SetFlags(log.Ltime)
	log.SetPrefix("keysweep-bench: ")
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	args := os.Args[1:]
	if len(args) > 0 && args[0] == "report" {
		if err := reportMain(os.Stdout, args[1:]); err != nil {
			log.Fatal(err)
		}
		return
	}
	if len(args) > 0 && args[0] == "lambda" {
		if err := lambdaMain(ctx, args[1:]); err != nil {
			log.Fatal(err)
		}
		return
	}
	o, err := parseFlags(args)
	if err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return
		}
		log.Fatal(err)
	}
	if err := run(ctx, o); err != nil {
		log.Fatal(err)
	}
}

func parseFlags(args []string) (options, error) {
	fs := flag.NewFlagSet("keysweep-bench", flag.ContinueOnError)
	var o options
	variants := fs.String("variants", "1000,10000,50000", "user counts to seed (10000 is W)")
	tools := fs.String("tools", "fast,fallback,naive,c7n", "tools to run: "+strings.Join(allTools, ","))
	fs.Float64Var(&o.rate, "rate", 10, "IAM requests a second the proxy admits (IAM's limit in W: 10)")
	fs.IntVar(&o.burst, "burst", 20, "the proxy's token bucket size")
	fs.DurationVar(&o.latency, "latency", 20*time.Millisecond, "latency the proxy adds to each IAM request")
	fs.Uint64Var(&o.seed, "seed", 1, "workload layout seed")
	fs.Float64Var(&o.usedAfterReport, "used-after-report", 0, "share of keys stale in the credential report but used after it (0 in W; implies -pre-report)")
	fs.Float64Var(&o.staleScale, "stale-scale", 1, "multiply the shares of newly stale keys (1: W; 0.1: nearer a daily sweep's steady state)")
	fs.BoolVar(&o.preReport, "pre-report", false, "take the credential report before each run (else each tool has it generated)")
	fs.StringVar(&o.out, "out", "", "append the results as JSON lines to this file")
	fs.StringVar(&o.label, "label", "", "label recorded with each result (e.g. real-rate, scaled)")
	fs.StringVar(&o.custodian, "custodian", filepath.Join(".venv-bench", "bin", "custodian"), "Cloud Custodian's command (make venv-bench)")
	fs.IntVar(&o.concurrency, "naive-concurrency", 8, "users the naive baseline handles at once (keysweep's fallback lists 8 at once)")
	fs.BoolVar(&o.nothingStale, "nothing-stale", false, "seed no newly stale key: only the exempt users' keys are over a limit")
	fs.BoolVar(&o.steady, "steady", false, "run each keysweep tool twice on one account (a day apart for the report) and measure the second run")
	fs.DurationVar(&o.journalWriteLatency, "journal-write-latency", 0, "latency the proxy adds to every DynamoDB write (a slow journal)")
	names := fs.String("scenarios", "", "run these small accounts instead of -variants: "+strings.Join(scenarioNames(), ","))
	if err := fs.Parse(args); err != nil {
		return o, err
	}
	if *names != "" {
		for _, name := range strings.Split(*names, ",") {
			sc, ok := findScenario(strings.TrimSpace(name))
			if !ok {
				return o, fmt.Errorf("-scenarios: unknown scenario %q (want some of %s)", name, strings.Join(scenarioNames(), ","))
			}
			o.scenarios = append(o.scenarios, sc)
		}
		*variants = ""
	}
	for _, s := range strings.Split(*variants, ",") {
		if s == "" && o.scenarios != nil {
			continue
		}
		n, err := strconv.Atoi(strings.TrimSpace(s))
		if err != nil || n < 10 {
			return o, fmt.Errorf("-variants: %q is not a user count of 10 or more", s)
		}
		o.variants = append(o.variants, n)
	}
	for _, t := range strings.Split(*tools, ",") {
		t = strings.TrimSpace(t)
		ok := false
		for _, a := range allTools {
			ok = ok || a == t
		}
		if !ok {
			return o, fmt.Errorf("-tools: unknown tool %q (want some of %s)", t, strings.Join(allTools, ","))
		}
		if o.steady && (!isKeysweep(t) || t == toolFastMem) {
			return o, fmt.Errorf("-steady: %s keeps no state from run to run; want keysweep tools with the DynamoDB journal", t)
		}
		o.tools = append(o.tools, t)
	}
	if o.usedAfterReport > 0 {
		o.preReport = true
	}
	return o, nil
}

// machine describes where the figures were taken, without naming it.
type machine struct {
	CPUs      int    `json:"cpus"`
	MemoryGiB int    `json:"memoryGiB"`
	Go        string `json:"go"`
	OS        string `json:"os"`
	// Load is the load average (1, 5, 15 minutes) before and after the
	// measured run: the machine is shared, and the other work on it shows
	// here.
	LoadBefore [3]float64 `json:"loadBefore"`
	LoadAfter  [3]float64 `json:"loadAfter"`
}

// loadAvg reads the load average; zeros where it cannot.
func loadAvg() [3]float64 {
	var l [3]float64
	if b, err := os.ReadFile("/proc/loadavg"); err == nil {
		_, _ = fmt.Sscanf(string(b), "%f %f %f", &l[0], &l[1], &l[2])
	}
	return l
}

func thisMachine() machine {
	m := machine{CPUs: runtime.NumCPU(), Go: runtime.Version(), OS: runtime.GOOS + "/" + runtime.GOARCH}
	if b, err := os.ReadFile("/proc/meminfo"); err == nil {
		var kb int
		if _, err := fmt.Sscanf(string(b), "MemTotal: %d kB", &kb); err == nil {
			m.MemoryGiB = (kb + 1<<19) >> 20
		}
	}
	return m
}

func run(ctx context.Context, o options) error {
	root, err := testenv.RepoRoot()
	if err != nil {
		return err
	}
	if err := os.Chdir(root); err != nil {
		return err
	}
	tmp, err := os.MkdirTemp("", "keysweep-bench-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(tmp)

	log.Printf("building keysweep and the naive baseline")
	bins, err := buildTools(ctx, tmp)
	if err != nil {
		return err
	}
	for _, t := range o.tools {
		if c7nPolicies[t] != "" {
			if _, err := os.Stat(o.custodian); err != nil {
				return fmt.Errorf("cloud custodian: %w (run `make venv-bench`)", err)
			}
		}
	}

	env, err := startEnv(ctx, o)
	if err != nil {
		return err
	}
	defer env.stop()
	log.Printf("emulator and proxy up: IAM at %.4g req/s, burst %d, latency %v", o.rate, o.burst, o.latency)

	var out io.Writer = io.Discard
	if o.out != "" {
		if err := os.MkdirAll(filepath.Dir(o.out), 0o755); err != nil {
			return err
		}
		f, err := os.OpenFile(o.out, os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o644)
		if err != nil {
			return err
		}
		defer f.Close()
		out = f
	}
	var results []*result
	keep := func(r *result) {
		results = append(results, r)
		line, _ := json.Marshal(r)
		fmt.Fprintf(out, "%s\n", line)
		log.Printf("%s", r.oneLine())
	}
	for _, sc := range o.scenarios {
		for _, tool := range o.tools {
			if ctx.Err() != nil {
				return ctx.Err()
			}
			r, err := env.measureScenario(ctx, o, bins, tmp, sc, tool)
			if err != nil {
				return fmt.Errorf("%s on scenario %s: %w", tool, sc.name, err)
			}
			keep(r)
		}
	}
	for _, n := range o.variants {
		for _, tool := range o.tools {
			if ctx.Err() != nil {
				return ctx.Err()
			}
			r, err := env.measure(ctx, o, bins, tmp, n, tool)
			if err != nil {
				return fmt.Errorf("%s on %d users: %w", tool, n, err)
			}
			keep(r)
		}
	}
	printTable(os.Stdout, results)
	return nil
}
