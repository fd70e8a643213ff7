package cli

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-lambda-go/lambdacontext"
	"github.com/spf13/cobra"

	"github.com/keysweep/keysweep/internal/domain"
	"github.com/keysweep/keysweep/internal/engine"
	"github.com/keysweep/keysweep/internal/httpapi"
	"github.com/keysweep/keysweep/internal/lambda"
	"github.com/keysweep/keysweep/internal/trigger"
	"github.com/keysweep/keysweep/internal/wiring"
)

// invokeOptions are the flags of `keysweep invoke sweeper|api`.
type invokeOptions struct {
	common
	event string
	stdin io.Reader
}

func newInvokeCmd(s *streams) *cobra.Command {
	cmd := group(s, "invoke sweeper|api --event FILE", "run a Lambda handler in-process on an event file", "sweeper or api")
	for _, fn := range []struct {
		name, short string
		run         func(context.Context, *streams, *invokeOptions, []byte) error
	}{
		{"sweeper", "run the sweeper function's handler on an event (events/schedule.json, a manual payload)", invokeSweeper},
		{"api", "run the API function's handler on an API Gateway proxy event (events/api-*.json)", invokeAPI},
	} {
		o := &invokeOptions{stdin: os.Stdin}
		sub := &cobra.Command{
			Use:   fn.name + " --event FILE",
			Short: fn.short,
			Args:  exactArgs(0, "no arguments"),
			RunE: func(c *cobra.Command, _ []string) error {
				raw, err := o.read()
				if err != nil {
					return ran(err)
				}
				return ran(fn.run(c.Context(), s, o, raw))
			},
		}
		o.register(sub.Flags())
		sub.Flags().StringVar(&o.event, "event", "", "event file (JSON), e.g. events/schedule.json; - reads stdin")
		cmd.AddCommand(sub)
	}
	return cmd
}

func (o *invokeOptions) read() ([]byte, error) {
	var raw []byte
	var err error
	switch o.event {
	case "":
		return nil, usagef("--event FILE is required")
	case "-":
		raw, err = io.ReadAll(io.LimitReader(o.stdin, trigger.MaxEventBytes+1))
	default:
		raw, err = os.ReadFile(o.event)
	}
	if err != nil {
		return nil, usagef("event file: %v", err)
	}
	return raw, nil
}

// lambdaContext gives an in-process invocation what the Lambda runtime
// gives a real one: a request id and a deadline (KEYSWEEP_TIMEOUT, default
// the template's 900 s).
func lambdaContext(ctx context.Context) (context.Context, context.CancelFunc) {
	var b [16]byte
	_, _ = rand.Read(b[:])
	id := hex.EncodeToString(b[:])
	lc := &lambdacontext.LambdaContext{AwsRequestID: id[:8] + "-" + id[8:12] + "-" + id[12:16] + "-" + id[16:20] + "-" + id[20:]}
	timeout := DefaultSweepTimeout
	if v := os.Getenv("KEYSWEEP_TIMEOUT"); v != "" {
		if d, err := time.ParseDuration(v); err == nil && d > 0 {
			timeout = d
		}
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	return lambdacontext.NewContext(ctx, lc), cancel
}

// sweeper is the sweeper function's handler on these clients, as wiring
// builds it for the Lambda.
func (o *invokeOptions) sweeper(d *wiring.Deps, s *streams) *lambda.Sweeper {
	return &lambda.Sweeper{Targets: o.targets(d, s), Policies: d.Journal, Logger: s.log, Metrics: s.err, Reports: d.Reports()}
}

// invokeSweeper runs the sweeper handler on the event and prints its
// answer, as `sam local invoke SweeperFunction` would; its metrics (EMF)
// go to stderr, where the function's log would have them.
func invokeSweeper(ctx context.Context, s *streams, o *invokeOptions, raw []byte) error {
	d, err := o.deps(ctx, s, true)
	if err != nil {
		return err
	}
	ctx, cancel := lambdaContext(ctx)
	defer cancel()
	sum, err := o.sweeper(d, s).Handle(ctx, raw)
	var sums []*engine.Summary
	if sum != nil {
		_ = writeJSON(s.out, sum)
		sums = append([]*engine.Summary{&sum.Summary}, sum.Targets...)
	}
	return sweepExit(sums, err, ctx.Err() == context.DeadlineExceeded, DefaultSweepTimeout)
}

// invokeAPI runs the API function's handler (the net/http API behind
// aws-lambda-go-api-proxy) on an API Gateway proxy event and prints the
// proxy response. A sweep it starts runs in-process and is waited for.
func invokeAPI(ctx context.Context, s *streams, o *invokeOptions, raw []byte) error {
	var ev events.APIGatewayProxyRequest
	if err := json.Unmarshal(raw, &ev); err != nil {
		return usagef("event file: not an API Gateway proxy event: %v", err)
	}
	if ev.HTTPMethod == "" {
		return usagef("event file: no httpMethod: not an API Gateway proxy event (sweeper events go to 'keysweep invoke sweeper')")
	}
	d, err := o.deps(ctx, s, true)
	if err != nil {
		return err
	}
	starter := o.localStarter(d, s)
	api := d.API(s.log, starter)
	api.DefaultActor = "cli:" + osUser()
	lctx, cancel := lambdaContext(ctx)
	defer cancel()
	resp, _ := lambda.NewAPI(api.Handler()).Handle(lctx, ev)
	if err := writeJSON(s.out, resp); err != nil {
		return err
	}
	if resp.StatusCode == http.StatusAccepted {
		fmt.Fprintln(s.err, "waiting for the sweep to finish (in-process; the Lambda would run it on its own)")
		starter.Wait()
	}
	return answerExit(resp)
}

// localStarter runs the sweeps the API starts in this process, with the
// sweeper handler.
func (c *common) localStarter(d *wiring.Deps, s *streams) *httpapi.LocalStarter {
	sw := &lambda.Sweeper{Targets: c.targets(d, s), Policies: d.Journal, Logger: s.log, ManualKind: domain.TriggerAPI}
	return &httpapi.LocalStarter{
		Run: func(ctx context.Context, ev trigger.Event) error {
			_, err := sw.Run(ctx, ev)
			return err
		},
		Timeout: DefaultSweepTimeout,
		Logger:  s.log,
	}
}

// answerExit maps an API answer to the CLI's exit codes: bad input 2, an
// unknown key or run 5, anything else that failed 1.
func answerExit(resp events.APIGatewayProxyResponse) error {
	if resp.StatusCode >= 200 && resp.StatusCode < 300 {
		return nil
	}
	var eb httpapi.ErrorBody
	_ = json.Unmarshal([]byte(resp.Body), &eb)
	err := fmt.Errorf("%s (%d %s)", eb.Error.Message, resp.StatusCode, eb.Error.Code)
	if eb.Error.Retryable {
		err = fmt.Errorf("%w; retrying later can succeed", err)
	}
	switch {
	case resp.StatusCode == http.StatusNotFound && eb.Error.Code != "unknown_route":
		return exitError{ExitNotFound, err}
	case resp.StatusCode >= 400 && resp.StatusCode < 500 && resp.StatusCode != http.StatusConflict && resp.StatusCode != http.StatusForbidden:
		return usageError{err}
	}
	return err
}
