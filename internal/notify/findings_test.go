package notify

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/securityhub"
	"github.com/aws/aws-sdk-go-v2/service/securityhub/types"
	"github.com/google/go-cmp/cmp"

	"github.com/keysweep/keysweep/internal/domain"
)

var (
	_ SecurityHubAPI = (*securityhub.Client)(nil)
	_ WorkflowAPI    = (*securityhub.Client)(nil)
)

// clock is a test clock that moves by step on every call.
func clock(start time.Time, step time.Duration) func() time.Time {
	var mu sync.Mutex
	now := start
	return func() time.Time {
		mu.Lock()
		defer mu.Unlock()
		now = now.Add(step)
		return now
	}
}

// runNow is the test's "now": 2026-12-11, ten days after the AWS key's stale date.
var runNow = time.Date(2026, 12, 11, 6, 0, 0, 0, time.UTC)

func awsKeyFinding() KeyFinding {
	f := awsFacts()
	return KeyFinding{
		Provider: f.Provider, Account: f.Account, Target: f.Target, User: f.User, KeyID: f.KeyID,
		Status: f.Status, CreatedAt: f.CreatedAt, LastUsedAt: f.LastUsedAt, Reason: f.Reason, Rule: f.Rule,
		StaleAt: f.StaleAt, PolicyVersion: f.PolicyVersion, RunID: f.RunID, FirstSeen: f.StaleAt.Add(-14 * 24 * time.Hour),
	}
}

// counting passes calls to Security Hub and keeps the batch sizes.
type counting struct {
	SecurityHubAPI
	mu      sync.Mutex
	batches []int
}

func (c *counting) BatchImportFindings(ctx context.Context, in *securityhub.BatchImportFindingsInput, opt ...func(*securityhub.Options)) (*securityhub.BatchImportFindingsOutput, error) {
	c.mu.Lock()
	c.batches = append(c.batches, len(in.Findings))
	c.mu.Unlock()
	return c.SecurityHubAPI.BatchImportFindings(ctx, in, opt...)
}

// hubFindings reads every finding from Security Hub, by id.
func hubFindings(t *testing.T, client *securityhub.Client) map[string]types.AwsSecurityFinding {
	t.Helper()
	out := map[string]types.AwsSecurityFinding{}
	p := securityhub.NewGetFindingsPaginator(client, &securityhub.GetFindingsInput{MaxResults: aws.Int32(100)})
	for p.HasMorePages() {
		page, err := p.NextPage(t.Context())
		if err != nil {
			t.Fatalf("GetFindings: %v", err)
		}
		for _, f := range page.Findings {
			out[aws.ToString(f.Id)] = f
		}
	}
	return out
}

// state is what a test checks of a finding.
type state struct {
	Compliance, Workflow, Record, Severity, ResourceType string
}

func stateOf(f types.AwsSecurityFinding) state {
	s := state{Record: string(f.RecordState)}
	if f.Compliance != nil {
		s.Compliance = string(f.Compliance.Status)
	}
	if f.Workflow != nil {
		s.Workflow = string(f.Workflow.Status)
	}
	if f.Severity != nil {
		s.Severity = string(f.Severity.Label)
	}
	if len(f.Resources) == 1 {
		s.ResourceType = aws.ToString(f.Resources[0].Type)
	}
	return s
}

