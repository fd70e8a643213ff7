package lambdatest

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/credentials"
)

// InvokePath is the emulator's invoke route: Lambda's Invoke API path for
// the one function it runs.
const InvokePath = "/2015-03-31/functions/function/invocations"

// Options start one function under the emulator.
type Options struct {
	// Emulator is the aws-lambda-rie binary (EmulatorBinary).
	Emulator string
	// Bootstrap is the function's built bootstrap (BuildBootstrap). Its
	// directory is the function's working directory, as /var/task is.
	Bootstrap string
	// Function gives the name, environment, timeout and memory size.
	Function *Function
	// AWSEnv is the AWS SDK's environment for the function: endpoint,
	// region, credentials (EmulatorEnv). The template's variables win over
	// it.
	AWSEnv map[string]string
	// Output receives the emulator's and the function's output as it
	// comes; Runtime.Logs keeps the last part in any case.
	Output io.Writer
}

// Runtime is one function running under the emulator: the emulator's HTTP
// endpoint and the Lambda Runtime API it serves the bootstrap, both on
// 127.0.0.1 only.
type Runtime struct {
	// URL is the invoke endpoint, http://127.0.0.1:PORT + InvokePath.
	URL string
	// RuntimeAPI is the address the bootstrap polls (AWS_LAMBDA_RUNTIME_API).
	RuntimeAPI string

	fn     *Function
	cmd    *exec.Cmd
	exited chan struct{}
	logs   *tailBuffer
	client *http.Client
	mu     sync.Mutex // one invocation at a time, as one execution environment takes them
	once   sync.Once
}

// startAttempts bounds the retries when a free port is taken between
// choosing it and the emulator binding it.
const startAttempts = 3

// Start runs the function under the emulator and returns once both its
// addresses accept connections. The function itself starts (its init
// phase) on the first invocation, as in Lambda.
func Start(ctx context.Context, o Options) (*Runtime, error) {
	var last error
	for range startAttempts {
		r, err := start(ctx, o)
		if err == nil {
			return r, nil
		}
		last = err
		if !errors.Is(err, errAddrInUse) {
			break
		}
	}
	return nil, last
}

var errAddrInUse = errors.New("address already in use")

// readyTimeout bounds how long the emulator may take to listen.
const readyTimeout = 20 * time.Second

func start(ctx context.Context, o Options) (*Runtime, error) {
	invokeAddr, err := freeLoopbackAddr()
	if err != nil {
		return nil, err
	}
	apiAddr, err := freeLoopbackAddr()
	if err != nil {
		return nil, err
	}
	// --runtime-api-address must name a port: the emulator tells the
	// bootstrap the address before it listens, so port 0 would reach no one.
	cmd := exec.Command(o.Emulator,
		"--runtime-interface-emulator-address", invokeAddr,
		"--runtime-api-address", apiAddr,
		o.Bootstrap)
	cmd.Dir = filepath.Dir(o.Bootstrap)
	cmd.Env = functionEnv(o)
	// Its own process group: Close reaches the bootstrap the emulator runs.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	logs := &tailBuffer{max: 1 << 20}
	var out io.Writer = logs
	if o.Output != nil {
		out = io.MultiWriter(logs, o.Output)
	}
	cmd.Stdout, cmd.Stderr = out, out
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start %s: %w", EmulatorTool, err)
	}
	r := &Runtime{
		URL: "http://" + invokeAddr + InvokePath, RuntimeAPI: apiAddr,
		fn: o.Function, cmd: cmd, exited: make(chan struct{}), logs: logs,
		// Lambda's own bound, plus the emulator's time to answer a timeout.
		client: &http.Client{Timeout: o.Function.Timeout + 30*time.Second},
	}
	go func() { _ = cmd.Wait(); close(r.exited) }()
	if err := r.awaitListening(ctx, invokeAddr, apiAddr); err != nil {
		r.Close()
		if strings.Contains(logs.String(), "address already in use") {
			return nil, fmt.Errorf("%w: %v", errAddrInUse, err)
		}
		return nil, fmt.Errorf("%w\n%s", err, logs)
	}
	return r, nil
}

func (r *Runtime) awaitListening(ctx context.Context, addrs ...string) error {
	deadline := time.Now().Add(readyTimeout)
	for _, addr := range addrs {
		for {
			conn, err := net.DialTimeout("tcp", addr, time.Second)
			if err == nil {
				conn.Close()
				break
			}
			select {
			case <-r.exited:
				return fmt.Errorf("%s exited before it listened on %s", EmulatorTool, addr)
			case <-ctx.Done():
				return ctx.Err()
			case <-time.After(20 * time.Millisecond):
			}
			if time.Now().After(deadline) {
				return fmt.Errorf("%s not listening on %s after %s", EmulatorTool, addr, readyTimeout)
			}
		}
	}
	// A port taken by another process between choosing it and binding it
	// answers the dial too; the emulator then exits at once.
	select {
	case <-r.exited:
		return fmt.Errorf("%s exited after it started", EmulatorTool)
	case <-time.After(50 * time.Millisecond):
		return nil
	}
}

// freeLoopbackAddr returns 127.0.0.1:PORT with a port free a moment ago.
func freeLoopbackAddr() (string, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", fmt.Errorf("find a free loopback port: %w", err)
	}
	defer l.Close()
	return l.Addr().String(), nil
}

