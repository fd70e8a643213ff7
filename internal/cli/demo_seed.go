package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	"github.com/aws/aws-sdk-go-v2/service/iam/types"
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
	{name: "heidi", path: "/", keys: []demoKey{{80, 3, false}}, story: "80 days old: stale by age within two weeks (the report's forecast)"},
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
			if err := seedKey(ctx, c, url, now, u.name, k); err != nil {
				return err
			}
		}
		fmt.Fprintf(stdout, "   %-11s %-10s %s\n", u.name, u.path, u.story)
	}
	return nil
}

func seedKey(ctx context.Context, c *iam.Client, url string, now time.Time, user string, k demoKey) error {
	out, err := c.CreateAccessKey(ctx, &iam.CreateAccessKeyInput{UserName: aws.String(user)})
	if err != nil {
		return fmt.Errorf("seed key of %s: %w", user, err)
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
		_, err := c.UpdateAccessKey(ctx, &iam.UpdateAccessKeyInput{UserName: aws.String(user), AccessKeyId: aws.String(id), Status: types.StatusTypeInactive})
		return err
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