// TestFindingsOnMoto imports findings into moto's Security Hub, reads them
// back with GetFindings, and resolves one.
func TestFindingsOnMoto(t *testing.T) {
	emu := emulator(t)
	client := securityhub.NewFromConfig(emu.Config(t))
	if _, err := client.EnableSecurityHub(t.Context(), &securityhub.EnableSecurityHubInput{}); err != nil {
		t.Fatalf("EnableSecurityHub: %v", err)
	}
	hub := &Findings{API: client, Account: "123456789012", Region: "us-east-1", Now: clock(runNow, time.Second)}

	stale := awsKeyFinding()
	soon := awsKeyFinding()
	soon.KeyID, soon.User, soon.StaleAt = "AKIAI44QH8DHBEXAMPLE", "build-bot", runNow.Add(3*24*time.Hour)
	long := awsKeyFinding()
	long.KeyID, long.StaleAt = "AKIAJ7EXAMPLEKEY0003", runNow.Add(-45*24*time.Hour)
	gmi := KeyFinding{Provider: domain.ProviderGMI, Account: "org-7f3a", User: "carol@example.com", KeyID: "key_01HZX3",
		KeyName: "ci-deploy", CreatedAt: created, StaleAt: runNow.Add(-24 * time.Hour), Reason: "created 100 days ago, limit 90", RunID: "r-1"}

	rep := hub.Import(t.Context(), []KeyFinding{stale, soon, long, gmi})
	if rep.Imported != 4 || len(rep.Failed) != 0 {
		t.Fatalf("Import = %+v, want 4 imported", rep)
	}
	got := hubFindings(t, client)
	want := map[string]state{
		"keysweep/123456789012/aws/AKIAIOSFODNN7EXAMPLE": {"FAILED", "NEW", "ACTIVE", "MEDIUM", "AwsIamAccessKey"},
		"keysweep/123456789012/aws/AKIAI44QH8DHBEXAMPLE": {"FAILED", "NEW", "ACTIVE", "LOW", "AwsIamAccessKey"},
		"keysweep/123456789012/aws/AKIAJ7EXAMPLEKEY0003": {"FAILED", "NEW", "ACTIVE", "HIGH", "AwsIamAccessKey"},
		"keysweep/org-7f3a/gmi/key_01HZX3":               {"FAILED", "NEW", "ACTIVE", "MEDIUM", "Other"},
	}
	gotStates := map[string]state{}
	for id, f := range got {
		gotStates[id] = stateOf(f)
	}
	if diff := cmp.Diff(want, gotStates); diff != "" {
		t.Fatalf("findings (-want +got):\n%s", diff)
	}
	first := got[FindingID("", stale.Account, stale.KeyID)]
	checkAWSFinding(t, first)
	for id, title := range map[string]string{
		"keysweep/123456789012/aws/AKIAIOSFODNN7EXAMPLE": "AWS IAM key AKIAIOSFODNN7EXAMPLE of alice is stale since 2026-12-01",
		"keysweep/123456789012/aws/AKIAI44QH8DHBEXAMPLE": "AWS IAM key AKIAI44QH8DHBEXAMPLE of build-bot becomes stale on 2026-12-14",
	} {
		if got := aws.ToString(got[id].Title); got != title {
			t.Errorf("title %q, want %q", got, title)
		}
	}
	if o := got["keysweep/org-7f3a/gmi/key_01HZX3"].Resources[0].Details.Other; o["provider"] != "gmi" || o["keyName"] != "ci-deploy" {
		t.Errorf("GMI resource details %v", o)
	}

	t.Run("resolved when deleted", func(t *testing.T) {
		done := stale
		done.Resolution, done.Status, done.RunID = ResolvedDeleted, domain.StatusInactive, "r-2"
		if rep := hub.Import(t.Context(), []KeyFinding{done}); rep.Imported != 1 || len(rep.Failed) != 0 {
			t.Fatalf("Import = %+v", rep)
		}
		after := hubFindings(t, client)
		if len(after) != 4 {
			t.Errorf("%d findings after the update, want the same 4", len(after))
		}
		f := after[FindingID("", stale.Account, stale.KeyID)]
		if diff := cmp.Diff(state{"PASSED", "RESOLVED", "ARCHIVED", "INFORMATIONAL", "AwsIamAccessKey"}, stateOf(f)); diff != "" {
			t.Errorf("resolved finding (-want +got):\n%s", diff)
		}
		if aws.ToString(f.UpdatedAt) <= aws.ToString(first.UpdatedAt) || aws.ToString(f.CreatedAt) != "2026-11-17T09:15:00.000Z" {
			t.Errorf("UpdatedAt %s not after %s, or CreatedAt %s moved", aws.ToString(f.UpdatedAt), aws.ToString(first.UpdatedAt), aws.ToString(f.CreatedAt))
		}
		if aws.ToString(f.Title) != "AWS IAM key AKIAIOSFODNN7EXAMPLE of alice was deleted" {
			t.Errorf("title %q", aws.ToString(f.Title))
		}
		if f.ProductFields["keysweep/runId"] != "r-2" || f.ProductFields["keysweep/resolution"] != "deleted" {
			t.Errorf("product fields %v", f.ProductFields)
		}
	})

}

