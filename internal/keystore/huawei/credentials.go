package huawei

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"strings"
)

// Credentials are the AK/SK keysweep signs its requests with: a permanent
// access key of a least-privileged IAM user, or a temporary one with its
// security token. The caller loads them (ParseSecret from Secrets Manager,
// LoadCredentials from the environment or a profile file); they are never
// taken from a command-line flag. String, GoString and LogValue redact the
// secret key so that a %v, %#v or a slog attribute cannot leak it.
type Credentials struct {
	AccessKeyID     string
	SecretAccessKey string
	// SecurityToken is set with temporary credentials only.
	SecurityToken string
}

// String names the access key id and hides the rest.
func (c Credentials) String() string {
	s := "huawei credentials " + c.AccessKeyID + " (secret key redacted"
	if c.SecurityToken != "" {
		s += ", security token redacted"
	}
	return s + ")"
}

// GoString is String, so %#v redacts too.
func (c Credentials) GoString() string { return c.String() }

// LogValue logs the access key id only.
func (c Credentials) LogValue() slog.Value {
	return slog.GroupValue(slog.String("accessKeyId", c.AccessKeyID), slog.Bool("temporary", c.SecurityToken != ""))
}

func (c Credentials) validate() error {
	switch {
	case c.AccessKeyID == "":
		return errors.New("credentials: no access key id")
	case c.SecretAccessKey == "":
		return errors.New("credentials: no secret access key for " + c.AccessKeyID)
	case strings.ContainsAny(c.AccessKeyID, " ,=\r\n"):
		return errors.New("credentials: the access key id has a character a signature header cannot carry")
	}
	return nil
}

// Secret is what a target's secret in AWS Secrets Manager holds, as JSON:
//
//	{
//	  "accessKeyId":     "QTWAOYTTINDUT2QVKYUC",
//	  "secretAccessKey": "...",
//	  "securityToken":   "",                          // optional: temporary credentials
//	  "domainId":        "d78cbac186b744899480f25bd02...", // optional: asked of IAM when empty
//	  "endpoint":        "https://iam.eu-de.otc.t-systems.com" // optional: the target's default
//	}
type Secret struct {
	Credentials
	DomainID string
	Endpoint string
}

type secretJSON struct {
	AccessKeyID     string `json:"accessKeyId"`
	SecretAccessKey string `json:"secretAccessKey"`
	SecurityToken   string `json:"securityToken,omitempty"`
	DomainID        string `json:"domainId,omitempty"`
	Endpoint        string `json:"endpoint,omitempty"`
}

// ParseSecret reads a Secret from its JSON. Unknown fields are refused (a
// misspelt "secretAcessKey" must not pass as an empty secret). Errors never
// quote the document: it holds the secret key.
func ParseSecret(data []byte) (Secret, error) {
	var raw secretJSON
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&raw); err != nil {
		return Secret{}, fmt.Errorf("parse huawei secret: %s", describeJSONError(err))
	}
	if dec.More() {
		return Secret{}, errors.New("parse huawei secret: more than one JSON value")
	}
	s := Secret{
		Credentials: Credentials{AccessKeyID: raw.AccessKeyID, SecretAccessKey: raw.SecretAccessKey, SecurityToken: raw.SecurityToken},
		DomainID:    raw.DomainID,
		Endpoint:    raw.Endpoint,
	}
	if err := s.Credentials.validate(); err != nil {
		return Secret{}, fmt.Errorf("parse huawei secret: %w", err)
	}
	if s.Endpoint != "" {
		if _, err := parseEndpoint(s.Endpoint); err != nil {
			return Secret{}, fmt.Errorf("parse huawei secret: %w", err)
		}
	}
	return s, nil
}

// describeJSONError says what is wrong without the offending value.
func describeJSONError(err error) string {
	var syntax *json.SyntaxError
	var typ *json.UnmarshalTypeError
	switch {
	case errors.As(err, &syntax):
		return fmt.Sprintf("invalid JSON at byte %d", syntax.Offset)
	case errors.As(err, &typ):
		return fmt.Sprintf("field %q must be a %s", typ.Field, typ.Type)
	case strings.HasPrefix(err.Error(), "json: unknown field "):
		return "unknown field " + strings.TrimPrefix(err.Error(), "json: unknown field ")
	}
	return "invalid JSON"
}

// parseEndpoint checks an IAM endpoint: https, or http on a loopback host
// (the local test server), no path, query or user info; a default port is
// dropped so that the signed host is the Host header sent.
func parseEndpoint(endpoint string) (*url.URL, error) {
	u, err := url.Parse(strings.TrimRight(endpoint, "/"))
	if err != nil || u.Host == "" {
		return nil, fmt.Errorf("endpoint %q: want https://host", endpoint)
	}
	if u.User != nil || u.RawQuery != "" || u.Fragment != "" || (u.Path != "" && u.Path != "/") {
		return nil, fmt.Errorf("endpoint %q: want only scheme and host", endpoint)
	}
	switch u.Scheme {
	case "https":
	case "http":
		if h := u.Hostname(); h != "localhost" && !strings.HasPrefix(h, "127.") && h != "::1" {
			return nil, fmt.Errorf("endpoint %q: plain http is only for a loopback test server", endpoint)
		}
	default:
		return nil, fmt.Errorf("endpoint %q: want https://host", endpoint)
	}
	if (u.Scheme == "https" && u.Port() == "443") || (u.Scheme == "http" && u.Port() == "80") {
		u.Host = u.Hostname()
		if strings.Contains(u.Host, ":") {
			u.Host = "[" + u.Host + "]"
		}
	}
	u.Path = ""
	return u, nil
}
