package app

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/retry"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	ddbtypes "github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/smithy-go"

	"github.com/keysweep/keysweep/sweep"
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

func errorResponse(e *apiError) events.APIGatewayProxyResponse {
	var h map[string]string
	if e.allow != "" {
		h = map[string]string{"Allow": e.allow}
	}
	if e.retryable && (e.status == http.StatusServiceUnavailable || e.status == http.StatusConflict) {
		if h == nil {
			h = map[string]string{}
		}
		h["Retry-After"] = "5"
	}
	return jsonResponse(e.status, ErrorBody{Error: ErrorDetail{Code: e.code, Message: e.message, Retryable: e.retryable}}, h)
}

// classify maps a handler's error to its answer. IAM, DynamoDB and Lambda
// failures are 502, or 503 when the service throttled or the time ran out;
// both say whether a retry can help. Messages carry the service's error
// code and message, never a stack trace.
func (a *API) classify(err error) *apiError {
	var ae *apiError
	if errors.As(err, &ae) {
		return ae
	}
	switch {
	case errors.Is(err, sweep.ErrNotFound):
		return &apiError{status: http.StatusNotFound, code: "key_not_found", message: err.Error()}
	case errors.Is(err, sweep.ErrConflict):
		return &apiError{status: http.StatusConflict, code: "conflict", message: err.Error(), retryable: true}
	case errors.Is(err, sweep.ErrBadRequest):
		return badRequest("invalid_action", err.Error())
	}
	service := "AWS"
	op := ""
	var ue *sweep.UpstreamError
	if errors.As(err, &ue) {
		service, op = ue.Service, ue.Op+": "
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
	if errors.As(err, &sae) || ue != nil {
		// The service's answer to this request (access denied, invalid
		// input: a 4xx) will be the same next time; its own failure (5xx),
		// or no answer at all (the network), may not.
		retryable := true
		var re *awshttp.ResponseError
		if errors.As(err, &re) && re.HTTPStatusCode() >= 400 && re.HTTPStatusCode() < 500 {
			retryable = false
		} else if sae != nil && sae.ErrorFault() == smithy.FaultClient {
			retryable = false
		}
		return &apiError{status: http.StatusBadGateway, code: "upstream_error", retryable: retryable,
			message: fmt.Sprintf("%s call failed: %s%s", service, op, short(err))}
	}
	a.log().Error("api: unclassified error", "err", err)
	return &apiError{status: http.StatusInternalServerError, code: "internal", message: "internal error; the function's log has the details"}
}

// throttled reports a throttling error, including a DynamoDB transaction
// cancelled because one of its items was throttled or in conflict.
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
	return false
}

// short is "Code: message" for an API error, else the error's text.
func short(err error) string {
	var sae smithy.APIError
	if errors.As(err, &sae) {
		return sae.ErrorCode() + ": " + sae.ErrorMessage()
	}
	return err.Error()
}

func strconvQuote(s string) string { return strconv.Quote(s) }

// requestBody returns the decoded body: base64 when API Gateway says so,
// at most MaxBodyBytes.
func requestBody(ev events.APIGatewayProxyRequest) ([]byte, error) {
	tooLarge := &apiError{status: http.StatusRequestEntityTooLarge, code: "body_too_large",
		message: fmt.Sprintf("body: at most %d bytes", MaxBodyBytes)}
	b := []byte(ev.Body)
	if ev.IsBase64Encoded {
		if len(b) > base64.StdEncoding.EncodedLen(MaxBodyBytes)+4 {
			return nil, tooLarge
		}
		dec := make([]byte, base64.StdEncoding.DecodedLen(len(b)))
		n, err := base64.StdEncoding.Decode(dec, bytes.TrimSpace(b))
		if err != nil {
			return nil, badRequest("invalid_body", "body: isBase64Encoded is set but the body is not base64")
		}
		b = dec[:n]
	}
	if len(b) > MaxBodyBytes {
		return nil, tooLarge
	}
	return b, nil
}

// decodeObject reads an optional JSON object whose field names are all in
// allowed, spelled exactly, each at most once. An empty body is an empty
// object.
func decodeObject(body []byte, allowed ...string) (map[string]json.RawMessage, error) {
	out := map[string]json.RawMessage{}
	body = bytes.TrimSpace(body)
	if len(body) == 0 {
		return out, nil
	}
	bad := func(msg string) error { return badRequest("invalid_body", "body: "+msg) }
	if body[0] != '{' {
		return nil, bad("must be a JSON object")
	}
	if !utf8.Valid(body) {
		return nil, bad("not valid UTF-8")
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	if _, err := dec.Token(); err != nil {
		return nil, bad("malformed JSON: " + err.Error())
	}
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return nil, bad("malformed JSON: " + err.Error())
		}
		name, ok := tok.(string)
		if !ok {
			return nil, bad("malformed JSON: expected a field name")
		}
		if !slices.Contains(allowed, name) {
			return nil, badRequest("unknown_field", fmt.Sprintf("body: unknown field %s (allowed: %s)", quote(name, 40), strings.Join(allowed, ", ")))
		}
		if _, dup := out[name]; dup {
			return nil, bad("field " + strconv.Quote(name) + " given twice")
		}
		var raw json.RawMessage
		if err := dec.Decode(&raw); err != nil {
			return nil, bad("malformed JSON: " + err.Error())
		}
		out[name] = raw
	}
	if _, err := dec.Token(); err != nil {
		return nil, bad("malformed JSON: " + err.Error())
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, bad("trailing data after the JSON object")
	}
	return out, nil
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
