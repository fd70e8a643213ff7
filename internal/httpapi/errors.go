package httpapi

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"unicode"
	"unicode/utf8"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/retry"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	ddbtypes "github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/smithy-go"

	"github.com/keysweep/keysweep/internal/domain"
	"github.com/keysweep/keysweep/internal/engine"
)

// apiError is an error answer: {"error": {"code", "message", "retryable"}}.
type apiError struct {
	status    int
	code      string
	message   string
	retryable bool
	allow     string // the Allow header of a 405
}

func (e *apiError) Error() string { return e.code + ": " + e.message }

func badRequest(code, message string) *apiError {
	return &apiError{status: http.StatusBadRequest, code: code, message: message}
}

// ErrorBody is the JSON body of every error answer.
type ErrorBody struct {
	Error ErrorDetail `json:"error"`
}

// ErrorDetail says what went wrong; Code is stable, Message is for people.
type ErrorDetail struct {
	Code      string `json:"code"`
	Message   string `json:"message"`
	Retryable bool   `json:"retryable"`
}

// writeError writes an error answer and returns its status.
func writeError(w http.ResponseWriter, e *apiError) int {
	h := map[string]string{}
	if e.allow != "" {
		h["Allow"] = e.allow
	}
	if e.retryable && (e.status == http.StatusServiceUnavailable || e.status == http.StatusConflict) {
		h["Retry-After"] = "5"
	}
	return writeJSON(w, e.status, ErrorBody{Error: ErrorDetail{Code: e.code, Message: e.message, Retryable: e.retryable}}, h)
}

// writeJSON writes a JSON answer and returns its status.
func writeJSON(w http.ResponseWriter, status int, body any, headers map[string]string) int {
	b, err := json.Marshal(body)
	if err != nil {
		b = []byte(`{"error":{"code":"internal","message":"could not encode the answer","retryable":false}}`)
		status = http.StatusInternalServerError
	}
	h := w.Header()
	h.Set("Content-Type", "application/json; charset=utf-8")
	h.Set("Cache-Control", "no-store")
	h.Set("X-Content-Type-Options", "nosniff")
	for k, v := range headers {
		h.Set(k, v)
	}
	w.WriteHeader(status)
	_, _ = w.Write(append(b, '\n'))
	return status
}

// classify maps a route's error to its answer. Key store, journal and
// Lambda failures are 502, or 503 when the service throttled or the time
// ran out; both say whether a retry can help. Messages carry the
// service's error code and message, never a stack trace.
func (a *API) classify(err error) *apiError {
	var ae *apiError
	if errors.As(err, &ae) {
		return ae
	}
	switch {
	case errors.Is(err, engine.ErrNotFound):
		return &apiError{status: http.StatusNotFound, code: "key_not_found", message: err.Error()}
	case errors.Is(err, engine.ErrConflict):
		return &apiError{status: http.StatusConflict, code: "conflict", message: err.Error(), retryable: true}
	case errors.Is(err, engine.ErrBadRequest):
		return badRequest("invalid_action", err.Error())
	}
	service, op := "AWS", ""
	var se *domain.ServiceError
	if errors.As(err, &se) {
		service, op = se.Service, se.Op+": "
	}
	if errors.Is(err, context.DeadlineExceeded) || errors.Is(err, context.Canceled) {
		return &apiError{status: http.StatusServiceUnavailable, code: "timeout", retryable: true,
			message: fmt.Sprintf("%s: %sno answer in time", service, op)}
	}
	if throttled(err) {
		return &apiError{status: http.StatusServiceUnavailable, code: "throttled", retryable: true,
			message: fmt.Sprintf("%s is throttling requests (%s%s); retry with backoff", service, op, short(err))}
	}
	var sae smithy.APIError
	if errors.As(err, &sae) || se != nil {
		return &apiError{status: http.StatusBadGateway, code: "upstream_error", retryable: retryable(err),
			message: fmt.Sprintf("%s call failed: %s%s", service, op, short(err))}
	}
	a.log().Error("api: unclassified error", "err", err)
	return &apiError{status: http.StatusInternalServerError, code: "internal", message: "internal error; the function's log has the details"}
}

// retryable: the service's answer to this request (access denied, invalid
// input: a 4xx) will be the same next time; its own failure (5xx), or no
// answer at all (the network), may not.
func retryable(err error) bool {
	var re *awshttp.ResponseError
	if errors.As(err, &re) && re.HTTPStatusCode() >= 400 && re.HTTPStatusCode() < 500 {
		return false
	}
	var sae smithy.APIError
	if errors.As(err, &sae) && sae.ErrorFault() == smithy.FaultClient {
		return false
	}
	var status interface{ HTTPStatus() int }
	if errors.As(err, &status) && status.HTTPStatus() >= 400 && status.HTTPStatus() < 500 {
		return false
	}
	return true
}

// throttled reports a throttling error: an AWS throttling code, a DynamoDB
// transaction cancelled because one of its items was throttled or in
// conflict, or another key store's error that says it was throttled.
func throttled(err error) bool {
	var sae smithy.APIError
	if errors.As(err, &sae) {
		if _, ok := retry.DefaultThrottleErrorCodes[sae.ErrorCode()]; ok {
			return true
		}
	}
	var tce *ddbtypes.TransactionCanceledException
	if errors.As(err, &tce) {
		for _, r := range tce.CancellationReasons {
			switch aws.ToString(r.Code) {
			case "ThrottlingError", "TransactionConflict", "ProvisionedThroughputExceeded", "RequestLimitExceeded":
				return true
			}
		}
	}
	var th interface{ Throttled() bool }
	return errors.As(err, &th) && th.Throttled()
}

// short is "Code: message" for an API error, else the error's text.
func short(err error) string {
	var sae smithy.APIError
	if errors.As(err, &sae) {
		return sae.ErrorCode() + ": " + sae.ErrorMessage()
	}
	return err.Error()
}

// stringField reads a string field; absent or null is "".
func stringField(fields map[string]json.RawMessage, name string) (string, error) {
	raw, ok := fields[name]
	if !ok || string(raw) == "null" {
		return "", nil
	}
	var s string
	if err := json.Unmarshal(raw, &s); err != nil {
		return "", badRequest("invalid_body", "body: "+name+": must be a string")
	}
	return s, nil
}

// checkReason bounds a reason and keeps it to printable text (new lines
// and tabs allowed).
func checkReason(s string) error {
	if n := utf8.RuneCountInString(s); n > MaxReasonChars {
		return badRequest("reason_too_long", fmt.Sprintf("reason: at most %d characters, got %d", MaxReasonChars, n))
	}
	for _, r := range s {
		if unicode.IsControl(r) && r != '\n' && r != '\t' {
			return badRequest("invalid_reason", "reason: control characters are not allowed")
		}
		// Bidirectional controls (U+202E and kin) would make the audit
		// record read differently from what it holds.
		if unicode.Is(unicode.Bidi_Control, r) {
			return badRequest("invalid_reason", fmt.Sprintf("reason: bidirectional control character %U is not allowed", r))
		}
	}
	return nil
}
