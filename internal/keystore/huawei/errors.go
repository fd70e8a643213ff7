package huawei

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/keysweep/keysweep/internal/domain"
)

// ServiceName is the domain.ServiceError.Service of this store's failures.
const ServiceName = "Huawei IAM"

// Error codes keysweep branches on.
const (
	// CodeThrottled is API Gateway's "The throttling threshold has been
	// reached" (429), "How Do I Handle the Error APIG.0308?".
	CodeThrottled = "APIG.0308"
	// CodeSignature is API Gateway's "Incorrect IAM authentication
	// information" (401), "Common Errors Related to IAM Authentication
	// Information"; the guide spells it APIGW.0301 in places.
	CodeSignature = "APIG.0301"
	// CodeNotFound is IAM's "Could not find %(target)s: %(target_id)s." (404).
	CodeNotFound = "IAM.0004"
)

// APIError is a non-2xx answer of the IAM endpoint. It carries whichever of
// the three documented error bodies came back: IAM's and API Gateway's
// {"error_code", "error_msg", "request_id"}, or Keystone's {"error":
// {"code", "message", "title"}}. Its text has the status, code and message:
// never a credential.
type APIError struct {
	Status    int
	Code      string // "IAM.0004", "APIG.0308", or Keystone's title ("Not Found")
	Message   string
	RequestID string
	// RetryAfter is the Retry-After header's delay, when the answer has one.
	RetryAfter time.Duration
	// gone marks a 404 of a route whose resource is a key or its owner: it
	// then unwraps to domain.ErrKeyNotFound.
	gone bool
}

func (e *APIError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "HTTP %d", e.Status)
	if e.Code != "" {
		b.WriteString(" " + e.Code)
	}
	if e.Message != "" {
		b.WriteString(": " + e.Message)
	}
	if e.RequestID != "" {
		b.WriteString(" (request id " + e.RequestID + ")")
	}
	return b.String()
}

// Unwrap gives domain.ErrKeyNotFound for a key or owner that is gone.
func (e *APIError) Unwrap() error {
	if e.gone {
		return domain.ErrKeyNotFound
	}
	return nil
}

// Throttled reports a 429 (APIG.0308): the entry points answer 503.
func (e *APIError) Throttled() bool { return e.Status == http.StatusTooManyRequests }

// retryable: throttling and server-side failures are tried again.
func (e *APIError) retryable() bool { return e.Throttled() || e.Status >= 500 }

// parseAPIError reads an error answer. A body of neither documented shape
// (an HTML page from a proxy, say) keeps its first line, cut short.
func parseAPIError(status int, header http.Header, body []byte) *APIError {
	e := &APIError{Status: status, RequestID: firstNonEmpty(header.Get("X-Request-Id"), header.Get("X-IAM-Trace-Id"))}
	if s := header.Get("Retry-After"); s != "" {
		if secs, err := strconv.Atoi(s); err == nil && secs >= 0 {
			e.RetryAfter = time.Duration(secs) * time.Second
		}
	}
	var flat struct {
		Code      string `json:"error_code"`
		Msg       string `json:"error_msg"`
		RequestID string `json:"request_id"`
	}
	var keystone struct {
		Error *struct {
			Code    json.Number `json:"code"`
			Message string      `json:"message"`
			Title   string      `json:"title"`
		} `json:"error"`
	}
	switch {
	case json.Unmarshal(body, &flat) == nil && (flat.Code != "" || flat.Msg != ""):
		e.Code, e.Message = flat.Code, flat.Msg
		e.RequestID = firstNonEmpty(flat.RequestID, e.RequestID)
	case json.Unmarshal(body, &keystone) == nil && keystone.Error != nil:
		e.Code, e.Message = keystone.Error.Title, keystone.Error.Message
	default:
		line, _, _ := strings.Cut(strings.TrimSpace(string(body)), "\n")
		if len(line) > 200 {
			line = line[:200] + "..."
		}
		e.Message = line
	}
	return e
}

func firstNonEmpty(s ...string) string {
	for _, v := range s {
		if v != "" {
			return v
		}
	}
	return ""
}

// serviceError wraps a failure of op as the engine's ServiceError.
func serviceError(op string, err error) error {
	return &domain.ServiceError{Service: ServiceName, Op: op, Err: err}
}
