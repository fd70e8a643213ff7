// Command lambda-invoke is the Docker-free `sam local invoke` that `make
// invoke` runs: it builds a function's bootstrap with the Makefile target
// `sam build` runs (for this machine's architecture), runs it under AWS's
// Lambda Runtime Interface Emulator with the environment, timeout and
// memory size template.yaml gives it, invokes it once with an event file,
// prints the answer on stdout and the emulator's and the function's output
// on stderr.
//
// The function reaches AWS only through a local emulator, with dummy
// credentials: the one AWS_ENDPOINT_URL names (e.g. `keysweep demo --keep`'s),
// or, when it is unset, a fresh moto started from the repository's .venv
// and stopped at the end. The tables and queues the function's environment
// names are created there (named <stack>-<LogicalId>) unless -env-vars
// points the variables elsewhere.
//
// Exit status: 0 for an answer, 1 for a function error (the handler's
// error, a runtime exit or a timeout), 2 when it could not run. (`go run`
// and make report any failure as theirs: 1 and 2.)
//
// Usage:
//
//	go run ./internal/lambdatest/cmd/lambda-invoke -function SweeperFunction -event events/manual-audit.json
//	    [-param Name=Value ...] [-env-vars events/env.json] [-stack-name keysweep-local]
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"sort"
	"strings"
	"syscall"

	"github.com/keysweep/keysweep/internal/lambdatest"
	"github.com/keysweep/keysweep/internal/testenv"
)

// errFunction marks a run whose invocation was a function error.
var errFunction = errors.New("function error")

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := run(ctx, os.Args[1:], os.Stdin, os.Stdout, os.Stderr)
	stop()
	switch {
	case errors.Is(err, errFunction):
		fmt.Fprintf(os.Stderr, "lambda-invoke: %v\n", err)
		os.Exit(1)
	case errors.Is(err, flag.ErrHelp):
		os.Exit(0)
	case err != nil:
		fmt.Fprintf(os.Stderr, "lambda-invoke: %v\n", err)
		os.Exit(2)
	}
}

// options are the command's flags.
type options struct {
	function  string
	event     string
	template  string
	stackName string
	envVars   string
	params    paramFlag
}

// paramFlag collects -param Name=Value, as sam's --parameter-overrides.
type paramFlag map[string]string

func (p paramFlag) String() string { return fmt.Sprint(map[string]string(p)) }

func (p paramFlag) Set(v string) error {
	name, value, ok := strings.Cut(v, "=")
	if !ok || name == "" {
		return fmt.Errorf("want Name=Value, got %q", v)
	}
	p[name] = value
	return nil
}

func parseFlags(args []string, stderr io.Writer) (*options, error) {
	o := &options{params: paramFlag{}}
	fs := flag.NewFlagSet("lambda-invoke", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&o.function, "function", "", "the template's logical id of the function, e.g. SweeperFunction (required)")
	fs.StringVar(&o.event, "event", "", "the event file (- for stdin; none: {})")
	fs.StringVar(&o.template, "template", "template.yaml", "the SAM template, relative to the repository root")
	fs.StringVar(&o.stackName, "stack-name", lambdatest.DefaultStackName, "the local stack's name: resources are <stack>-<LogicalId>")
	fs.StringVar(&o.envVars, "env-vars", "", "a `sam local invoke --env-vars` file: {\"Parameters\": {VAR: value}, \"<LogicalId>\": {VAR: value}}")
	fs.Var(o.params, "param", "a template parameter, Name=Value (repeatable), e.g. OrganizationMode=true")
	if err := fs.Parse(args); err != nil {
		return nil, err
	}
	if o.function == "" || fs.NArg() > 0 {
		fs.Usage()
		return nil, errors.New("usage: lambda-invoke -function LogicalId [-event FILE] [-param Name=Value ...] [-env-vars FILE]")
	}
	return o, nil
}

func run(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) error {
	o, err := parseFlags(args, stderr)
	if err != nil {
		return err
	}
	root, err := testenv.RepoRoot()
	if err != nil {
		return err
	}
	payload, err := readEvent(o.event, stdin)
	if err != nil {
		return err
	}
	envVars, err := readEnvVars(o.envVars)
	if err != nil {
		return err
	}
	tmpl, err := lambdatest.ReadTemplate(filepath.Join(root, o.template))
	if err != nil {
		return err
	}
	endpoint, stopAWS, err := awsEndpoint(ctx, stderr)
	if err != nil {
		return err
	}
	defer stopAWS()
	region := os.Getenv("AWS_REGION")
	cfg, err := lambdatest.LocalConfig(ctx, endpoint, region)
	if err != nil {
		return err
	}
	stack, err := lambdatest.NewStack(ctx, cfg, tmpl, lambdatest.StackOptions{Name: o.stackName, Parameters: o.params, EnvVars: envVars})
	if err != nil {
		return err
	}
	fn, err := stack.Function(ctx, o.function)
	if err != nil {
		return err
	}
	return invoke(ctx, root, fn, lambdatest.EmulatorEnv(endpoint, region), payload, stdout, stderr)
}

