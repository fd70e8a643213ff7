package lambdatest

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"regexp"
	"strings"
	"time"
)

// Result is one invocation's answer.
type Result struct {
	// Status is the emulator's HTTP status: 200 for an answer, a function
	// error or a timeout alike; 502 when the runtime failed to start or
	// exited, or the answer was too large.
	Status int
	// Body is the answer: the handler's JSON, or Lambda's error document.
	Body []byte
	// Error is set when the invocation failed as a function error (what
	// Lambda's Invoke API marks X-Amz-Function-Error, and counts in the
	// function's Errors metric): the handler returned an error or
	// panicked, the runtime exited, or the function timed out.
	Error *FunctionError
}

// FunctionError is Lambda's error document.
type FunctionError struct {
	Type    string `json:"errorType"`
	Message string `json:"errorMessage"`
}

func (e *FunctionError) Error() string { return e.Type + ": " + e.Message }

// Error types the emulator does not put in a document, named as Lambda
// names them.
const (
	ErrorTypeTimeout = "Sandbox.Timedout"
	ErrorTypeRuntime = "Runtime.ExitError"
)

// Invoke sends payload to the function, as a synchronous (RequestResponse)
// Invoke does, and waits for the answer.
//
// The emulator drops the header Lambda's Invoke API uses to mark a
// function error (its response writer proxy keeps only the status and
// body), so the answer is classified by its body as the SAM CLI does for
// `sam local start-lambda`: a JSON object of errorMessage and errorType
// (and at most a stackTrace or cause) is an error document. A timeout is
// the emulator's "Task timed out after N.00 seconds"; a 502 without a
// document is a runtime that failed to start or exited, and its message is
// the emulator's last logged failure.
func (r *Runtime) Invoke(ctx context.Context, payload []byte) (*Result, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, r.URL, bytes.NewReader(payload))
	if err != nil {
		return nil, err
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := r.client.Do(req)
	if err != nil {
		return nil, fmt.Errorf("invoke %s: %w", r.fn.LogicalID, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return nil, fmt.Errorf("invoke %s: read the answer: %w", r.fn.LogicalID, err)
	}
	res := &Result{Status: resp.StatusCode, Body: body}
	switch {
	case resp.StatusCode != http.StatusOK && resp.StatusCode != http.StatusBadGateway:
		return res, fmt.Errorf("invoke %s: the emulator answered %s: %s", r.fn.LogicalID, resp.Status, body)
	case errorDocument(body) != nil:
		res.Error = errorDocument(body)
	case timedOut.Match(body):
		res.Error = &FunctionError{Type: ErrorTypeTimeout, Message: string(body)}
	case resp.StatusCode == http.StatusBadGateway:
		res.Error = &FunctionError{Type: ErrorTypeRuntime, Message: r.failure()}
	}
	return res, nil
}

var timedOut = regexp.MustCompile(`^Task timed out after [0-9.]+ seconds$`)

// errorDocument returns the error document body is, or nil: an object
// with exactly errorMessage and errorType, and at most one of stackTrace
// and cause besides (the rule of the SAM CLI's is_lambda_error_response).
func errorDocument(body []byte) *FunctionError {
	var m map[string]json.RawMessage
	if err := json.Unmarshal(body, &m); err != nil {
		return nil
	}
	_, hasMsg := m["errorMessage"]
	_, hasType := m["errorType"]
	if !hasMsg || !hasType {
		return nil
	}
	extra := len(m) - 2
	_, trace := m["stackTrace"]
	_, cause := m["cause"]
	if extra > 1 || extra == 1 && !trace && !cause {
		return nil
	}
	var fe FunctionError
	if err := json.Unmarshal(body, &fe); err != nil {
		return nil
	}
	return &fe
}

// lastFailure is the emulator's last logged init or invoke failure, or ""
// (its logger orders the line's fields either way).
func lastFailure(logs string) string {
	lines := strings.Split(logs, "\n")
	for i := len(lines) - 1; i >= 0; i-- {
		l := lines[i]
		if !strings.Contains(l, "Init failed ") && !strings.Contains(l, "Invoke failed ") {
			continue
		}
		if _, after, ok := strings.Cut(l, "error="); ok {
			msg, _, _ := strings.Cut(after, " InvokeID=")
			return strings.TrimSpace(msg)
		}
	}
	return ""
}

// failure waits a moment for the emulator's log of a failure, which may
// come through its output pipe after the HTTP answer.
func (r *Runtime) failure() string {
	deadline := time.Now().Add(2 * time.Second)
	for {
		if msg := lastFailure(r.Logs()); msg != "" {
			return msg
		}
		if time.Now().After(deadline) {
			return "the runtime failed (the emulator logged no failure)"
		}
		time.Sleep(10 * time.Millisecond)
	}
}
