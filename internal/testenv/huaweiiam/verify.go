package huaweiiam

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"time"
)

// The signature check, written from the "API Request Signing Guide" (AK/SK
// Signing and Authentication Algorithm) and from nothing else: it does not
// share code with the adapter's signer, nor call the vendor SDK. The guide:
//
//  1. canonical request = method, canonical URI (every path segment
//     URI-encoded, ending in "/"), canonical query string (names and values
//     URI-encoded, sorted), canonical headers (the signed headers, lower
//     case "name:value\n", trimmed, sorted), the signed header names joined
//     by ";", and the hex SHA-256 of the body, joined by "\n";
//  2. string to sign = "SDK-HMAC-SHA256" \n X-Sdk-Date \n hex SHA-256 of (1);
//  3. signature = hex HMAC-SHA256 keyed with the SK over (2);
//  4. Authorization: SDK-HMAC-SHA256 Access=<AK>, SignedHeaders=<...>,
//     Signature=<...>; X-Sdk-Date (YYYYMMDDTHHMMSSZ) must be signed and
//     within 15 minutes of the server's clock ("Common Errors Related to
//     IAM Authentication Information").

const maxSkew = 15 * time.Minute

var authPattern = regexp.MustCompile(`^SDK-HMAC-SHA256 Access=([^,\s]+), SignedHeaders=([a-z0-9;_.-]+), Signature=([0-9a-f]{64})$`)

// authError is why a request is refused with 401 APIG.0301.
type authError string

func (e authError) Error() string { return "Incorrect IAM authentication information: " + string(e) }

// verify checks r's signature and returns the caller's access key id. It
// reads the body and puts it back.
func (s *Server) verify(r *http.Request) (string, error) {
	m := authPattern.FindStringSubmatch(r.Header.Get("Authorization"))
	if m == nil {
		return "", authError("no SDK-HMAC-SHA256 Authorization header, or a malformed one")
	}
	ak, signedList, signature := m[1], m[2], m[3]
	signed := strings.Split(signedList, ";")
	for i := 1; i < len(signed); i++ {
		if signed[i-1] >= signed[i] {
			return "", authError("SignedHeaders must be sorted and unique")
		}
	}
	if !slices.Contains(signed, "x-sdk-date") {
		return "", authError("x-sdk-date is not signed")
	}
	date := r.Header.Get("X-Sdk-Date")
	when, err := time.Parse("20060102T150405Z", date)
	if err != nil || len(date) != 16 {
		return "", authError(fmt.Sprintf("X-Sdk-Date %q is not YYYYMMDDTHHMMSSZ", date))
	}
	if d := s.now().Sub(when); d > maxSkew || d < -maxSkew {
		return "", authError("the request has expired: X-Sdk-Date is more than 15 minutes from the server's time")
	}
	cred, ok := s.credential(ak)
	if !ok {
		return "", authError("Get secretKey failed")
	}
	if cred.SecurityToken != "" && r.Header.Get("X-Security-Token") != cred.SecurityToken {
		return "", authError("the security token of temporary credentials is missing or wrong")
	}
	if cred.SecurityToken != "" && !slices.Contains(signed, "x-security-token") {
		return "", authError("x-security-token is not signed")
	}
	body, err := io.ReadAll(r.Body)
	if err != nil {
		return "", authError("cannot read the body")
	}
	r.Body = io.NopCloser(bytes.NewReader(body))

	var headerLines strings.Builder
	for _, name := range signed {
		value, present := headerValue(r, name)
		if !present {
			return "", authError(fmt.Sprintf("signed header %s is not in the request", name))
		}
		headerLines.WriteString(name + ":" + value + "\n")
	}
	path, err := canonicalPath(r.URL.EscapedPath())
	if err != nil {
		return "", authError("bad path encoding")
	}
	query, err := canonicalQueryString(r.URL.RawQuery)
	if err != nil {
		return "", authError("bad query encoding")
	}
	bodySum := sha256.Sum256(body)
	canonical := r.Method + "\n" + path + "\n" + query + "\n" + headerLines.String() + "\n" + signedList + "\n" + hex.EncodeToString(bodySum[:])
	reqSum := sha256.Sum256([]byte(canonical))
	stringToSign := "SDK-HMAC-SHA256\n" + date + "\n" + hex.EncodeToString(reqSum[:])
	mac := hmac.New(sha256.New, []byte(cred.SecretAccessKey))
	io.WriteString(mac, stringToSign)
	want := hex.EncodeToString(mac.Sum(nil))
	if !hmac.Equal([]byte(want), []byte(signature)) {
		return "", authError("verify aksk signature fail")
	}
	return ak, nil
}

// headerValue is what the client saw of a signed header: Host is not in
// r.Header on a server.
func headerValue(r *http.Request, name string) (string, bool) {
	if name == "host" {
		return r.Host, r.Host != ""
	}
	values := r.Header.Values(name)
	if len(values) == 0 {
		return "", false
	}
	return strings.TrimSpace(strings.Join(values, ",")), true
}

// canonicalPath re-encodes each segment of the escaped path and ends it in "/".
func canonicalPath(escaped string) (string, error) {
	parts := strings.Split(escaped, "/")
	for i, p := range parts {
		raw, err := url.PathUnescape(p)
		if err != nil {
			return "", err
		}
		parts[i] = uriEncode(raw)
	}
	out := strings.Join(parts, "/")
	if !strings.HasSuffix(out, "/") {
		out += "/"
	}
	return out, nil
}

// canonicalQueryString decodes the raw query pair by pair ("+" is a plus,
// as RFC 3986 has it), re-encodes and sorts it.
func canonicalQueryString(raw string) (string, error) {
	if raw == "" {
		return "", nil
	}
	type pair struct{ k, v string }
	var pairs []pair
	for _, item := range strings.Split(raw, "&") {
		if item == "" {
			continue
		}
		k, v, _ := strings.Cut(item, "=")
		dk, err := url.PathUnescape(k)
		if err != nil {
			return "", err
		}
		dv, err := url.PathUnescape(v)
		if err != nil {
			return "", err
		}
		pairs = append(pairs, pair{uriEncode(dk), uriEncode(dv)})
	}
	// By name, then value: not by "name=value", where "a-b=" would sort
	// before "a=".
	slices.SortFunc(pairs, func(x, y pair) int {
		if c := strings.Compare(x.k, y.k); c != 0 {
			return c
		}
		return strings.Compare(x.v, y.v)
	})
	out := make([]string, len(pairs))
	for i, p := range pairs {
		out[i] = p.k + "=" + p.v
	}
	return strings.Join(out, "&"), nil
}

// uriEncode keeps A-Z a-z 0-9 - _ . ~ and percent-encodes every other byte
// in upper-case hex.
func uriEncode(s string) string {
	var b strings.Builder
	for _, c := range []byte(s) {
		switch {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9', strings.IndexByte("-_.~", c) >= 0:
			b.WriteByte(c)
		default:
			fmt.Fprintf(&b, "%%%02X", c)
		}
	}
	return b.String()
}
