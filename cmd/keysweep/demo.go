package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	"github.com/aws/aws-sdk-go-v2/service/iam/types"

	"github.com/keysweep/keysweep/app"
	"github.com/keysweep/keysweep/awsiam"
	"github.com/keysweep/keysweep/internal/testenv"
	"github.com/keysweep/keysweep/policy"
	"github.com/keysweep/keysweep/sweep"
)

// demoPolicy is the enforce-mode policy the demo stores after its first,
// policy-less run.
const demoPolicy = `
version: demo-1
mode: enforce
maxKeyAgeDays: 90
maxInactiveDays: 45
deleteAfterDays: 7
blastRadius: {maxActions: 25, maxPercent: 60}
exemptions:
  users: [break-glass]
  tag: keysweep:exempt
overrides:
  - name: service-users
    pathPrefix: /service/
    maxKeyAgeDays: 0
    maxInactiveDays: 30
`

// demoKey is one seeded access key: its age and last use in days (-1: never).
type demoKey struct {
	ageDays, lastUsedDays int
	inactive              bool
}

type demoUser struct {
	name, path string
	tags       map[string]string
	keys       []demoKey
	story      string
}

var demoUsers = []demoUser{
	{name: "alice", path: "/", keys: []demoKey{{30, 1, false}}, story: "fresh key used yesterday: kept"},
	{name: "bob", path: "/", keys: []demoKey{{400, 1, false}}, story: "400-day-old key still in use: stale by age"},
	{name: "carol", path: "/", keys: []demoKey{{60, -1, false}}, story: "never used in 60 days: stale by inactivity"},
	{name: "dave", path: "/", tags: map[string]string{"keysweep:exempt": "true"}, keys: []demoKey{{500, -1, false}}, story: "tagged keysweep:exempt=true: exempt"},
	{name: "erin", path: "/", keys: []demoKey{{200, 100, false}, {10, 0, false}}, story: "one stale key and one fresh: only the stale one goes"},
	{name: "svc-build", path: "/service/", keys: []demoKey{{300, 2, false}}, story: "service user, old but used: kept by the override"},
	{name: "svc-legacy", path: "/service/", keys: []demoKey{{120, 40, false}}, story: "service user unused for 40 days: stale under the override's 30"},
	{name: "frank", path: "/", keys: []demoKey{{200, 150, true}}, story: "already inactive and stale: delete clock starts"},
	{name: "grace", path: "/", tags: map[string]string{"keysweep:exempt": "2099-01-01T00:00:00Z"}, keys: []demoKey{{400, 200, false}}, story: "exempt until 2099"},
}

func cmdDemo(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("demo", "demo [--keep]", stdout)
	keep := fs.Bool("keep", false, "leave the emulator running at the end and print how to reach it (Ctrl-C stops it)")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	python, err := testenv.FindPython()
	if err != nil {
		return err
	}
	fmt.Fprintln(stdout, "== Starting the local AWS emulator (moto) on loopback")
	url, stop, err := testenv.StartLauncher(ctx, python)
	if err != nil {
		return err
	}
	defer stop()
	for k, v := range map[string]string{
		"AWS_ENDPOINT_URL": url, "AWS_REGION": "us-east-1", "AWS_ACCESS_KEY_ID": "testing",
		"AWS_SECRET_ACCESS_KEY": "testing", "AWS_EC2_METADATA_DISABLED": "true",
	} {
		os.Setenv(k, v)
	}
	os.Unsetenv("AWS_PROFILE")
	os.Unsetenv("AWS_SESSION_TOKEN")
	cfg := app.Config{PolicyTable: "keysweep-policy", AuditTable: "keysweep-audit", PolicyID: "default", Retention: app.DefaultRetentionDays * 24 * time.Hour}
	d, err := app.NewDeps(ctx, cfg, awsiam.Options{PollInterval: 200 * time.Millisecond})
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "   emulator at %s; tables %s and %s\n", url, cfg.PolicyTable, cfg.AuditTable)
	if err := cmdTables(ctx, []string{"create", "--policy-table", cfg.PolicyTable, "--audit-table", cfg.AuditTable}, io.Discard, stderr); err != nil {
		return err
	}

	fmt.Fprintln(stdout, "\n== Seeding a sample account")
	now := time.Now().UTC()
	if err := seedDemo(ctx, d.IAM, url, now, stdout); err != nil {
		return err
	}

	sweeper := func(clock func() time.Time) *app.Sweeper {
		return &app.Sweeper{
			Engine:   &sweep.Engine{Provider: d.Provider, Journal: d.Store, Now: clock},
			Policies: d.Store,
			PolicyID: cfg.PolicyID,
		}
	}
	invoke := func(title string, h *app.Sweeper, event []byte) (*app.Summary, error) {
		fmt.Fprintf(stdout, "\n== %s\n", title)
		ctx, cancel := lambdaContext(ctx)
		defer cancel()
		sum, err := h.Handle(ctx, event)
		if sum == nil {
			return nil, err
		}
		fmt.Fprintf(stdout, "run %s: %s, mode %s, policy %s (%s); %s\n", sum.RunID, sum.Outcome, sum.Mode, sum.PolicyVersion, sum.PolicySource, countsLine(sum.Counts))
		for _, n := range sum.Notes {
			fmt.Fprintf(stdout, "note: %s\n", n)
		}
		if len(sum.Actions) > 0 {
			_ = writeDecisions(stdout, "table", sum.Actions, now)
		}
		return sum, err
	}

	ev1 := scheduledEvent(now)
	if _, err := invoke("Sweep 1: scheduled event, no policy stored yet (safe default: audit only)", sweeper(nil), ev1); err != nil {
		return err
	}

	p, err := policy.Parse([]byte(demoPolicy))
	if err != nil {
		return err
	}
	if err := d.Store.PutPolicy(ctx, cfg.PolicyID, p, "keysweep demo"); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "\n== Stored an enforce-mode policy (version %s): limits 90 days old / 45 days unused, /service/ users 30 days unused, delete 7 days after deactivation\n", p.Version)

	ev2 := scheduledEvent(now.Add(time.Minute))
	sum2, err := invoke("Sweep 2: next scheduled event, policy enforced through the Lambda handler", sweeper(nil), ev2)
	if err != nil {
		return err
	}
	if _, err := invoke("Sweep 2 again: EventBridge delivers the same event twice", sweeper(nil), ev2); err != nil {
		return err
	}
	later := now.Add(8 * 24 * time.Hour)
	ev3 := scheduledEvent(later)
	if _, err := invoke("Sweep 3: eight days later, the deactivated keys are deleted", sweeper(func() time.Time { return later }), ev3); err != nil {
		return err
	}

	fmt.Fprintf(stdout, "\n== Audit trail of sweep 2 (keysweep audit --run %s)\n", sum2.RunID)
	recs, err := d.Store.ByRun(ctx, sum2.RunID)
	if err != nil {
		return err
	}
	_ = writeRecords(stdout, "table", recs)
	for _, a := range sum2.Actions {
		if a.UserName == "bob" {
			fmt.Fprintf(stdout, "\n== History of bob's key (keysweep audit --key %s)\n", a.AccessKeyID)
			recs, err := d.Store.ByKey(ctx, a.AccessKeyID)
			if err != nil {
				return err
			}
			_ = writeRecords(stdout, "table", recs)
		}
	}
	if *keep {
		fmt.Fprintf(stdout, "\nThe emulator keeps running. In another shell:\n  export AWS_ENDPOINT_URL=%s AWS_REGION=us-east-1 AWS_ACCESS_KEY_ID=testing AWS_SECRET_ACCESS_KEY=testing POLICY_TABLE=%s AUDIT_TABLE=%s\n  go run ./cmd/keysweep plan --all\nCtrl-C stops it.\n", url, cfg.PolicyTable, cfg.AuditTable)
		<-ctx.Done()
	}
	fmt.Fprintln(stdout, "\nDone: the emulator stops now; nothing outside this machine was touched.")
	return nil
}

