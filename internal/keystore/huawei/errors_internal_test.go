package huawei

import (
	"errors"
	"net/http"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/keysweep/keysweep/internal/domain"
)

func TestParseAPIErrorReadsTheThreeDocumentedBodies(t *testing.T) {
	tests := []struct {
		name   string
		status int
		header http.Header
		body   string
		want   APIError
	}{
		{"IAM", 404, http.Header{}, `{"error_msg":"Could not find credential: AK1.","error_code":"IAM.0004"}`,
			APIError{Status: 404, Code: "IAM.0004", Message: "Could not find credential: AK1."}},
		{"API Gateway throttling", 429, http.Header{"Retry-After": {"3"}},
			`{"error_msg":"The throttling threshold has been reached: policy user over ratelimit,limit:10,time:1 minute","error_code":"APIG.0308","request_id":"r1"}`,
			APIError{Status: 429, Code: "APIG.0308", Message: "The throttling threshold has been reached: policy user over ratelimit,limit:10,time:1 minute",
				RequestID: "r1", RetryAfter: 3 * time.Second}},
		{"Keystone", 403, http.Header{"X-Request-Id": {"r2"}},
			`{"error":{"code":403,"message":"You are not authorized to perform the requested action.","title":"Forbidden"}}`,
			APIError{Status: 403, Code: "Forbidden", Message: "You are not authorized to perform the requested action.", RequestID: "r2"}},
		{"neither", 502, http.Header{}, "<html>\nBad Gateway</html>", APIError{Status: 502, Message: "<html>"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := parseAPIError(tc.status, tc.header, []byte(tc.body))
			if diff := cmp.Diff(tc.want, *got, cmpopts.IgnoreUnexported(APIError{})); diff != "" {
				t.Errorf("(-want +got)\n%s", diff)
			}
		})
	}
	gone := &APIError{Status: 404, gone: true}
	if !errors.Is(serviceError("delete", gone), domain.ErrKeyNotFound) || errors.Is(&APIError{Status: 404}, domain.ErrKeyNotFound) {
		t.Error("only a 404 of a key route is ErrKeyNotFound")
	}
}
