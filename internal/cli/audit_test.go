package cli

import (
	"context"
	"encoding/json"
	"os"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/keysweep/keysweep/internal/domain"
	"github.com/keysweep/keysweep/internal/journal"
	"github.com/keysweep/keysweep/internal/wiring"
)

// sweepEnforced stores the enforce policy and sweeps: bob's and carol's
// keys are deactivated, with an intent and an outcome each.
func sweepEnforced(t *testing.T) string {
	t.Helper()
	putPolicy(t, enforcePolicy)
	code, stdout, stderr := cli(t, "sweep", "--output", "json")
	var sum struct {
		RunID string `json:"runId"`
	}
	if code != ExitOK || json.Unmarshal([]byte(stdout), &sum) != nil {
		t.Fatalf("sweep: %d %s %s", code, stdout, stderr)
	}
	return sum.RunID
}

// tamper rewrites one field of a key's first intent record in the table,
// as a role that may update any item could.
func tamper(t *testing.T, key, field, value string) {
	t.Helper()
	j, client := journalOf(t)
	recs, err := j.ByKey(context.Background(), key)
	if err != nil || len(recs) == 0 {
		t.Fatalf("records of %s: %v %v", key, recs, err)
	}
	table := os.Getenv(wiring.EnvAuditTable)
	_, err = client.UpdateItem(context.Background(), &dynamodb.UpdateItemInput{
		TableName: &table,
		Key: map[string]types.AttributeValue{
			"pk": &types.AttributeValueMemberS{Value: "KEY#" + key},
			"sk": &types.AttributeValueMemberS{Value: journal.RecordSK(recs[0])},
		},
		UpdateExpression:          strPtr("SET #f = :v"),
		ExpressionAttributeNames:  map[string]string{"#f": field},
		ExpressionAttributeValues: map[string]types.AttributeValue{":v": &types.AttributeValueMemberS{Value: value}},
	})
	if err != nil {
		t.Fatal(err)
	}
}

func strPtr(s string) *string { return &s }

// TestAuditVerify: --verify checks the hash chain of one key, of every key
// a run touched, or of every key; a rewritten record breaks it (exit 1)
// and is named.
func TestAuditVerify(t *testing.T) {
	_, ids := account(t)
	runID := sweepEnforced(t)

	for _, args := range [][]string{
		{"audit", "--verify", "--key", ids["bob"]},
		{"audit", "--verify", "--run", runID},
		{"audit", "--verify"},
	} {
		code, stdout, stderr := cli(t, args...)
		if code != ExitOK {
			t.Errorf("%v: exit %d\n%s%s", args, code, stdout, stderr)
		}
		wantContains(t, strings.Join(args, " "), stdout, "records checked", "written before the chain existed", "every chain holds")
	}
	code, stdout, _ := cli(t, "audit", "--verify", "--output", "json")
	var sum verifySummary
	if code != ExitOK || json.Unmarshal([]byte(stdout), &sum) != nil || sum.Keys != 2 || sum.Records != 4 || sum.Chained != 4 || sum.Broken != 0 {
		t.Errorf("--verify json: %d %s", code, stdout)
	}

	tamper(t, ids["bob"], "actor", "someone-else")
	for _, args := range [][]string{
		{"audit", "--verify", "--key", ids["bob"]},
		{"audit", "--verify", "--run", runID},
		{"audit", "--verify"},
	} {
		code, stdout, stderr := cli(t, args...)
		if code != ExitFailure {
			t.Errorf("%v after tampering: exit %d, want %d\n%s%s", args, code, ExitFailure, stdout, stderr)
		}
		wantContains(t, strings.Join(args, " "), stdout, "BROKEN "+ids["bob"], "1 broken")
		wantContains(t, strings.Join(args, " "), stderr, "hash chain broken for 1 of")
	}
	// carol's chain still holds on its own.
	if code, stdout, _ := cli(t, "audit", "--verify", "--key", ids["carol"]); code != ExitOK {
		t.Errorf("carol's chain: exit %d\n%s", code, stdout)
	}
	code, stdout, _ = cli(t, "audit", "--verify", "--output", "csv")
	if code != ExitFailure || !strings.HasPrefix(stdout, "KEY,SEQ,RUN,PROBLEM\n"+ids["bob"]+",") {
		t.Errorf("--verify csv: %d\n%s", code, stdout)
	}
	for _, tc := range []struct {
		args []string
		code int
	}{
		{[]string{"audit", "--verify", "--key", "AKIANOSUCHKEY0000001"}, ExitNotFound},
		{[]string{"audit", "--verify", "--run", "r-nope"}, ExitNotFound},
	} {
		if code, _, stderr := cli(t, tc.args...); code != tc.code {
			t.Errorf("%v: exit %d, want %d\n%s", tc.args, code, tc.code, stderr)
		}
	}
}

// TestAuditKeyState: audit --key says where the key is in keysweep's
// lifecycle, and an unknown key is not found.
func TestAuditKeyState(t *testing.T) {
	_, ids := account(t)
	sweepEnforced(t)
	code, stdout, stderr := cli(t, "audit", "--key", ids["bob"])
	if code != ExitOK {
		t.Fatalf("audit --key: %d %s", code, stderr)
	}
	wantContains(t, "audit --key", stderr, "key "+ids["bob"]+" of bob: stage "+domain.StageDeactivated)
	wantContains(t, "audit --key", stdout, "intent", "outcome")
	if code, _, _ := cli(t, "audit", "--key", "AKIANOSUCHKEY0000001"); code != ExitNotFound {
		t.Errorf("unknown key: exit %d", code)
	}
	if code, _, _ := cli(t, "audit", "--user", "nobody", "--account", "123456789012"); code != ExitNotFound {
		t.Errorf("unknown user: exit %d", code)
	}
}
