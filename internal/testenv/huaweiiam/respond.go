package huaweiiam

import (
	"encoding/json"
	"fmt"
	"net/http"
	"sync/atomic"
)

// errStyle is which documented error body a route answers.
type errStyle int

const (
	// styleIAM: {"error_code": "IAM.0004", "error_msg": "..."} (v3.0, v5).
	styleIAM errStyle = iota
	// styleKeystone: {"error": {"code": 404, "message": "...", "title":
	// "Not Found"}} (the Keystone /v3 routes).
	styleKeystone
)

// Documented messages ("Error Codes" and the per-API examples of the IAM
// API Reference; API Gateway's FAQs for APIG.*).
const (
	msgForbidden   = "You are not authorized to perform the requested action."
	msgInternal    = "An unexpected error prevented the server from fulfilling your request."
	msgBodyInvalid = "Request body is invalid."
	msgThrottled   = "The throttling threshold has been reached: policy user over ratelimit,limit:10,time:1 second"
	msgNoSuchAPI   = "The API does not exist or has not been published in the environment"
)

var requestSeq atomic.Int64

func requestID() string { return fmt.Sprintf("%032x", requestSeq.Add(1)) }

// writeJSON answers status with v as JSON.
func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json;charset=UTF-8")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

// gatewayError is API Gateway's body: 401 APIG.0301, 429 APIG.0308, 404
// APIG.0101.
func gatewayError(w http.ResponseWriter, status int, code, msg string) {
	id := requestID()
	w.Header().Set("X-Request-Id", id)
	writeJSON(w, status, map[string]string{"error_code": code, "error_msg": msg, "request_id": id})
}

// apiError answers in the route's style. code is the IAM code (IAM.0004);
// Keystone routes carry the HTTP title instead.
func apiError(w http.ResponseWriter, style errStyle, status int, code, msg string) {
	id := requestID()
	w.Header().Set("X-Request-Id", id)
	if style == styleKeystone {
		writeJSON(w, status, map[string]any{"error": map[string]any{"code": status, "message": msg, "title": http.StatusText(status)}})
		return
	}
	writeJSON(w, status, map[string]string{"error_code": code, "error_msg": msg, "request_id": id})
}

// faultAnswer answers an injected status with its documented body.
func faultAnswer(w http.ResponseWriter, style errStyle, status int) {
	switch {
	case status == http.StatusTooManyRequests:
		gatewayError(w, status, "APIG.0308", msgThrottled)
	case status == http.StatusUnauthorized:
		gatewayError(w, status, "APIG.0301", "Incorrect IAM authentication information: injected")
	case status == http.StatusForbidden:
		apiError(w, style, status, "IAM.0002", msgForbidden)
	case status == http.StatusNotFound:
		apiError(w, style, status, "IAM.0004", "Could not find the requested resource.")
	case status >= 500:
		apiError(w, style, status, "IAM.0006", msgInternal)
	default:
		apiError(w, style, status, "IAM.0007", "Request parameter is invalid.")
	}
}

func notFound(w http.ResponseWriter, style errStyle, target, id string) {
	apiError(w, style, http.StatusNotFound, "IAM.0004", fmt.Sprintf("Could not find %s: %s.", target, id))
}

func badParam(w http.ResponseWriter, style errStyle, key string) {
	apiError(w, style, http.StatusBadRequest, "IAM.0007", fmt.Sprintf("Request parameter %s is invalid.", key))
}

// statusRecorder remembers the status a handler answered.
type statusRecorder struct {
	http.ResponseWriter
	status int
}

func (r *statusRecorder) WriteHeader(status int) {
	if r.status == 0 {
		r.status = status
	}
	r.ResponseWriter.WriteHeader(status)
}

func (r *statusRecorder) Write(b []byte) (int, error) {
	if r.status == 0 {
		r.status = http.StatusOK
	}
	return r.ResponseWriter.Write(b)
}
