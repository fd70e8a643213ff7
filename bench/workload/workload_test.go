package workload

import (
	"context"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	"github.com/aws/aws-sdk-go-v2/service/iam/types"
	"github.com/google/go-cmp/cmp"

	"github.com/keysweep/keysweep/internal/testenv"
	"github.com/keysweep/keysweep/policy"
)

func TestGenerateW(t *testing.T) {
	now := time.Date(2026, 11, 22, 8, 0, 0, 0, time.UTC)
	w := Generate(Spec{Users: 10_000, Seed: 1, Now: now})
	want := map[Category]int{
		StaleAge:      200,
		StaleInactive: 200,
		NeverUsedOld:  100,
		ExemptStale:   100,
		ExemptFresh:   100,
		Fresh:         20_000 - 700,
	}
	if diff := cmp.Diff(want, w.Counts()); diff != "" {
		t.Errorf("counts (-want +got):\n%s", diff)
	}
	// Every key gets the verdict its category promises from the policy
	// itself, judged with full facts, and two keys of a user never share a
	// creation second.
	p := Policy(20_000)
	wantVerdict := map[Category]policy.Verdict{
		Fresh: policy.Keep, StaleAge: policy.Deactivate, StaleInactive: policy.Deactivate,
		NeverUsedOld: policy.Deactivate, ExemptStale: policy.Exempt, ExemptFresh: policy.Exempt,
	}
	for _, u := range w.Users {
		if u.Keys[0].Created.Equal(u.Keys[1].Created) {
			t.Errorf("%s: both keys created at %v", u.Name, u.Keys[0].Created)
		}
		for _, k := range u.Keys {
			if k.LastUsed != nil && !k.LastUsed.After(k.Created) {
				t.Errorf("%s %s: used %v before its creation %v", u.Name, k.Category, k.LastUsed, k.Created)
			}
			// A run may start hours after seeding: judge then too.
			for _, at := range []time.Time{now, now.Add(6 * time.Hour)} {
				d := p.Evaluate(policy.Key{UserName: u.Name, UserPath: u.Path, UserTags: u.Tags, Status: policy.StatusActive,
					CreatedAt: k.Created, LastUsedAt: k.LastUsed}, at)
				if d.Verdict != wantVerdict[k.Category] {
					t.Errorf("%s %s at %v: %s (%s), want %s", u.Name, k.Category, at, d.Verdict, d.Reason, wantVerdict[k.Category])
				}
			}
		}
	}
	if again := Generate(Spec{Users: 10_000, Seed: 1, Now: now}); !cmp.Equal(w.Users, again.Users) {
		t.Error("the same spec gave another layout")
	}
}

// The steady state's layout: no newly stale key, W's exempt users only;
// their stale keys are the only ones the report shows stale.
func TestGenerateNothingStale(t *testing.T) {
	w := Generate(Spec{Users: 1000, Seed: 1, StaleScale: 2, NothingStale: true})
	want := map[Category]int{ExemptStale: 10, ExemptFresh: 10, Fresh: 1980}
	if diff := cmp.Diff(want, w.Counts()); diff != "" {
		t.Errorf("counts (-want +got):\n%s", diff)
	}
	stale := 0
	for _, k := range w.Keys() {
		if k.Category.ReportStale() {
			stale++
		}
	}
	if stale != 10 || len(w.WantActed()) != 0 {
		t.Errorf("report-stale keys %d, keys to act on %d; want 10 and 0", stale, len(w.WantActed()))
	}
}

