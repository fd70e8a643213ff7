package cli

import (
	"context"
	"encoding/json"
	"strings"
	"testing"

	"github.com/keysweep/keysweep/internal/domain"
	"github.com/keysweep/keysweep/internal/httpapi"
)

// TestRevokeAndKeyCommands: revoke and key call the engine with the API's
// checks and records, and answer with the CLI's exit codes.
func TestRevokeAndKeyCommands(t *testing.T) {
	client, ids := account(t)
	bob := ids["bob"]

	code, stdout, stderr := cli(t, "key", bob)
	if code != ExitOK {
		t.Fatalf("key: %d\n%s%s", code, stdout, stderr)
	}
	wantContains(t, "key", stdout, "key "+bob+" of bob", "no audit records", "decides deactivate")
	code, stdout, stderr = cli(t, "revoke", bob, "--deactivate", "--reason", "found in a log")
	if code != ExitOK || !strings.Contains(stdout, "deactivated access key "+bob) {
		t.Fatalf("revoke --deactivate: %d\n%s%s", code, stdout, stderr)
	}
	if got := keyStatus(t, client, "bob", bob); got != "Inactive" {
		t.Errorf("status %s after --deactivate", got)
	}
	code, stdout, _ = cli(t, "revoke", bob, "--output", "json")
	var rev struct {
		Outcome, Actor, Action string
		Records                []domain.Record
	}
	if err := json.Unmarshal([]byte(stdout), &rev); err != nil || code != ExitOK {
		t.Fatalf("revoke --output json: %d %v\n%s", code, err, stdout)
	}
	if rev.Outcome != "done" || rev.Action != "delete" || rev.Actor != "cli:"+osUser() || keyStatus(t, client, "bob", bob) != "gone" {
		t.Errorf("answer %+v", rev)
	}
	code, stdout, _ = cli(t, "revoke", bob)
	if code != ExitOK || !strings.Contains(stdout, "no longer exists") {
		t.Errorf("revoking a deleted key: %d\n%s", code, stdout)
	}
	code, stdout, _ = cli(t, "key", bob, "--output", "json")
	if code != ExitOK || !strings.Contains(stdout, `"exists": false`) {
		t.Errorf("key of a deleted key: %d\n%s", code, stdout)
	}
	code, stdout, _ = cli(t, "key", bob)
	if code != ExitOK || !strings.Contains(stdout, "chain:      holds (4 records") {
		t.Errorf("key shows its chain: %d\n%s", code, stdout)
	}
	j, _ := journalOf(t)
	recs, err := j.ByKey(context.Background(), bob)
	if err != nil || len(recs) != 4 {
		t.Fatalf("records %v, %v", recs, err)
	}
	if recs[0].Actor != "cli:"+osUser() || !strings.Contains(recs[0].Reason, "found in a log") {
		t.Errorf("first record %+v", recs[0])
	}

	for _, tc := range []struct {
		args []string
		code int
	}{
		{[]string{"key", "AKIANOSUCHKEY0000001"}, ExitNotFound},
		{[]string{"revoke", "AKIANOSUCHKEY0000001"}, ExitNotFound},
		{[]string{"revoke", "AKIA-SHORT"}, ExitUsage},
		{[]string{"revoke", ids["alice"], "--reason", strings.Repeat("x", httpapi.MaxReasonChars+1)}, ExitUsage},
		{[]string{"revoke", ids["alice"], "--output", "csv"}, ExitUsage},
		{[]string{"revoke", ids["alice"], "--target", "nope"}, ExitUsage},
		{[]string{"revoke"}, ExitUsage},
		{[]string{"key", "a", "b"}, ExitUsage},
	} {
		t.Run(strings.Join(tc.args, "_")[:min(40, len(strings.Join(tc.args, "_")))], func(t *testing.T) {
			if code, stdout, stderr := cli(t, tc.args...); code != tc.code {
				t.Errorf("exit %d, want %d\n%s%s", code, tc.code, stdout, stderr)
			}
		})
	}
	// An unknown key with --output json answers the API's error body.
	code, stdout, _ = cli(t, "key", "AKIANOSUCHKEY0000001", "--output", "json")
	var eb httpapi.ErrorBody
	if code != ExitNotFound || json.Unmarshal([]byte(stdout), &eb) != nil || eb.Error.Code != "key_not_found" {
		t.Errorf("unknown key as json: %d %s", code, stdout)
	}
	if got := keyStatus(t, client, "alice", ids["alice"]); got != "Active" {
		t.Errorf("bad input changed alice's key: %s", got)
	}
}

// TestRevokeWithInvalidStoredPolicy: an invalid stored policy does not
// stop a revocation; the key is revoked unjudged, and the answer says so.
func TestRevokeWithInvalidStoredPolicy(t *testing.T) {
	client, ids := account(t)
	ddbPutRawPolicy(t, map[string]any{"version": "broken", "mode": "enforced", "maxKeyAgeDays": -3})
	code, stdout, stderr := cli(t, "revoke", ids["carol"], "--deactivate")
	if code != ExitOK || keyStatus(t, client, "carol", ids["carol"]) != "Inactive" {
		t.Fatalf("revoke: %d\n%s%s", code, stdout, stderr)
	}
	if code, stdout, _ := cli(t, "key", ids["carol"]); code != ExitOK || !strings.Contains(stdout, "not judged") {
		t.Errorf("key: %d\n%s", code, stdout)
	}
}
