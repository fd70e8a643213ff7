package app

import (
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"io"
	"net"
	"net/http"

	"github.com/aws/aws-lambda-go/events"
)

// ServeHTTP runs the API handler on a plain HTTP request, converted into
// the proxy event API Gateway would send, so that `keysweep serve` answers
// exactly as the deployed API does. It does no authorization of its own.
func (a *API) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	ev := ProxyRequest(r)
	resp, _ := a.Handle(r.Context(), ev)
	WriteProxyResponse(w, resp)
}

// ProxyRequest converts an HTTP request into an API Gateway REST proxy
// event: method, path, headers, query and body (at most one byte over
// MaxBodyBytes is read, enough for the handler to refuse it). The event
// names no resource, so the handler routes on the path, and carries no
// caller identity.
func ProxyRequest(r *http.Request) events.APIGatewayProxyRequest {
	body, _ := io.ReadAll(io.LimitReader(r.Body, MaxBodyBytes+1))
	ev := events.APIGatewayProxyRequest{
		HTTPMethod:                      r.Method,
		Path:                            r.URL.Path,
		Headers:                         map[string]string{},
		MultiValueHeaders:               map[string][]string{},
		QueryStringParameters:           map[string]string{},
		MultiValueQueryStringParameters: map[string][]string{},
		Body:                            string(body),
	}
	for k, vs := range r.Header {
		if len(vs) > 0 {
			ev.Headers[k] = vs[0]
			ev.MultiValueHeaders[k] = vs
		}
	}
	for k, vs := range r.URL.Query() {
		if len(vs) > 0 {
			ev.QueryStringParameters[k] = vs[0]
			ev.MultiValueQueryStringParameters[k] = vs
		}
	}
	ip := r.RemoteAddr
	if host, _, err := net.SplitHostPort(r.RemoteAddr); err == nil {
		ip = host
	}
	var id [16]byte
	_, _ = rand.Read(id[:])
	ev.RequestContext = events.APIGatewayProxyRequestContext{
		RequestID:  hex.EncodeToString(id[:]),
		Stage:      "local",
		HTTPMethod: r.Method,
		Path:       r.URL.Path,
		Protocol:   r.Proto,
		Identity:   events.APIGatewayRequestIdentity{SourceIP: ip, UserAgent: r.UserAgent()},
	}
	return ev
}

// WriteProxyResponse writes a proxy response as an HTTP response.
func WriteProxyResponse(w http.ResponseWriter, resp events.APIGatewayProxyResponse) {
	for k, v := range resp.Headers {
		w.Header().Set(k, v)
	}
	for k, vs := range resp.MultiValueHeaders {
		for _, v := range vs {
			w.Header().Add(k, v)
		}
	}
	body := []byte(resp.Body)
	if resp.IsBase64Encoded {
		if dec, err := base64.StdEncoding.DecodeString(resp.Body); err == nil {
			body = dec
		}
	}
	status := resp.StatusCode
	if status == 0 {
		status = http.StatusOK
	}
	w.WriteHeader(status)
	_, _ = w.Write(body)
}
