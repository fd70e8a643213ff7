package lambdatest

import (
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestErrorDocument(t *testing.T) {
	tests := []struct {
		body string
		want *FunctionError
	}{
		{`{"errorMessage":"policy: invalid","errorType":"wrapErrors"}`, &FunctionError{Type: "wrapErrors", Message: "policy: invalid"}},
		{`{"errorMessage":"boom","errorType":"Runtime","stackTrace":[]}`, &FunctionError{Type: "Runtime", Message: "boom"}},
		{`{"errorMessage":"boom","errorType":"Runtime","cause":{}}`, &FunctionError{Type: "Runtime", Message: "boom"}},
		{`{"errorMessage":"a","errorType":"b","stackTrace":[],"cause":{}}`, nil},
		{`{"errorMessage":"a","errorType":"b","runId":"r-1"}`, nil},
		{`{"errorMessage":"only the message"}`, nil},
		{`{"runId":"r-1","outcome":"completed"}`, nil},
		{`Task timed out after 3.00 seconds`, nil},
		{``, nil},
	}
	for _, tc := range tests {
		if diff := cmp.Diff(tc.want, errorDocument([]byte(tc.body))); diff != "" {
			t.Errorf("%s (-want +got):\n%s", tc.body, diff)
		}
	}
	if !timedOut.MatchString("Task timed out after 900.00 seconds") || timedOut.MatchString(`{"s":"Task timed out after 3.00 seconds"}`) {
		t.Error("timeout pattern")
	}
}

func TestLastFailure(t *testing.T) {
	logs := "02 Dec 2026 14:45:41,351 [ERROR] (rapid) Init failed error=Runtime exited with error: exit status 1 InvokeID=\n" +
		"02 Dec 2026 14:45:41,352 [ERROR] (rapid) Invoke failed InvokeID=5c2b3145 error=Runtime exited with error: exit status 2\n" +
		"02 Dec 2026 14:45:41,352 [ERROR] (rapid) Invoke DONE failed: Sandbox.Failure\n"
	if got, want := lastFailure(logs), "Runtime exited with error: exit status 2"; got != want {
		t.Errorf("lastFailure = %q, want %q", got, want)
	}
	first := "x [ERROR] (rapid) Init failed error=Runtime exited with error: exit status 1 InvokeID=\n"
	if got, want := lastFailure(first), "Runtime exited with error: exit status 1"; got != want {
		t.Errorf("lastFailure = %q, want %q", got, want)
	}
	if got := lastFailure("START RequestId: 1\n"); got != "" {
		t.Errorf("lastFailure of no failure = %q", got)
	}
}
