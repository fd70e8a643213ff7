package gmi

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/url"
	"regexp"
	"strings"
)

// DefaultEndpoint is the IAM Service API's server as its OpenAPI document
// names it.
const DefaultEndpoint = "https://console.gmicloud.ai/api/v1"

// Secret is what keysweep keeps to call one GMI Cloud organization: the
// organization and a session's tokens. In the Lambda it is the JSON of a
// Secrets Manager secret, in the CLI the GMI_* environment variables:
//
//	{
//	  "organizationId": "a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11",
//	  "accessToken":    "eyJhbGciOi...",
//	  "refreshToken":   "eyJhbGciOi...",
//	  "clientId":       "ksweep",
//	  "endpoint":       "https://console.gmicloud.ai/api/v1"
//	}
//
// accessToken and refreshToken are those "Create session" (POST
// /me/sessions) returned; clientId is the CE-ClientId header that session
// was created with, which "Refresh session" requires again (less than 8
// alphanumeric characters). refreshToken and clientId may be left out: then
// the session is never renewed and an expired access token fails the run
// with ErrTokenExpired. endpoint defaults to DefaultEndpoint.
//
// Secret's String, GoString and LogValue redact the tokens, so printing or
// logging one does not leak them; encoding/json writes them (that is how a
// renewed secret is stored back).
type Secret struct {
	OrganizationID string `json:"organizationId"`
	AccessToken    string `json:"accessToken"`
	RefreshToken   string `json:"refreshToken,omitempty"`
	ClientID       string `json:"clientId,omitempty"`
	Endpoint       string `json:"endpoint,omitempty"`
}

// Environment variables SecretFromEnv reads, one per Secret field.
const (
	EnvOrganizationID = "GMI_ORGANIZATION_ID"
	EnvAccessToken    = "GMI_ACCESS_TOKEN"
	EnvRefreshToken   = "GMI_REFRESH_TOKEN"
	EnvClientID       = "GMI_CLIENT_ID"
	EnvEndpoint       = "GMI_ENDPOINT"
)

// ErrInvalidSecret: the secret (or environment) lacks a field or holds an
// invalid one. The error names the field, never its value.
var ErrInvalidSecret = errors.New("invalid GMI Cloud secret")

var (
	uuidRE     = regexp.MustCompile(`^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$`)
	clientIDRE = regexp.MustCompile(`^[A-Za-z0-9]{1,7}$`)
)

// IsUUID reports whether s has the textual form of a UUID, the format the
// reference gives the organization and API key ids.
func IsUUID(s string) bool { return uuidRE.MatchString(s) }

// ParseSecret decodes and validates a secret's JSON. Unknown fields are
// refused, so a misspelt field cannot silently leave a default in place.
func ParseSecret(data []byte) (Secret, error) {
	var s Secret
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&s); err != nil {
		return Secret{}, fmt.Errorf("%w: %s", ErrInvalidSecret, jsonProblem(err))
	}
	if _, err := dec.Token(); err != io.EOF {
		return Secret{}, fmt.Errorf("%w: data after the JSON object", ErrInvalidSecret)
	}
	if err := s.validate(func(f string) string { return f }); err != nil {
		return Secret{}, err
	}
	return s.withDefaults(), nil
}

// jsonProblem describes a decoding error without quoting the input (a
// syntax error's message quotes a character of it).
func jsonProblem(err error) string {
	var syn *json.SyntaxError
	var typ *json.UnmarshalTypeError
	switch {
	case errors.As(err, &syn):
		return fmt.Sprintf("not valid JSON (at byte %d)", syn.Offset)
	case errors.As(err, &typ):
		if typ.Field == "" {
			return "not a JSON object"
		}
		return fmt.Sprintf("field %s must be a string", typ.Field)
	case errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF):
		return "empty or truncated JSON"
	case strings.HasPrefix(err.Error(), "json: unknown field "):
		return strings.TrimPrefix(err.Error(), "json: ") // names the field only
	}
	return "not a valid secret object"
}

