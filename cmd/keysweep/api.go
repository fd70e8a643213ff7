package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/user"
	"strings"
	"time"

	"github.com/aws/aws-lambda-go/events"

	"github.com/keysweep/keysweep/app"
	"github.com/keysweep/keysweep/sweep"
)

// revoke, key, serve and `invoke api` all run the API handler, so the CLI
// validates, records and answers exactly as the deployed API does.
func init() {
	extraCommands["revoke"] = cmdRevoke
	extraCommands["key"] = cmdKey
	extraCommands["serve"] = cmdServe
	invokers["api"] = invokeAPI
}

// osUser names the person at the terminal.
func osUser() string {
	if u := os.Getenv("USER"); u != "" {
		return u
	}
	if u, err := user.Current(); err == nil && u.Username != "" {
		return u.Username
	}
	return "unknown"
}

// localAPI wires the API on the command's AWS configuration and tables,
// with sweeps run in-process; actor names the caller on audit records.
func localAPI(ctx context.Context, c *common, actor string) (*app.API, *app.LocalStarter, error) {
	d, err := c.deps(ctx, true)
	if err != nil {
		return nil, nil, err
	}
	sw := &app.Sweeper{
		Engine:   &sweep.Engine{Provider: d.Provider, Journal: d.Store},
		Policies: d.Store, PolicyID: c.policyID, ManualKind: "api",
	}
	starter := &app.LocalStarter{Sweeper: sw}
	a := app.NewAPI(d, starter, nil)
	a.DefaultActor = actor
	return a, starter, nil
}

// proxyEvent is the event API Gateway would send for a route, with the
// route's resource and path parameters set as API Gateway sets them.
func proxyEvent(method, resource string, params map[string]string, body string) events.APIGatewayProxyRequest {
	path := resource
	for k, v := range params {
		path = strings.ReplaceAll(path, "{"+k+"}", v)
	}
	return events.APIGatewayProxyRequest{
		HTTPMethod: method, Resource: resource, Path: path, PathParameters: params, Body: body,
		RequestContext: events.APIGatewayProxyRequestContext{HTTPMethod: method, ResourcePath: resource, Path: path, Stage: "cli"},
	}
}

// answerExit maps an API answer to the CLI's exit codes: bad input 2, an
// unknown key or run 5, anything else that failed 1.
func answerExit(resp events.APIGatewayProxyResponse) error {
	if resp.StatusCode >= 200 && resp.StatusCode < 300 {
		return nil
	}
	var eb app.ErrorBody
	_ = json.Unmarshal([]byte(resp.Body), &eb)
	err := fmt.Errorf("%s (%d %s)", eb.Error.Message, resp.StatusCode, eb.Error.Code)
	if eb.Error.Retryable {
		err = fmt.Errorf("%w; retrying later can succeed", err)
	}
	switch {
	case resp.StatusCode == http.StatusNotFound && eb.Error.Code != "unknown_route":
		return exitError{exitNotFound, err}
	case resp.StatusCode >= 400 && resp.StatusCode < 500 && resp.StatusCode != http.StatusConflict && resp.StatusCode != http.StatusForbidden:
		return usageError{err}
	}
	return err
}

func checkAnswerOutput(o string) error {
	if o != "table" && o != "json" {
		return usagef("--output: must be table or json, got %q", o)
	}
	return nil
}

// printAnswer prints the answer's JSON body as is, or a table of a
// successful answer decoded into T. Errors are left to the exit message.
func printAnswer[T any](stdout io.Writer, format string, resp events.APIGatewayProxyResponse, table func(io.Writer, *T)) error {
	if format == "json" {
		var v any
		if err := json.Unmarshal([]byte(resp.Body), &v); err != nil {
			return fmt.Errorf("answer is not JSON: %w", err)
		}
		if err := writeJSON(stdout, v); err != nil {
			return err
		}
		return answerExit(resp)
	}
	if err := answerExit(resp); err != nil {
		return err
	}
	var v T
	if err := json.Unmarshal([]byte(resp.Body), &v); err != nil {
		return fmt.Errorf("decode answer: %w", err)
	}
	table(stdout, &v)
	return nil
}

func cmdRevoke(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("revoke", "revoke KEY [--reason TEXT] [--deactivate] [--output table|json]", stdout)
	var c common
	c.register(fs)
	reason := fs.String("reason", "", fmt.Sprintf("why, recorded on the audit records (at most %d characters)", app.MaxReasonChars))
	deactivate := fs.Bool("deactivate", false, "deactivate the key instead of deleting it")
	output := fs.String("output", "table", "table or json (the API's answer)")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if err := checkAnswerOutput(*output); err != nil {
		return err
	}
	if fs.NArg() != 1 {
		return usagef("revoke: want one access key id")
	}
	body := map[string]string{"action": "delete"}
	if *deactivate {
		body["action"] = "deactivate"
	}
	if *reason != "" {
		body["reason"] = *reason
	}
	raw, _ := json.Marshal(body)
	a, _, err := localAPI(ctx, &c, "cli:"+osUser())
	if err != nil {
		return err
	}
	resp, _ := a.Handle(ctx, proxyEvent(http.MethodPost, "/keys/{accessKeyId}/revoke", map[string]string{"accessKeyId": fs.Arg(0)}, string(raw)))
	return printAnswer(stdout, *output, resp, writeRevocation)
}

