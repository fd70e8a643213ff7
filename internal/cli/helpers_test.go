package cli

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/attributevalue"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/aws-sdk-go-v2/service/iam"

	"github.com/keysweep/keysweep/internal/journal/dynamo"
	"github.com/keysweep/keysweep/internal/keystore/awsiam"
	"github.com/keysweep/keysweep/internal/testenv"
	"github.com/keysweep/keysweep/internal/wiring"
)

// cli runs the CLI in-process and returns its exit code and output.
func cli(t *testing.T, args ...string) (int, string, string) {
	t.Helper()
	var out, errb bytes.Buffer
	code := Run(context.Background(), args, &out, &errb)
	return code, out.String(), errb.String()
}

// testStreams are streams on buffers, for the run functions.
func testStreams() (*streams, *bytes.Buffer, *bytes.Buffer) {
	var out, errb bytes.Buffer
	return &streams{out: &out, err: &errb, log: slog.New(slog.NewTextHandler(&errb, nil))}, &out, &errb
}

// emulator starts the emulator (skipped by -short) and empties it.
func emulator(t *testing.T) *testenv.Emu {
	t.Helper()
	if testing.Short() {
		t.Skip("needs the emulator; run without -short")
	}
	emu := testenv.Emulator(t)
	emu.Reset(t)
	return emu
}

var seq atomic.Int64

// tables names fresh tables in the environment, as a user would before
// running the CLI, and creates them with the CLI.
func tables(t *testing.T, prefix string) {
	t.Helper()
	n := seq.Add(1)
	t.Setenv(wiring.EnvPolicyTable, fmt.Sprintf("%s-policy-%d", prefix, n))
	t.Setenv(wiring.EnvAuditTable, fmt.Sprintf("%s-audit-%d", prefix, n))
	if code, _, stderr := cli(t, "tables", "create"); code != 0 {
		t.Fatalf("tables create: %d %s", code, stderr)
	}
}

// account sets up the emulator with tables named in the environment and
// three users: alice (a fresh key), bob (400 days old) and carol (never
// used in 60 days).
func account(t *testing.T) (*iam.Client, map[string]string) {
	t.Helper()
	emu := emulator(t)
	tables(t, "cli")
	client := wiring.NewDepsFromConfig(emu.Config(t), wiring.Config{}, awsiam.Options{}).IAM
	ids := map[string]string{}
	now := time.Now().UTC()
	for _, u := range []struct {
		name          string
		age, lastUsed int
	}{{"alice", 10, 1}, {"bob", 400, 1}, {"carol", 60, -1}} {
		ids[u.name] = addUser(t, emu, client, u.name, u.age, u.lastUsed, now)
	}
	return client, ids
}

// addUser creates a user with one key of the given age and last use in
// days (-1: never used) and returns the key's id.
func addUser(t *testing.T, emu *testenv.Emu, client *iam.Client, name string, age, lastUsed int, now time.Time) string {
	t.Helper()
	ctx := context.Background()
	if _, err := client.CreateUser(ctx, &iam.CreateUserInput{UserName: aws.String(name)}); err != nil {
		t.Fatal(err)
	}
	out, err := client.CreateAccessKey(ctx, &iam.CreateAccessKeyInput{UserName: aws.String(name)})
	if err != nil {
		t.Fatal(err)
	}
	id := aws.ToString(out.AccessKey.AccessKeyId)
	var last *time.Time
	if lastUsed >= 0 {
		l := now.Add(-time.Duration(lastUsed) * 24 * time.Hour)
		last = &l
	}
	emu.SetKey(t, id, now.Add(-time.Duration(age)*24*time.Hour), last)
	return id
}

// journal is the audit table the environment names.
func journalOf(t *testing.T) (*dynamo.Journal, *dynamodb.Client) {
	t.Helper()
	client := dynamodb.NewFromConfig(testenv.Emulator(t).Config(t))
	return dynamo.New(client, dynamo.Options{AuditTable: os.Getenv(wiring.EnvAuditTable), PolicyTable: os.Getenv(wiring.EnvPolicyTable)}), client
}

// keyStatus is the key's IAM status, or "gone".
func keyStatus(t *testing.T, client *iam.Client, user, id string) string {
	t.Helper()
	out, err := client.ListAccessKeys(context.Background(), &iam.ListAccessKeysInput{UserName: aws.String(user)})
	if err != nil {
		t.Fatal(err)
	}
	for _, k := range out.AccessKeyMetadata {
		if aws.ToString(k.AccessKeyId) == id {
			return string(k.Status)
		}
	}
	return "gone"
}

// ddbPutRawPolicy stores a policy item as is, bypassing validation, as
// someone editing the table in the console could.
func ddbPutRawPolicy(t *testing.T, item map[string]any) {
	t.Helper()
	_, client := journalOf(t)
	av, err := attributevalue.MarshalMap(item)
	if err != nil {
		t.Fatal(err)
	}
	av["id"] = &types.AttributeValueMemberS{Value: "default"}
	table := os.Getenv(wiring.EnvPolicyTable)
	if _, err := client.PutItem(context.Background(), &dynamodb.PutItemInput{TableName: &table, Item: av}); err != nil {
		t.Fatal(err)
	}
}

func writeFile(t *testing.T, name, content string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// putPolicy stores the policy document given as YAML through the CLI.
func putPolicy(t *testing.T, doc string) {
	t.Helper()
	if code, _, stderr := cli(t, "policy", "put", writeFile(t, "policy.yaml", doc)); code != 0 {
		t.Fatalf("policy put: %d %s", code, stderr)
	}
}

func wantContains(t *testing.T, what, got string, wants ...string) {
	t.Helper()
	for _, w := range wants {
		if !strings.Contains(got, w) {
			t.Errorf("%s lacks %q:\n%s", what, w, got)
		}
	}
}

const enforcePolicy = `
version: cli-1
mode: enforce
maxKeyAgeDays: 90
maxInactiveDays: 45
deleteAfterDays: 7
blastRadius: {maxPercent: 100}
`
