package gmi

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"

	"github.com/keysweep/keysweep/internal/domain"
)

// ServiceName is the Service of the *domain.ServiceError the store returns.
const ServiceName = "GMI Cloud"

var (
	// ErrTokenExpired: the API refused the session's access token and the
	// session could not be renewed (no refresh token, renewal not enabled,
	// or the refresh token refused). A person must log in again and store
	// the new tokens in the secret.
	ErrTokenExpired = errors.New("GMI Cloud token expired: renew the secret (log in to GMI Cloud and store the new session's tokens)")
	// ErrOrganizationNotFound: 404 organization/2, "Organization does not
	// exist." The configured organization id is wrong: a failure, never a
	// key that is gone.
	ErrOrganizationNotFound = errors.New("GMI Cloud organization does not exist")
	// ErrRenewalNotSaved: the session was renewed but Config.OnRenew could
	// not store the renewed tokens. The store refuses further calls until
	// they are stored, since the secret's refresh token may no longer work.
	ErrRenewalNotSaved = errors.New("renewed GMI Cloud session not saved")
)

// Error groups and codes of ErrStatusMsg bodies the store branches on, as
// the IAM Service API reference lists them ("Delete an API key", "List API
// keys", "Refresh session").
const (
	GroupRequest      = "request"      // code 0: invalid field; code 1: body required
	GroupOrganization = "organization" // code 2: does not exist; code 1201: DB error
	GroupAPIKey       = "api-key"      // code 1201: get DB error; code 1600: delete DB error
	GroupAuth         = "auth"         // code 0: invalid CE-ClientId; code 1: invalid refreshToken

	CodeInvalidField      = 0
	CodeOrgNotFound       = 2
	CodeGetDBError        = 1201
	CodeDeleteDBError     = 1600
	CodeInvalidClientID   = 0
	CodeInvalidRefreshTok = 1
)

// ValidationDetail is one invalid field of a request (ErrStatusMsg's
// validationDetail). The API's originalValue is deliberately not kept: it
// echoes what was sent, which for "Refresh session" is a refresh token.
type ValidationDetail struct {
	Field      string `json:"field"`
	Expression string `json:"expression"`
	Argument   string `json:"argument"`
	Reason     string `json:"reason"`
}

// APIError is a failed call: its HTTP status and the ErrStatusMsg body
// (group and code are required by the schema; a body that is not an
// ErrStatusMsg leaves them empty). Error() never includes traces nor
// original values.
type APIError struct {
	Op      string // the operation ("ListApiKeys", "DeleteApiKey", ...)
	Status  int
	Group   string
	Code    int
	Message string
	Traces  []string
	Fields  []ValidationDetail
}

// Is reports the documented meaning of the error: 404 organization/2 is
// ErrOrganizationNotFound.
func (e *APIError) Is(target error) bool {
	return target == ErrOrganizationNotFound && e.orgNotFound()
}

func (e *APIError) orgNotFound() bool {
	return e.Status == http.StatusNotFound && e.Group == GroupOrganization && e.Code == CodeOrgNotFound
}

func (e *APIError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "HTTP %d", e.Status)
	if e.Group != "" {
		fmt.Fprintf(&b, " %s/%d", e.Group, e.Code)
	}
	if e.Message != "" {
		b.WriteString(": " + strings.TrimSuffix(e.Message, "."))
	}
	for _, f := range e.Fields {
		fmt.Fprintf(&b, "; invalid field %s", f.Field)
		if f.Expression != "" {
			fmt.Fprintf(&b, " (%s)", f.Expression)
		}
		if f.Reason != "" {
			b.WriteString(": " + strings.TrimSuffix(f.Reason, "."))
		}
	}
	return b.String()
}

// retryable says whether a failed attempt may be sent again: the database
// errors the reference lists for the key and organization operations, and,
// for reads only, a busy or unreachable gateway.
func (e *APIError) retryable(method string) bool {
	if e.Status == http.StatusInternalServerError {
		switch {
		case e.Group == GroupAPIKey && (e.Code == CodeGetDBError || e.Code == CodeDeleteDBError),
			e.Group == GroupOrganization && e.Code == CodeGetDBError:
			return true
		}
	}
	if method != http.MethodGet {
		return false
	}
	switch e.Status {
	case http.StatusTooManyRequests, http.StatusBadGateway, http.StatusServiceUnavailable, http.StatusGatewayTimeout:
		return true
	}
	return false
}

// decodeError reads an error response's body as an ErrStatusMsg.
func decodeError(op string, status int, body []byte) *APIError {
	e := &APIError{Op: op, Status: status}
	var msg struct {
		Group            *string            `json:"group"`
		Code             *int               `json:"code"`
		Message          string             `json:"message"`
		Traces           []string           `json:"traces"`
		ValidationDetail []ValidationDetail `json:"validationDetail"`
	}
	if json.Unmarshal(body, &msg) != nil || msg.Group == nil || msg.Code == nil {
		// Not an ErrStatusMsg (a gateway's page, say): the status says it all.
		e.Message = http.StatusText(status)
		return e
	}
	e.Group, e.Code, e.Message = *msg.Group, *msg.Code, msg.Message
	e.Traces, e.Fields = msg.Traces, msg.ValidationDetail
	return e
}

// serviceError wraps err as the failure of the named step.
func serviceError(op string, err error) error {
	return &domain.ServiceError{Service: ServiceName, Op: op, Err: err}
}