// SecretFromEnv reads a secret from the GMI_* environment variables (the
// CLI's way); getenv is os.Getenv outside tests.
func SecretFromEnv(getenv func(string) string) (Secret, error) {
	s := Secret{
		OrganizationID: strings.TrimSpace(getenv(EnvOrganizationID)),
		AccessToken:    strings.TrimSpace(getenv(EnvAccessToken)),
		RefreshToken:   strings.TrimSpace(getenv(EnvRefreshToken)),
		ClientID:       strings.TrimSpace(getenv(EnvClientID)),
		Endpoint:       strings.TrimSpace(getenv(EnvEndpoint)),
	}
	envName := map[string]string{
		"organizationId": EnvOrganizationID, "accessToken": EnvAccessToken,
		"refreshToken": EnvRefreshToken, "clientId": EnvClientID, "endpoint": EnvEndpoint,
	}
	if err := s.validate(func(f string) string { return envName[f] }); err != nil {
		return Secret{}, err
	}
	return s.withDefaults(), nil
}

// validate checks every field; name turns a JSON field name into the name
// the user wrote (the field itself, or its environment variable).
func (s Secret) validate(name func(string) string) error {
	bad := func(field, why string) error {
		return fmt.Errorf("%w: %s %s", ErrInvalidSecret, name(field), why)
	}
	switch {
	case s.OrganizationID == "":
		return bad("organizationId", "is required")
	case !IsUUID(s.OrganizationID):
		return bad("organizationId", "must be a UUID")
	case s.AccessToken == "":
		return bad("accessToken", "is required")
	case !headerSafe(s.AccessToken):
		return bad("accessToken", "holds spaces or control characters")
	case !headerSafe(s.RefreshToken):
		return bad("refreshToken", "holds spaces or control characters")
	case s.RefreshToken != "" && s.ClientID == "":
		return bad("clientId", "is required with a refresh token (the CE-ClientId the session was created with)")
	case s.ClientID != "" && !clientIDRE.MatchString(s.ClientID):
		return bad("clientId", "must be 1 to 7 letters or digits")
	}
	if s.Endpoint != "" {
		if err := checkEndpoint(s.Endpoint); err != nil {
			return bad("endpoint", err.Error())
		}
	}
	return nil
}

func (s Secret) withDefaults() Secret {
	if s.Endpoint == "" {
		s.Endpoint = DefaultEndpoint
	}
	s.Endpoint = strings.TrimRight(s.Endpoint, "/")
	return s
}

// headerSafe: a token goes into a header and a JSON body as is.
func headerSafe(tok string) bool {
	for _, r := range tok {
		if r <= ' ' || r == 0x7f || r > 0x7e {
			return false
		}
	}
	return true
}

// checkEndpoint accepts an https URL, or an http URL on a loopback address
// (a local test server): tokens never travel in clear over a network.
func checkEndpoint(raw string) error {
	u, err := url.Parse(raw)
	if err != nil || u.Host == "" {
		return errors.New("must be an absolute URL")
	}
	if u.User != nil || u.RawQuery != "" || u.Fragment != "" {
		return errors.New("must not carry user info, a query or a fragment")
	}
	switch u.Scheme {
	case "https":
		return nil
	case "http":
		host := u.Hostname()
		if ip := net.ParseIP(host); host == "localhost" || (ip != nil && ip.IsLoopback()) {
			return nil
		}
		return errors.New("must use https (http only on a loopback address)")
	}
	return errors.New("must use https")
}

func (s Secret) String() string {
	return fmt.Sprintf("gmi.Secret{organizationId: %s, accessToken: %s, refreshToken: %s, clientId: %s, endpoint: %s}",
		s.OrganizationID, redact(s.AccessToken), redact(s.RefreshToken), s.ClientID, s.Endpoint)
}

// GoString keeps %#v from printing the tokens.
func (s Secret) GoString() string { return s.String() }

// LogValue keeps log/slog from printing the tokens.
func (s Secret) LogValue() slog.Value {
	return slog.GroupValue(
		slog.String("organizationId", s.OrganizationID),
		slog.String("accessToken", redact(s.AccessToken)),
		slog.String("refreshToken", redact(s.RefreshToken)),
		slog.String("clientId", s.ClientID),
		slog.String("endpoint", s.Endpoint))
}

func redact(tok string) string {
	if tok == "" {
		return "(none)"
	}
	return "(redacted)"
}
