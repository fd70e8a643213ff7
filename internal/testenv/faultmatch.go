package testenv

import (
	"net/http"
	"testing"
)

// FaultMatching is Fault for only the requests whose URL-decoded body
// contains match, e.g. "STS.AssumeRole" of one account's role ARN: the
// emulator lets any role be assumed, so a role that cannot be has to be
// made. It replaces any faults set before.
func (e *Emu) FaultMatching(t testing.TB, op, code string, status, count int, match string) {
	t.Helper()
	spec := map[string]any{"code": code, "message": "injected by test", "status": status, "match": match}
	if count > 0 {
		spec["count"] = count
	}
	e.control(t, http.MethodPost, "faults", map[string]any{op: spec}, nil)
}