// A hand-made account gets the dates its categories promise.
func TestLayout(t *testing.T) {
	now := time.Date(2026, 11, 22, 8, 0, 0, 0, time.UTC)
	w := Layout(Spec{Seed: 1, Now: now}, []UserLayout{
		{Name: "alice", Keys: []Category{ExemptID, StaleInactive}},
		{Name: "bob", Tags: map[string]string{ExemptTag: "true"}, Keys: []Category{ExemptStale, ExemptFresh}},
	})
	p := Policy(4)
	want := map[Category]policy.Verdict{ExemptID: policy.Deactivate, StaleInactive: policy.Deactivate, ExemptStale: policy.Exempt, ExemptFresh: policy.Exempt}
	for _, u := range w.Users {
		for _, k := range u.Keys {
			d := p.Evaluate(policy.Key{UserName: u.Name, UserTags: u.Tags, Status: policy.StatusActive, CreatedAt: k.Created, LastUsedAt: k.LastUsed}, now)
			if d.Verdict != want[k.Category] {
				t.Errorf("%s %s: %s (%s), want %s (without the key id exemption)", u.Name, k.Category, d.Verdict, d.Reason, want[k.Category])
			}
		}
	}
	if diff := cmp.Diff(map[Category]int{ExemptID: 1, StaleInactive: 1, ExemptStale: 1, ExemptFresh: 1}, w.Counts()); diff != "" {
		t.Errorf("counts (-want +got):\n%s", diff)
	}
}

// Seed, then read the state back after changing two keys through IAM.
func TestSeedAndState(t *testing.T) {
	emu := testenv.Emulator(t)
	emu.Reset(t)
	ctx := context.Background()
	w := Generate(Spec{Users: 300, Seed: 7, UsedAfterReport: 3})
	if err := w.Seed(ctx, emu.URL, 120); err != nil {
		t.Fatal(err)
	}
	client := IAMClient(emu.Config(t), emu.URL)
	keys := w.Keys()
	if len(keys) != 600 || keys[0].ID == "" {
		t.Fatalf("seeded %d keys, first id %q", len(keys), keys[0].ID)
	}
	// The seeded facts are what IAM answers.
	k := keys[0]
	out, err := client.ListAccessKeys(ctx, &iam.ListAccessKeysInput{UserName: aws.String(k.User)})
	if err != nil {
		t.Fatal(err)
	}
	if got := out.AccessKeyMetadata[0]; aws.ToString(got.AccessKeyId) != k.ID || !got.CreateDate.Equal(k.Created) {
		t.Errorf("first key: %s created %v; want %s created %v", aws.ToString(got.AccessKeyId), got.CreateDate, k.ID, k.Created)
	}
	tags, err := client.ListUserTags(ctx, &iam.ListUserTagsInput{UserName: aws.String(w.Users[0].Name)})
	if err != nil {
		t.Fatal(err)
	}
	if len(tags.Tags) != len(w.Users[0].Tags) {
		t.Errorf("tags of %s: %v, want %v", w.Users[0].Name, tags.Tags, w.Users[0].Tags)
	}

	if err := TakeReport(ctx, emu.URL, client); err != nil {
		t.Fatal(err)
	}
	if err := w.MarkUsedAfterReport(ctx, emu.URL); err != nil {
		t.Fatal(err)
	}
	for _, k := range keys {
		if k.Category == UsedAfterReport {
			lu, err := client.GetAccessKeyLastUsed(ctx, &iam.GetAccessKeyLastUsedInput{AccessKeyId: aws.String(k.ID)})
			if err != nil {
				t.Fatal(err)
			}
			if d := time.Since(*lu.AccessKeyLastUsed.LastUsedDate); d > 10*time.Minute {
				t.Errorf("%s: last used %v ago, want about a minute", k.ID, d)
			}
		}
	}

	if _, err := client.UpdateAccessKey(ctx, &iam.UpdateAccessKeyInput{UserName: aws.String(keys[1].User), AccessKeyId: aws.String(keys[1].ID), Status: types.StatusTypeInactive}); err != nil {
		t.Fatal(err)
	}
	if _, err := client.DeleteAccessKey(ctx, &iam.DeleteAccessKeyInput{UserName: aws.String(keys[2].User), AccessKeyId: aws.String(keys[2].ID)}); err != nil {
		t.Fatal(err)
	}
	st, err := w.State(ctx, emu.URL, client)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{}
	for _, k := range keys {
		want[k.ID] = StateActive
	}
	want[keys[1].ID] = StateInactive
	want[keys[2].ID] = StateDeleted
	if diff := cmp.Diff(want, st); diff != "" {
		t.Errorf("state (-want +got):\n%s", diff)
	}
}
