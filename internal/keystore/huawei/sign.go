package huawei

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"net/http"
	"net/url"
	"sort"
	"strings"
	"time"
)

// AK/SK request signing as the "API Request Signing Guide" (AK/SK Signing
// and Authentication Algorithm: "Constructing a Standard Request",
// "Creating a String to Sign", "Calculating the Signature", "Adding the
// Signature Information to the Request Header") describes it:
//
//	CanonicalRequest = Method \n CanonicalURI \n CanonicalQueryString \n
//	                   CanonicalHeaders \n SignedHeaders \n hex(sha256(body))
//	StringToSign     = "SDK-HMAC-SHA256" \n X-Sdk-Date \n hex(sha256(CanonicalRequest))
//	Signature        = hex(HMAC-SHA256(SK, StringToSign))
//	Authorization: SDK-HMAC-SHA256 Access=AK, SignedHeaders=h1;h2, Signature=...
//
// The canonical URI always ends in "/" (the request itself need not); each
// path segment, query name and query value is URI-encoded (RFC 3986,
// unreserved characters kept); headers are lower-cased, trimmed and sorted.
// sign_test.go pins this to the guide's published example.
const (
	signAlgorithm = "SDK-HMAC-SHA256"
	// sdkDateFormat is X-Sdk-Date's format: basic ISO 8601 in UTC.
	sdkDateFormat = "20060102T150405Z"

	headerSdkDate       = "X-Sdk-Date"
	headerAuthorization = "Authorization"
	headerSecurityToken = "X-Security-Token"
	headerDomainID      = "X-Domain-Id"
	headerContentType   = "Content-Type"
)

// signRequest sets X-Sdk-Date (and X-Security-Token for temporary
// credentials), then signs every header the request carries plus host, and
// sets Authorization. body is the exact request body (nil for none).
func signRequest(req *http.Request, body []byte, cred Credentials, now time.Time) {
	date := now.UTC().Format(sdkDateFormat)
	req.Header.Set(headerSdkDate, date)
	if cred.SecurityToken != "" {
		req.Header.Set(headerSecurityToken, cred.SecurityToken)
	}
	headers := map[string]string{"host": requestHost(req)}
	for name, values := range req.Header {
		lower := strings.ToLower(name)
		if lower == "authorization" {
			continue
		}
		headers[lower] = strings.TrimSpace(strings.Join(values, ","))
	}
	canonical, signed := canonicalRequest(req.Method, req.URL.Path, req.URL.Query(), headers, body)
	req.Header.Set(headerAuthorization, authorization(cred.AccessKeyID, cred.SecretAccessKey, date, canonical, signed))
}

// requestHost is the Host header the request will carry.
func requestHost(req *http.Request) string {
	if req.Host != "" {
		return req.Host
	}
	return req.URL.Host
}

// canonicalRequest builds the canonical request and the signed header list.
func canonicalRequest(method, path string, query url.Values, headers map[string]string, body []byte) (canonical, signed string) {
	names := make([]string, 0, len(headers))
	for name := range headers {
		names = append(names, name)
	}
	sort.Strings(names)
	var ch strings.Builder
	for _, name := range names {
		ch.WriteString(name + ":" + headers[name] + "\n")
	}
	signed = strings.Join(names, ";")
	canonical = strings.Join([]string{
		method, canonicalURI(path), canonicalQuery(query), ch.String(), signed, hexSHA256(body),
	}, "\n")
	return canonical, signed
}

// authorization computes the signature and formats the header value.
func authorization(ak, sk, date, canonical, signed string) string {
	toSign := signAlgorithm + "\n" + date + "\n" + hexSHA256([]byte(canonical))
	mac := hmac.New(sha256.New, []byte(sk))
	mac.Write([]byte(toSign))
	return signAlgorithm + " Access=" + ak + ", SignedHeaders=" + signed + ", Signature=" + hex.EncodeToString(mac.Sum(nil))
}

// canonicalURI encodes each segment of the (unescaped) path and ends it in "/".
func canonicalURI(path string) string {
	segments := strings.Split(path, "/")
	for i, s := range segments {
		segments[i] = escape(s)
	}
	uri := strings.Join(segments, "/")
	if !strings.HasSuffix(uri, "/") {
		uri += "/"
	}
	return uri
}

// canonicalQuery sorts the parameters by name, then value, and encodes both.
func canonicalQuery(query url.Values) string {
	type pair struct{ k, v string }
	var pairs []pair
	for k, vs := range query {
		for _, v := range vs {
			pairs = append(pairs, pair{escape(k), escape(v)})
		}
	}
	sort.Slice(pairs, func(i, j int) bool {
		if pairs[i].k != pairs[j].k {
			return pairs[i].k < pairs[j].k
		}
		return pairs[i].v < pairs[j].v
	})
	parts := make([]string, len(pairs))
	for i, p := range pairs {
		parts[i] = p.k + "=" + p.v
	}
	return strings.Join(parts, "&")
}

// escape URI-encodes every byte but RFC 3986's unreserved characters.
func escape(s string) string {
	const hexDigits = "0123456789ABCDEF"
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		if 'A' <= c && c <= 'Z' || 'a' <= c && c <= 'z' || '0' <= c && c <= '9' || c == '-' || c == '_' || c == '.' || c == '~' {
			b.WriteByte(c)
			continue
		}
		b.WriteByte('%')
		b.WriteByte(hexDigits[c>>4])
		b.WriteByte(hexDigits[c&15])
	}
	return b.String()
}

func hexSHA256(b []byte) string {
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:])
}
