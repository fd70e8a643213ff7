package workload

// This file is the workload in the emulator: seeding it, making its
// credential report behave as IAM's, and reading every key's state back.

import (
	"bytes"
	"context"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/iam"
)

type seedKey struct {
	CreateDate string  `json:"createDate"`
	LastUsed   *string `json:"lastUsed"`
}

type seedUser struct {
	Name string            `json:"name"`
	Path string            `json:"path"`
	Tags map[string]string `json:"tags,omitempty"`
	Keys []seedKey         `json:"keys"`
}

// Seed creates the workload in the emulator at base (its URL, not the
// proxy's) through the launcher's bulk route, chunk users a request, and
// fills in the key ids.
func (w *Workload) Seed(ctx context.Context, base string, chunk int) error {
	if chunk <= 0 {
		chunk = 5000
	}
	for lo := 0; lo < len(w.Users); lo += chunk {
		part := w.Users[lo:min(lo+chunk, len(w.Users))]
		body := struct {
			Users []seedUser `json:"users"`
		}{}
		for _, u := range part {
			su := seedUser{Name: u.Name, Path: u.Path, Tags: u.Tags}
			for _, k := range u.Keys {
				// RFC3339Nano: whole seconds as RFC 3339, a sub-second
				// creation time (a scenario's) kept.
				sk := seedKey{CreateDate: k.Created.Format(time.RFC3339Nano)}
				if k.LastUsed != nil {
					s := k.LastUsed.Format(time.RFC3339)
					sk.LastUsed = &s
				}
				su.Keys = append(su.Keys, sk)
			}
			body.Users = append(body.Users, su)
		}
		var out struct {
			Keys map[string][]string `json:"keys"`
		}
		if err := control(ctx, base, "iam/seed", body, &out); err != nil {
			return fmt.Errorf("seed users %d-%d: %w", lo+1, lo+len(part), err)
		}
		for _, u := range part {
			ids := out.Keys[u.Name]
			if len(ids) != len(u.Keys) {
				return fmt.Errorf("seed %s: got %d key ids, want %d", u.Name, len(ids), len(u.Keys))
			}
			for i, id := range ids {
				u.Keys[i].ID = id
			}
		}
	}
	return nil
}

// TakeReport makes the emulator's credential report behave like IAM's (a
// snapshot reused for four hours) and takes the snapshot now, through
// client (pointed at the emulator, not the proxy, so it is not counted).
func TakeReport(ctx context.Context, base string, client *iam.Client) error {
	if err := control(ctx, base, "iam/report", map[string]any{"mode": "snapshot"}, nil); err != nil {
		return err
	}
	if _, err := client.GenerateCredentialReport(ctx, &iam.GenerateCredentialReportInput{}); err != nil {
		return fmt.Errorf("take the report snapshot: %w", err)
	}
	return nil
}

// ExpireReport makes the emulator's credential report behave as IAM's does
// the day after a run: the report is older than four hours, so the next
// GenerateCredentialReport starts a new one (STARTED) and the one after
// finds it COMPLETE.
func ExpireReport(ctx context.Context, base string) error {
	return control(ctx, base, "iam/report", map[string]any{"mode": "snapshot", "refresh": true}, nil)
}

// MarkUsedAfterReport records a use a minute ago of every UsedAfterReport
// key: call it after TakeReport, so the report still shows them stale.
func (w *Workload) MarkUsedAfterReport(ctx context.Context, base string) error {
	t := time.Now().UTC().Add(-time.Minute).Truncate(time.Second)
	for _, k := range w.Keys() {
		if k.Category != UsedAfterReport {
			continue
		}
		if err := control(ctx, base, "iam/keys/"+k.ID, map[string]any{"lastUsed": t.Format(time.RFC3339)}, nil); err != nil {
			return err
		}
		k.LastUsed = &t
	}
	return nil
}

// Reset empties the emulator (IAM, DynamoDB, report mode).
func Reset(ctx context.Context, base string) error {
	return control(ctx, base, "reset", struct{}{}, nil)
}

// Key states State reports.
const (
	StateActive   = "Active"
	StateInactive = "Inactive"
	StateDeleted  = "Deleted"
)

// State reads every seeded key's state now from a live credential report
// (two calls through client, which must point at the emulator itself):
// Active, Inactive or Deleted, by key id. The report has no key ids; a
// user's keys are told apart by creation second (the report has no
// fractions of one), which Generate keeps distinct.
func (w *Workload) State(ctx context.Context, base string, client *iam.Client) (map[string]string, error) {
	if err := control(ctx, base, "iam/report", map[string]any{"mode": "live"}, nil); err != nil {
		return nil, err
	}
	if _, err := client.GenerateCredentialReport(ctx, &iam.GenerateCredentialReportInput{}); err != nil {
		return nil, fmt.Errorf("generate report: %w", err)
	}
	out, err := client.GetCredentialReport(ctx, &iam.GetCredentialReportInput{})
	if err != nil {
		return nil, fmt.Errorf("get report: %w", err)
	}
	r := csv.NewReader(bytes.NewReader(out.Content))
	header, err := r.Read()
	if err != nil {
		return nil, fmt.Errorf("report header: %w", err)
	}
	col := map[string]int{}
	for i, h := range header {
		col[h] = i
	}
	type slot struct {
		active  bool
		created time.Time
	}
	seen := map[string][]slot{}
	for {
		rec, err := r.Read()
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("report: %w", err)
		}
		for _, s := range []string{"access_key_1", "access_key_2"} {
			t, err := time.Parse(time.RFC3339, rec[col[s+"_last_rotated"]])
			if err != nil {
				continue // N/A: no key in this slot
			}
			seen[rec[col["user"]]] = append(seen[rec[col["user"]]], slot{rec[col[s+"_active"]] == "true", t.UTC()})
		}
	}
	states := map[string]string{}
	for _, u := range w.Users {
		for _, k := range u.Keys {
			states[k.ID] = StateDeleted
			for _, s := range seen[u.Name] {
				if s.created.Equal(k.Created.Truncate(time.Second)) {
					states[k.ID] = map[bool]string{true: StateActive, false: StateInactive}[s.active]
				}
			}
		}
	}
	return states, nil
}

// control calls one of the launcher's /_keysweep/ routes.
func control(ctx context.Context, base, route string, in, out any) error {
	b, err := json.Marshal(in)
	if err != nil {
		return err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, strings.TrimSuffix(base, "/")+"/_keysweep/"+route, bytes.NewReader(b))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return fmt.Errorf("emulator %s: %w", route, err)
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	if err != nil {
		return fmt.Errorf("emulator %s: %w", route, err)
	}
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("emulator %s: %s: %s", route, resp.Status, raw)
	}
	if out != nil {
		if err := json.Unmarshal(raw, out); err != nil {
			return fmt.Errorf("emulator %s: decode: %w", route, err)
		}
	}
	return nil
}

// IAMClient returns an IAM client on cfg whose endpoint is base.
func IAMClient(cfg aws.Config, base string) *iam.Client {
	return iam.NewFromConfig(cfg, func(o *iam.Options) { o.BaseEndpoint = aws.String(base) })
}