// invoke builds the bootstrap and the emulator, runs the function once and
// prints its answer.
func invoke(ctx context.Context, root string, fn *lambdatest.Function, awsEnv map[string]string, payload []byte, stdout, stderr io.Writer) error {
	emulator, err := lambdatest.EmulatorBinary(ctx, root)
	if err != nil {
		return err
	}
	dir, err := os.MkdirTemp("", "keysweep-invoke-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	fmt.Fprintf(stderr, "lambda-invoke: make build-%s ARTIFACTS_DIR=... LAMBDA_GOARCH=%s (the template deploys %s)\n",
		fn.LogicalID, lambdatest.HostArch(), fn.Architecture)
	boot, err := lambdatest.BuildBootstrap(ctx, root, fn.LogicalID, filepath.Join(dir, fn.LogicalID))
	if err != nil {
		return err
	}
	describe(stderr, fn, awsEnv["AWS_ENDPOINT_URL"])
	r, err := lambdatest.Start(ctx, lambdatest.Options{Emulator: emulator, Bootstrap: boot, Function: fn, AWSEnv: awsEnv, Output: stderr})
	if err != nil {
		return err
	}
	defer r.Close()
	res, err := r.Invoke(ctx, payload)
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "%s\n", res.Body)
	if res.Error != nil {
		return fmt.Errorf("%w: %s: %s", errFunction, res.Error.Type, res.Error.Message)
	}
	return nil
}

// describe prints what runs, as sam local invoke does before it starts.
func describe(w io.Writer, fn *lambdatest.Function, endpoint string) {
	fmt.Fprintf(w, "lambda-invoke: %s as %s: %s, timeout %s, memory %d MB, AWS at %s\n",
		fn.LogicalID, fn.Name, fn.Runtime, fn.Timeout, fn.MemoryMB, endpoint)
	names := make([]string, 0, len(fn.Env))
	for k := range fn.Env {
		names = append(names, k)
	}
	sort.Strings(names)
	for _, k := range names {
		fmt.Fprintf(w, "lambda-invoke:   %s=%s\n", k, fn.Env[k])
	}
}

// awsEndpoint is AWS_ENDPOINT_URL, or a fresh local emulator when it is
// unset; stop ends what was started.
func awsEndpoint(ctx context.Context, stderr io.Writer) (endpoint string, stop func(), err error) {
	if u := os.Getenv("AWS_ENDPOINT_URL"); u != "" {
		return u, func() {}, nil
	}
	python, err := testenv.FindPython()
	if err != nil {
		return "", nil, err
	}
	url, stop, err := testenv.StartLauncher(ctx, python)
	if err != nil {
		return "", nil, fmt.Errorf("start the local AWS emulator: %w", err)
	}
	fmt.Fprintf(stderr, "lambda-invoke: AWS_ENDPOINT_URL is not set: started a local AWS emulator at %s (an empty account; it stops when this command ends)\n", url)
	return url, stop, nil
}

func readEvent(path string, stdin io.Reader) ([]byte, error) {
	var (
		raw []byte
		err error
	)
	switch path {
	case "":
		return []byte("{}"), nil
	case "-":
		raw, err = io.ReadAll(stdin)
	default:
		raw, err = os.ReadFile(path)
	}
	if err != nil {
		return nil, fmt.Errorf("read the event: %w", err)
	}
	if !json.Valid(raw) {
		return nil, fmt.Errorf("event %s is not JSON", path)
	}
	return raw, nil
}

func readEnvVars(path string) (map[string]map[string]string, error) {
	if path == "" {
		return nil, nil
	}
	raw, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read env vars: %w", err)
	}
	var out map[string]map[string]string
	if err := json.Unmarshal(raw, &out); err != nil {
		return nil, fmt.Errorf("env vars %s: want {\"Parameters\" or a function's logical id: {VAR: \"value\"}}: %w", path, err)
	}
	return out, nil
}