func cmdKey(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("key", "key KEY [--output table|json]", stdout)
	var c common
	c.register(fs)
	output := fs.String("output", "table", "table or json (the API's answer)")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if err := checkAnswerOutput(*output); err != nil {
		return err
	}
	if fs.NArg() != 1 {
		return usagef("key: want one access key id")
	}
	a, _, err := localAPI(ctx, &c, "cli:"+osUser())
	if err != nil {
		return err
	}
	resp, _ := a.Handle(ctx, proxyEvent(http.MethodGet, "/keys/{accessKeyId}", map[string]string{"accessKeyId": fs.Arg(0)}, ""))
	return printAnswer(stdout, *output, resp, writeKeyView)
}

// invokeAPI runs the API handler on an API Gateway proxy event file, as
// `sam local invoke ApiFunction` would, and prints the proxy response. A
// sweep it starts runs in-process and is waited for.
func invokeAPI(ctx context.Context, c *common, raw []byte, stdout, stderr io.Writer) error {
	var ev events.APIGatewayProxyRequest
	if err := json.Unmarshal(raw, &ev); err != nil {
		return usagef("event file: not an API Gateway proxy event: %v", err)
	}
	if ev.HTTPMethod == "" {
		return usagef("event file: no httpMethod: not an API Gateway proxy event (sweeper events go to 'keysweep invoke sweeper')")
	}
	a, starter, err := localAPI(ctx, c, "cli:"+osUser())
	if err != nil {
		return err
	}
	lctx, cancel := lambdaContext(ctx)
	defer cancel()
	resp, _ := a.Handle(lctx, ev)
	if err := writeJSON(stdout, resp); err != nil {
		return err
	}
	if resp.StatusCode == http.StatusAccepted {
		fmt.Fprintln(stderr, "waiting for the sweep to finish (in-process; the Lambda would run it on its own)")
		starter.Wait()
	}
	return answerExit(resp)
}

func writeRevocation(w io.Writer, r *sweep.Revocation) {
	fmt.Fprintln(w, r.Message)
	fmt.Fprintf(w, "  outcome:  %s\n", r.Outcome)
	if r.UserName != "" {
		fmt.Fprintf(w, "  owner:    %s (account %s)\n", r.UserName, orDash(r.Account))
	}
	if r.Policy != nil {
		fmt.Fprintf(w, "  policy:   %s (%s, mode %s) decides %s: %s\n", r.Policy.PolicyVersion, r.Policy.PolicySource, r.Policy.Mode, r.Policy.Verdict, r.Policy.Reason)
	}
	exempt := "no"
	if r.Exempt {
		exempt = "YES (revoked anyway; the records say so)"
	}
	fmt.Fprintf(w, "  exempt:   %s\n", exempt)
	if r.RevocationID != "" {
		fmt.Fprintf(w, "  records:  run %s, actor %s\n", r.RevocationID, r.Actor)
	}
	for _, n := range r.Notes {
		fmt.Fprintf(w, "  note:     %s\n", n)
	}
	if len(r.Records) > 0 {
		fmt.Fprintln(w)
		_ = writeRecords(w, "table", r.Records)
	}
}

func writeKeyView(w io.Writer, v *sweep.KeyView) {
	if !v.Exists {
		fmt.Fprintf(w, "key %s of %s (account %s): no longer in IAM\n", v.AccessKeyID, orDash(v.UserName), orDash(v.Account))
	} else {
		fmt.Fprintf(w, "key %s of %s (account %s)\n", v.AccessKeyID, v.UserName, v.Account)
		fmt.Fprintf(w, "  status:     %s\n", v.Status)
		now := time.Now().UTC()
		if v.CreatedAt != nil {
			fmt.Fprintf(w, "  created:    %s (%d days ago)\n", v.CreatedAt.Format(time.DateOnly), int(now.Sub(*v.CreatedAt).Hours()/24))
		}
		if v.LastUsedAt != nil {
			fmt.Fprintf(w, "  last used:  %s (%d days ago)\n", v.LastUsedAt.Format(time.DateOnly), int(now.Sub(*v.LastUsedAt).Hours()/24))
		} else {
			fmt.Fprintln(w, "  last used:  never")
		}
	}
	if v.Policy != nil {
		fmt.Fprintf(w, "  policy:     %s (%s, mode %s) decides %s: %s\n", v.Policy.PolicyVersion, v.Policy.PolicySource, v.Policy.Mode, v.Policy.Verdict, v.Policy.Reason)
	}
	if st := v.State; st != nil {
		fmt.Fprintf(w, "  keysweep:   stage %s", orDash(st.Stage))
		if st.DeactivatedAt != nil {
			fmt.Fprintf(w, ", inactive since %s", st.DeactivatedAt.Format(time.RFC3339))
		}
		if st.DeletedAt != nil {
			fmt.Fprintf(w, ", deleted %s", st.DeletedAt.Format(time.RFC3339))
		}
		if st.Intent != nil {
			fmt.Fprintf(w, ", UNSETTLED intent to %s by run %s", st.Intent.Action, st.Intent.RunID)
		}
		fmt.Fprintln(w)
	}
	for _, n := range v.Notes {
		fmt.Fprintf(w, "  note:       %s\n", n)
	}
	fmt.Fprintln(w)
	if len(v.History) == 0 {
		fmt.Fprintln(w, "no audit records")
		return
	}
	_ = writeRecords(w, "table", v.History)
}
