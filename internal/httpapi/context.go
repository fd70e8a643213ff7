package httpapi

import "context"

type ctxKey int

const (
	callerKey ctxKey = iota
	basePathKey
)

// WithCaller gives a request its caller's identity (an IAM ARN from API
// Gateway's request context); the Lambda adapter sets it.
func WithCaller(ctx context.Context, caller string) context.Context {
	return context.WithValue(ctx, callerKey, caller)
}

// CallerFrom is the request's caller, "" when it carries none.
func CallerFrom(ctx context.Context) string {
	s, _ := ctx.Value(callerKey).(string)
	return s
}

// WithBasePath says under which path the API is served (an API Gateway
// stage or a custom domain's base path), for the Location of a new run.
func WithBasePath(ctx context.Context, base string) context.Context {
	return context.WithValue(ctx, basePathKey, base)
}

func basePath(ctx context.Context) string {
	s, _ := ctx.Value(basePathKey).(string)
	return s
}
