package notify

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/securityhub"
	"github.com/aws/aws-sdk-go-v2/service/securityhub/types"
	"github.com/google/go-cmp/cmp"
)

// hubFake is an in-process Security Hub for what moto lacks: refused
// findings in a batch (FailedFindings), BatchUpdateFindings (moto answers
// 404), and whole-call errors.
type hubFake struct {
	mu        sync.Mutex
	refuse    map[string]string // finding id -> ErrorCode
	err       error             // every BatchImportFindings call fails with it
	imports   [][]types.AwsSecurityFinding
	updates   []*securityhub.BatchUpdateFindingsInput
	unprocess string // a finding id BatchUpdateFindings leaves unprocessed
}

var (
	_ SecurityHubAPI = (*hubFake)(nil)
	_ WorkflowAPI    = (*hubFake)(nil)
)

func (h *hubFake) BatchImportFindings(_ context.Context, in *securityhub.BatchImportFindingsInput, _ ...func(*securityhub.Options)) (*securityhub.BatchImportFindingsOutput, error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.imports = append(h.imports, in.Findings)
	if h.err != nil {
		return nil, h.err
	}
	if len(in.Findings) > MaxBatch {
		return nil, &types.InvalidInputException{Message: aws.String("too many findings")}
	}
	out := &securityhub.BatchImportFindingsOutput{}
	for _, f := range in.Findings {
		if code, ok := h.refuse[aws.ToString(f.Id)]; ok {
			out.FailedFindings = append(out.FailedFindings, types.ImportFindingsError{Id: f.Id, ErrorCode: aws.String(code), ErrorMessage: aws.String("refused by the fake")})
			continue
		}
		out.SuccessCount = aws.Int32(aws.ToInt32(out.SuccessCount) + 1)
	}
	out.FailedCount = aws.Int32(int32(len(out.FailedFindings)))
	return out, nil
}

func (h *hubFake) BatchUpdateFindings(_ context.Context, in *securityhub.BatchUpdateFindingsInput, _ ...func(*securityhub.Options)) (*securityhub.BatchUpdateFindingsOutput, error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.updates = append(h.updates, in)
	out := &securityhub.BatchUpdateFindingsOutput{}
	for _, id := range in.FindingIdentifiers {
		if aws.ToString(id.Id) == h.unprocess {
			out.UnprocessedFindings = append(out.UnprocessedFindings, types.BatchUpdateFindingsUnprocessedFinding{
				FindingIdentifier: &types.AwsSecurityFindingIdentifier{Id: id.Id, ProductArn: id.ProductArn},
				ErrorCode:         aws.String("FindingNotFound"), ErrorMessage: aws.String("no such finding"),
			})
			continue
		}
		out.ProcessedFindings = append(out.ProcessedFindings, id)
	}
	return out, nil
}

func keysNumbered(n int, resolution Resolution) []KeyFinding {
	keys := make([]KeyFinding, n)
	for i := range keys {
		keys[i] = awsKeyFinding()
		keys[i].KeyID = fmt.Sprintf("AKIAFAKE%012d", i)
		keys[i].Resolution = resolution
	}
	return keys
}

func failures(rep Report) map[string]string {
	m := map[string]string{}
	for _, f := range rep.Failed {
		m[f.Step+" "+f.KeyID] = FailureCode(f.Err)
	}
	return m
}

func TestFindingsPartialFailures(t *testing.T) {
	keys := keysNumbered(3, Open)
	fake := &hubFake{refuse: map[string]string{
		FindingID("", keys[1].Account, keys[1].KeyID): "InvalidInput",
		FindingID("", keys[2].Account, keys[2].KeyID): "InvalidAccess",
	}}
	rep := (&Findings{API: fake, Account: "123456789012", Region: "eu-west-1"}).Import(t.Context(), keys)
	want := map[string]string{"import AKIAFAKE000000000001": "rejected", "import AKIAFAKE000000000002": "channel-missing"}
	if diff := cmp.Diff(want, failures(rep)); diff != "" || rep.Imported != 1 {
		t.Errorf("Import imported %d; failures (-want +got):\n%s", rep.Imported, diff)
	}
	for _, f := range rep.Failed {
		var se *SendError
		if !errors.As(f.Err, &se) || se.Channel != ChannelFindings || f.FindingID == "" {
			t.Errorf("failure %+v is not a Security Hub *SendError with the finding id", f)
		}
	}
}