// functionEnv is the whole environment of the emulator, which passes it
// on to the bootstrap: nothing of this process's own, as in Lambda, where
// a function sees its configuration and the platform's variables only.
func functionEnv(o Options) []string {
	f := o.Function
	env := map[string]string{
		"PATH": "/usr/local/bin:/usr/bin:/bin",
		"TZ":   ":UTC",
		"LANG": "en_US.UTF-8",
		// What the emulator reads for the function's context.
		"AWS_LAMBDA_FUNCTION_NAME":        f.Name,
		"AWS_LAMBDA_FUNCTION_VERSION":     "$LATEST",
		"AWS_LAMBDA_FUNCTION_MEMORY_SIZE": strconv.Itoa(f.MemoryMB),
		"AWS_LAMBDA_FUNCTION_TIMEOUT":     strconv.Itoa(int(f.Timeout / time.Second)),
		"AWS_LAMBDA_LOG_GROUP_NAME":       "/aws/lambda/" + f.Name,
		"AWS_LAMBDA_LOG_STREAM_NAME":      "local",
		"LAMBDA_TASK_ROOT":                filepath.Dir(o.Bootstrap),
		"_HANDLER":                        f.Handler,
		"AWS_EXECUTION_ENV":               "AWS_Lambda_" + strings.ReplaceAll(f.Runtime, ".", "_"),
		// The emulator's own log level: info shows init and invoke phases.
		"LOG_LEVEL": "info",
	}
	for setting, name := range map[string]string{
		"LogFormat": "AWS_LAMBDA_LOG_FORMAT", "ApplicationLogLevel": "AWS_LAMBDA_LOG_LEVEL", "LogGroup": "AWS_LAMBDA_LOG_GROUP_NAME",
	} {
		if v, ok := f.Logging[setting]; ok {
			env[name] = v
		}
	}
	for k, v := range o.AWSEnv {
		env[k] = v
	}
	for k, v := range f.Env {
		env[k] = v
	}
	out := make([]string, 0, len(env))
	for k, v := range env {
		out = append(out, k+"="+v)
	}
	return out
}

// EmulatorEnv is the AWS environment a function gets to reach the local
// AWS emulator at endpoint: the endpoint (AWS_ENDPOINT_URL, which the SDK's
// default configuration honours), the region, and dummy credentials, never
// the developer's own.
func EmulatorEnv(endpoint, region string) map[string]string {
	if region == "" {
		region = DefaultRegion
	}
	return map[string]string{
		"AWS_ENDPOINT_URL":            endpoint,
		"AWS_REGION":                  region,
		"AWS_DEFAULT_REGION":          region,
		"AWS_ACCESS_KEY_ID":           dummyKey,
		"AWS_SECRET_ACCESS_KEY":       dummyKey,
		"AWS_EC2_METADATA_DISABLED":   "true",
		"AWS_CONFIG_FILE":             os.DevNull,
		"AWS_SHARED_CREDENTIALS_FILE": os.DevNull,
	}
}

// DefaultRegion is the region when none is configured: the emulator's.
const DefaultRegion = "us-east-1"

// dummyKey is the access key id and secret the local emulator is given.
const dummyKey = "testing"

// LocalConfig is an AWS configuration for the local emulator at endpoint,
// with dummy credentials and no shared config files, whatever this
// process's environment says.
func LocalConfig(ctx context.Context, endpoint, region string) (aws.Config, error) {
	if region == "" {
		region = DefaultRegion
	}
	cfg, err := config.LoadDefaultConfig(ctx,
		config.WithRegion(region),
		config.WithBaseEndpoint(endpoint),
		config.WithCredentialsProvider(credentials.NewStaticCredentialsProvider(dummyKey, dummyKey, "")),
		config.WithSharedConfigFiles([]string{}),
		config.WithSharedCredentialsFiles([]string{}),
	)
	if err != nil {
		return aws.Config{}, fmt.Errorf("aws config for %s: %w", endpoint, err)
	}
	return cfg, nil
}

// Logs returns the last MiB of the emulator's and the function's output.
func (r *Runtime) Logs() string { return r.logs.String() }

// Function is the function this runtime runs.
func (r *Runtime) Function() *Function { return r.fn }

// Close stops the emulator and the function: SIGTERM to the process
// group, SIGKILL after five seconds. It is safe to call more than once.
func (r *Runtime) Close() {
	r.once.Do(func() {
		pgid := r.cmd.Process.Pid
		_ = syscall.Kill(-pgid, syscall.SIGTERM)
		select {
		case <-r.exited:
		case <-time.After(5 * time.Second):
			_ = syscall.Kill(-pgid, syscall.SIGKILL)
			<-r.exited
		}
		// The emulator does not always wait for the bootstrap: reap the group.
		_ = syscall.Kill(-pgid, syscall.SIGKILL)
	})
}

// tailBuffer keeps the last max bytes written to it.
type tailBuffer struct {
	mu  sync.Mutex
	max int
	buf []byte
}

func (b *tailBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.buf = append(b.buf, p...)
	if over := len(b.buf) - b.max; over > 0 {
		b.buf = append(b.buf[:0], b.buf[over:]...)
	}
	return len(p), nil
}

func (b *tailBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return string(b.buf)
}
