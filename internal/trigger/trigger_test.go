package trigger_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/keysweep/keysweep/internal/trigger"
)

// A manual payload is read by its exact field names, each at most once: a
// second "mode", or one in another case, could otherwise turn an audit
// request into an enforce run.
func TestManualPayloadIsStrict(t *testing.T) {
	for _, tc := range []struct{ payload, names string }{
		{`{"mode":"audit","MODE":"enforce"}`, `unknown field "MODE"`},
		{`{"mode":"audit","mode":"enforce"}`, `field "mode" given twice`},
		{`{"Mode":"audit"}`, `unknown field "Mode"`},
		{`{"users":["a"],"users":["b"]}`, `field "users" given twice`},
		{`{"target":"Not A Target"}`, "target:"},
		{`{"mode":1}`, "mode:"},
	} {
		t.Run(tc.payload, func(t *testing.T) {
			_, err := trigger.Parse([]byte(tc.payload))
			if !errors.Is(err, trigger.ErrBadEvent) || !strings.Contains(err.Error(), tc.names) {
				t.Errorf("Parse(%s) = %v, want a refusal naming %q", tc.payload, err, tc.names)
			}
		})
	}
	ev, err := trigger.Parse([]byte(`{"mode":"audit","users":["alice"],"eventId":"e-1","target":"otc-prod"}`))
	if err != nil || !ev.AuditOnly || ev.Users[0] != "alice" || ev.EventID != "e-1" || ev.Target != "otc-prod" {
		t.Errorf("a good payload: %+v, %v", ev, err)
	}
}