func TestFindingsWorkflow(t *testing.T) {
	keys := append(keysNumbered(150, ResolvedDeactivated), keysNumbered(1, Open)[0])
	keys[150].KeyID = "AKIASTILLOPEN0000000"
	fake := &hubFake{unprocess: FindingID("", keys[3].Account, keys[3].KeyID)}
	hub := &Findings{API: fake, Workflow: fake, Account: "123456789012", Region: "eu-west-1", Partition: "aws"}
	rep := hub.Import(t.Context(), keys)
	if rep.Imported != 151 {
		t.Errorf("imported %d, want 151", rep.Imported)
	}
	if diff := cmp.Diff(map[string]string{"workflow AKIAFAKE000000000003": "rejected"}, failures(rep)); diff != "" {
		t.Errorf("failures (-want +got):\n%s", diff)
	}
	var sizes []int
	for _, u := range fake.updates {
		sizes = append(sizes, len(u.FindingIdentifiers))
		if u.Workflow == nil || u.Workflow.Status != types.WorkflowStatusResolved {
			t.Errorf("BatchUpdateFindings workflow %+v, want RESOLVED", u.Workflow)
		}
		for _, id := range u.FindingIdentifiers {
			if aws.ToString(id.ProductArn) != "arn:aws:securityhub:eu-west-1:123456789012:product/123456789012/default" || aws.ToString(id.Id) == FindingID("", keys[150].Account, keys[150].KeyID) {
				t.Errorf("identifier %s / %s", aws.ToString(id.Id), aws.ToString(id.ProductArn))
			}
		}
	}
	if diff := cmp.Diff([]int{100, 50}, sizes); diff != "" {
		t.Errorf("update batches (-want +got):\n%s", diff)
	}
	resolved := fake.imports[0][0]
	if stateOf(resolved) != (state{"PASSED", "RESOLVED", "ACTIVE", "INFORMATIONAL", "AwsIamAccessKey"}) {
		t.Errorf("deactivated key's finding %+v", stateOf(resolved))
	}
}

func TestFindingsCallErrors(t *testing.T) {
	tests := []struct {
		err       error
		want      string
		wantCalls int
	}{
		{&types.InvalidAccessException{Message: aws.String("Account is not subscribed to AWS Security Hub")}, "channel-missing", 1},
		{&types.AccessDeniedException{}, "access-denied", 1},
		{&types.LimitExceededException{}, "throttled", 3},
		{&types.ThrottlingException{}, "throttled", 3},
		{&types.InvalidInputException{}, "rejected", 3},
		{errors.New("connection reset"), "failed", 3},
	}
	for _, tc := range tests {
		fake := &hubFake{err: tc.err}
		rep := (&Findings{API: fake, Account: "123456789012", Region: "us-east-1"}).Import(t.Context(), keysNumbered(250, Open))
		codes := map[string]int{}
		for _, f := range rep.Failed {
			codes[FailureCode(f.Err)]++
		}
		if diff := cmp.Diff(map[string]int{tc.want: 250}, codes); diff != "" || len(fake.imports) != tc.wantCalls {
			t.Errorf("%T: %d calls, want %d; failures (-want +got):\n%s", tc.err, len(fake.imports), tc.wantCalls, diff)
		}
	}
}

func TestFindingsNotConfigured(t *testing.T) {
	fake := &hubFake{}
	for _, hub := range []*Findings{
		{Account: "123456789012", Region: "us-east-1"},
		{API: fake, Account: "org-1", Region: "us-east-1"},
		{API: fake, Account: "123456789012"},
	} {
		rep := hub.Import(t.Context(), keysNumbered(2, Open))
		if len(rep.Failed) != 2 || !errors.Is(rep.Failed[0].Err, ErrNotConfigured) {
			t.Errorf("%+v: Import = %+v, want ErrNotConfigured for both keys", hub, rep)
		}
	}
	if len(fake.imports) != 0 {
		t.Errorf("%d calls without a configuration", len(fake.imports))
	}
}

// TestFindingsUpdatedAtIncreases: Security Hub ignores an update whose
// UpdatedAt is not later than the finding's, so two imports in the same
// millisecond must still differ.
func TestFindingsUpdatedAtIncreases(t *testing.T) {
	fake := &hubFake{}
	hub := &Findings{API: fake, Account: "123456789012", Region: "us-east-1", Now: func() time.Time { return runNow }}
	for range 3 {
		hub.Import(t.Context(), keysNumbered(1, Open))
	}
	var got []string
	for _, batch := range fake.imports {
		got = append(got, aws.ToString(batch[0].UpdatedAt))
	}
	want := []string{"2026-12-11T06:00:00.000Z", "2026-12-11T06:00:00.001Z", "2026-12-11T06:00:00.002Z"}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("UpdatedAt (-want +got):\n%s", diff)
	}
}

func TestSeverity(t *testing.T) {
	k := KeyFinding{StaleAt: runNow}
	tests := []struct {
		now  time.Time
		res  Resolution
		want types.SeverityLabel
	}{
		{runNow.Add(-time.Hour), Open, types.SeverityLabelLow},
		{runNow, Open, types.SeverityLabelMedium},
		{runNow.Add(30 * 24 * time.Hour), Open, types.SeverityLabelMedium},
		{runNow.Add(30*24*time.Hour + time.Second), Open, types.SeverityLabelHigh},
		{runNow.Add(90 * 24 * time.Hour), ResolvedFresh, types.SeverityLabelInformational},
	}
	for _, tc := range tests {
		k.Resolution = tc.res
		if got := severity(k, tc.now); got != tc.want {
			t.Errorf("severity at %s (%q) = %s, want %s", tc.now, tc.res, got, tc.want)
		}
	}
}