// scheduledEvent is an EventBridge scheduled event as the schedule rule
// sends it (the shape of events/schedule.json), with a fresh id.
func scheduledEvent(at time.Time) []byte {
	ev := events.CloudWatchEvent{
		Version: "0", ID: fmt.Sprintf("demo-%d", at.UnixNano()), DetailType: "Scheduled Event", Source: "aws.events",
		AccountID: "123456789012", Time: at, Region: "us-east-1",
		Resources: []string{"arn:aws:events:us-east-1:123456789012:rule/keysweep-schedule"},
		Detail:    json.RawMessage(`{}`),
	}
	b, _ := json.Marshal(ev)
	return b
}

func seedDemo(ctx context.Context, c *iam.Client, url string, now time.Time, stdout io.Writer) error {
	for _, u := range demoUsers {
		in := &iam.CreateUserInput{UserName: aws.String(u.name), Path: aws.String(u.path)}
		for k, v := range u.tags {
			in.Tags = append(in.Tags, types.Tag{Key: aws.String(k), Value: aws.String(v)})
		}
		if _, err := c.CreateUser(ctx, in); err != nil {
			return fmt.Errorf("seed user %s: %w", u.name, err)
		}
		for _, k := range u.keys {
			out, err := c.CreateAccessKey(ctx, &iam.CreateAccessKeyInput{UserName: aws.String(u.name)})
			if err != nil {
				return fmt.Errorf("seed key of %s: %w", u.name, err)
			}
			id := aws.ToString(out.AccessKey.AccessKeyId)
			body := map[string]any{"createDate": now.Add(-time.Duration(k.ageDays) * 24 * time.Hour).Format(time.RFC3339)}
			if k.lastUsedDays >= 0 {
				body["lastUsed"] = now.Add(-time.Duration(k.lastUsedDays)*24*time.Hour - time.Hour).Format(time.RFC3339)
			} else {
				body["lastUsed"] = nil
			}
			if err := control(ctx, url+"/_keysweep/iam/keys/"+id, body); err != nil {
				return err
			}
			if k.inactive {
				if _, err := c.UpdateAccessKey(ctx, &iam.UpdateAccessKeyInput{UserName: aws.String(u.name), AccessKeyId: aws.String(id), Status: types.StatusTypeInactive}); err != nil {
					return err
				}
			}
		}
		fmt.Fprintf(stdout, "   %-11s %-10s %s\n", u.name, u.path, u.story)
	}
	return nil
}

// control calls one of the emulator launcher's test-only routes.
func control(ctx context.Context, url string, body any) error {
	b, _ := json.Marshal(body)
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(b))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		msg, _ := io.ReadAll(io.LimitReader(resp.Body, 1024))
		return fmt.Errorf("emulator control %s: %s: %s", url, resp.Status, msg)
	}
	return nil
}