// TestFindingsBatchesOnMoto imports more findings than one call takes.
func TestFindingsBatchesOnMoto(t *testing.T) {
	emu := emulator(t)
	client := securityhub.NewFromConfig(emu.Config(t))
	c := &counting{SecurityHubAPI: client}
	big := &Findings{API: c, Account: "123456789012", Region: "us-east-1"}
	keys := make([]KeyFinding, 250)
	for i := range keys {
		keys[i] = awsKeyFinding()
		keys[i].KeyID = fmt.Sprintf("AKIABATCH%011d", i)
	}
	keys = append(keys, keys[7]) // listed twice: one finding
	if rep := big.Import(t.Context(), keys); rep.Imported != 250 || len(rep.Failed) != 0 {
		t.Fatalf("Import = %d imported, %d failed", rep.Imported, len(rep.Failed))
	}
	if diff := cmp.Diff([]int{100, 100, 50}, c.batches); diff != "" {
		t.Errorf("batch sizes (-want +got):\n%s", diff)
	}
	if n := len(hubFindings(t, client)); n != 250 {
		t.Errorf("%d findings, want 250", n)
	}
}

// checkAWSFinding holds an open AWS key's finding to the ASFF fields
// keysweep promises.
func checkAWSFinding(t *testing.T, f types.AwsSecurityFinding) {
	t.Helper()
	want := map[string]string{
		"SchemaVersion": "2018-10-08",
		"ProductArn":    "arn:aws:securityhub:us-east-1:123456789012:product/123456789012/default",
		"GeneratorId":   "keysweep/policy/default",
		"AwsAccountId":  "123456789012",
		"Types":         "Software and Configuration Checks/AWS Security Best Practices",
		"Remediation":   remediationURL,
		"Resource":      "AKIAIOSFODNN7EXAMPLE alice Active 2026-09-01T09:15:00.000Z",
		"RunId":         "r-20261201T060000Z-8f2c",
	}
	got := map[string]string{
		"SchemaVersion": aws.ToString(f.SchemaVersion), "ProductArn": aws.ToString(f.ProductArn),
		"GeneratorId": aws.ToString(f.GeneratorId), "AwsAccountId": aws.ToString(f.AwsAccountId),
		"RunId": f.ProductFields["keysweep/runId"],
	}
	if len(f.Types) == 1 {
		got["Types"] = f.Types[0]
	}
	if f.Remediation != nil && f.Remediation.Recommendation != nil {
		got["Remediation"] = aws.ToString(f.Remediation.Recommendation.Url)
	}
	if d := f.Resources[0].Details; d != nil && d.AwsIamAccessKey != nil {
		k := d.AwsIamAccessKey
		got["Resource"] = fmt.Sprintf("%s %s %s %s", aws.ToString(f.Resources[0].Id), aws.ToString(k.UserName), k.Status, aws.ToString(k.CreatedAt))
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("finding fields (-want +got):\n%s", diff)
	}
	if aws.ToString(f.Title) == "" || aws.ToString(f.Description) == "" {
		t.Error("finding has no title or description")
	}
}
