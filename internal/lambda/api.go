package lambda

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"net/url"
	"strings"

	"github.com/aws/aws-lambda-go/events"
	"github.com/awslabs/aws-lambda-go-api-proxy/httpadapter"

	"github.com/keysweep/keysweep/internal/httpapi"
)

// API is the REST API Lambda's handler: API Gateway proxy events served by
// the net/http handler of internal/httpapi through aws-lambda-go-api-proxy,
// with the caller's IAM identity from the request context.
type API struct {
	adapter *httpadapter.HandlerAdapter
}

// NewAPI serves h.
func NewAPI(h http.Handler) *API { return &API{adapter: httpadapter.New(h)} }

// apiRoutes are the API's resources, as API Gateway names them in an
// event's resource, with the path parameters it fills.
var apiRoutes = []string{
	"/keys/{accessKeyId}/revoke", "/keys/{accessKeyId}",
	"/targets/{target}/keys/{accessKeyId}/revoke", "/targets/{target}/keys/{accessKeyId}",
	"/sweeps", "/sweeps/{runId}",
}

// Handle answers one proxy event. It never returns an error: every failure
// is a JSON answer with its status.
func (a *API) Handle(ctx context.Context, ev events.APIGatewayProxyRequest) (events.APIGatewayProxyResponse, error) {
	if ev.IsBase64Encoded {
		if len(ev.Body) > base64.StdEncoding.EncodedLen(httpapi.MaxBodyBytes)+4 {
			return errorAnswer(http.StatusRequestEntityTooLarge, "body_too_large", "body: at most 4096 bytes"), nil
		}
		if _, err := base64.StdEncoding.DecodeString(strings.TrimSpace(ev.Body)); err != nil {
			return errorAnswer(http.StatusBadRequest, "invalid_body", "body: isBase64Encoded is set but the body is not base64"), nil
		}
		ev.Body = strings.TrimSpace(ev.Body)
	}
	rel := routePath(ev)
	ctx = httpapi.WithCaller(ctx, callerOf(ev.RequestContext.Identity))
	if full := ev.RequestContext.Path; full != "" && ev.Path != "" && strings.HasSuffix(full, ev.Path) {
		ctx = httpapi.WithBasePath(ctx, strings.TrimSuffix(full, ev.Path))
	}
	ev.Path = escape(rel)
	ev.MultiValueQueryStringParameters, ev.QueryStringParameters = nil, nil
	resp, err := a.adapter.ProxyWithContext(ctx, ev)
	if err != nil {
		return errorAnswer(http.StatusBadRequest, "invalid_request", "the request could not be read: "+err.Error()), nil
	}
	resp.Headers = map[string]string{}
	for k, vs := range resp.MultiValueHeaders {
		if len(vs) > 0 {
			resp.Headers[k] = vs[0]
		}
	}
	return resp, nil
}

// routePath is the request's path under the API: when API Gateway names one
// of the API's resources, the resource with its path parameters filled in
// (the event's path may carry a custom domain's base path); else the
// event's path (a proxy resource, a hand-made event).
func routePath(ev events.APIGatewayProxyRequest) string {
	for _, r := range apiRoutes {
		if ev.Resource != r {
			continue
		}
		p, ok := r, true
		for _, seg := range strings.Split(r, "/") {
			if strings.HasPrefix(seg, "{") {
				v, has := ev.PathParameters[strings.Trim(seg, "{}")]
				ok = ok && has
				p = strings.Replace(p, seg, strings.ReplaceAll(v, "/", "%2F"), 1)
			}
		}
		if ok {
			return p
		}
	}
	return ev.Path
}

// escape escapes each segment of a path API Gateway gives decoded, so that
// the request URL is the path as the caller sent it.
func escape(p string) string {
	segs := strings.Split(p, "/")
	for i, s := range segs {
		if u, err := url.PathUnescape(s); err == nil && strings.Contains(s, "%2F") {
			segs[i] = url.PathEscape(u)
			continue
		}
		segs[i] = url.PathEscape(s)
	}
	return strings.Join(segs, "/")
}

// callerOf names the caller from API Gateway's identity: the IAM ARN under
// AWS_IAM authorization, else the caller or account id.
func callerOf(id events.APIGatewayRequestIdentity) string {
	var s string
	switch {
	case id.UserArn != "":
		s = id.UserArn
	case id.Caller != "":
		s = "caller:" + id.Caller
	case id.AccountID != "":
		s = "account:" + id.AccountID
	default:
		return ""
	}
	return sanitize(s, 512)
}

// sanitize drops control characters and bounds the length of text that
// goes into records and logs.
func sanitize(s string, max int) string {
	s = strings.Map(func(r rune) rune {
		if r < 0x20 || r == 0x7f {
			return -1
		}
		return r
	}, s)
	if len(s) > max {
		s = s[:max]
	}
	return strings.ToValidUTF8(s, "")
}

func errorAnswer(status int, code, msg string) events.APIGatewayProxyResponse {
	b, _ := json.Marshal(httpapi.ErrorBody{Error: httpapi.ErrorDetail{Code: code, Message: msg}})
	return events.APIGatewayProxyResponse{StatusCode: status, Body: string(b) + "\n", Headers: map[string]string{
		"Content-Type": "application/json; charset=utf-8", "Cache-Control": "no-store", "X-Content-Type-Options": "nosniff",
	}}
}

// Event types the handlers take, named here so that wiring needs no
// import of aws-lambda-go's events.
type (
	APIGatewayProxyRequest  = events.APIGatewayProxyRequest
	APIGatewayProxyResponse = events.APIGatewayProxyResponse
	SQSEvent                = events.SQSEvent
	SQSEventResponse        = events.SQSEventResponse
)
