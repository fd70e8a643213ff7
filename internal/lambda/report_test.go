package lambda_test

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"

	"github.com/keysweep/keysweep/internal/domain"
	"github.com/keysweep/keysweep/internal/lambda"
	"github.com/keysweep/keysweep/internal/report"
)

// reportBucket makes a bucket on the emulator's S3 and returns the
// sweeper's Reports on it, on the scenario's clock. The client uses
// path-style addresses: bucket host names do not resolve to the emulator.
func (e *env) reportBucket(name string, create bool) (*lambda.Reports, *s3.Client) {
	e.t.Helper()
	c := s3.NewFromConfig(e.deps.AWS, func(o *s3.Options) { o.UsePathStyle = true })
	if create {
		if _, err := c.CreateBucket(e.ctx(), &s3.CreateBucketInput{Bucket: aws.String(name)}); err != nil {
			e.t.Fatalf("create bucket %s: %v", name, err)
		}
	}
	clock := e.clock
	return &lambda.Reports{S3: report.NewS3API(c), Bucket: name, Activity: e.deps.Journal, Now: func() time.Time { return clock }}, c
}

// objects lists the bucket's keys.
func objects(t *testing.T, c *s3.Client, bucket string) []string {
	t.Helper()
	out, err := c.ListObjectsV2(context.Background(), &s3.ListObjectsV2Input{Bucket: aws.String(bucket)})
	if err != nil {
		t.Fatal(err)
	}
	var keys []string
	for _, o := range out.Contents {
		keys = append(keys, aws.ToString(o.Key))
	}
	return keys
}

// TestScheduledRunWritesReport: after a scheduled run of the AWS account
// and an OTC domain, the sweeper writes the posture report of both to the
// bucket, encrypted, under the run's id, and the summary carries its
// presigned link, its s3:// address and what the link's life depends on.
// A second delivery of the event writes nothing more.
func TestScheduledRunWritesReport(t *testing.T) {
	e := newEnv(t)
	e.user("aws-old", "/", nil)
	e.key("aws-old", 400, 1)
	e.user("aws-fresh", "/", nil)
	e.key("aws-fresh", 10, 1)
	e.putPolicy(enforce)
	o := newOTC(e)
	o.user("otc-idle")
	o.key("otc-idle", 200, 61)
	o.putPolicy(enforce)
	rep, c := e.reportBucket("keysweep-reports-scheduled", true)
	h := o.handler(nil)
	h.Reports = rep

	ev := e.scheduled()
	sum, err := h.Handle(e.ctx(), ev)
	if err != nil {
		t.Fatalf("sweep: %v", err)
	}
	wantKey := report.ObjectKey(e.clock, sum.RunID)
	if want := "s3://keysweep-reports-scheduled/" + wantKey; sum.ReportObject != want {
		t.Errorf("reportObject %q, want %q", sum.ReportObject, want)
	}
	u, err := url.Parse(sum.Report)
	if err != nil || u.Path != "/keysweep-reports-scheduled/"+wantKey || u.Query().Get("X-Amz-Signature") == "" {
		t.Fatalf("report link %q (%v) is not a presigned GET of the object", sum.Report, err)
	}
	notes := strings.Join(sum.Notes, "\n")
	wantContains(t, "notes", notes, sum.ReportObject, "session lasts (hours)", "aws s3 presign "+sum.ReportObject)

	head, err := c.HeadObject(e.ctx(), &s3.HeadObjectInput{Bucket: aws.String("keysweep-reports-scheduled"), Key: aws.String(wantKey)})
	if err != nil {
		t.Fatalf("head the report: %v", err)
	}
	if aws.ToString(head.ContentType) != report.ContentType || head.ServerSideEncryption != types.ServerSideEncryptionAes256 {
		t.Errorf("report stored as %q, encryption %q", aws.ToString(head.ContentType), head.ServerSideEncryption)
	}
	// The link alone reads the page (moto does not check signatures: this
	// proves the object); the page covers both targets after the run.
	resp, err := http.Get(sum.Report)
	if err != nil {
		t.Fatal(err)
	}
	page, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("get the link: %s", resp.Status)
	}
	wantContains(t, "report", string(page), "aws-old", "aws-fresh", "otc-idle", otcTarget, sum.RunID, "t-1")

	again, err := h.Handle(e.ctx(), ev)
	if err != nil || again.Report != "" || len(objects(t, c, "keysweep-reports-scheduled")) != 1 {
		t.Errorf("second delivery: %v, report %q, objects %v; want no second report", err, again.Report, objects(t, c, "keysweep-reports-scheduled"))
	}
}

// TestReportOnlyAfterScheduledRuns: a manual run writes no report.
func TestReportOnlyAfterScheduledRuns(t *testing.T) {
	e := newEnv(t)
	e.user("old", "/", nil)
	e.key("old", 400, 1)
	rep, c := e.reportBucket("keysweep-reports-manual", true)
	h := e.handler(nil)
	h.Reports = rep
	sum, err := h.Handle(e.ctx(), []byte(`{"mode": "audit"}`))
	if err != nil || sum.Report != "" || sum.ReportObject != "" {
		t.Fatalf("manual run: %v, report %q %q", err, sum.Report, sum.ReportObject)
	}
	if got := objects(t, c, "keysweep-reports-manual"); len(got) != 0 {
		t.Errorf("objects after a manual run: %v", got)
	}
}

// TestReportFailureIsANote: a report that cannot be written (the bucket is
// gone; too little time left) is a note on the run, which stands as it is.
func TestReportFailureIsANote(t *testing.T) {
	for _, tc := range []struct {
		name    string
		create  bool
		timeout time.Duration
		want    string
	}{
		{"no bucket", false, 15 * time.Minute, "NoSuchBucket"},
		{"no time left", true, 30 * time.Second, "too little time left"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t)
			e.user("old", "/", nil)
			old := e.key("old", 400, 1)
			e.putPolicy(enforce)
			bucket := fmt.Sprintf("keysweep-reports-fail-%t", tc.create)
			rep, _ := e.reportBucket(bucket, tc.create)
			h := e.handler(nil)
			h.Reports = rep
			ctx, cancel := context.WithTimeout(e.ctx(), tc.timeout)
			defer cancel()
			sum, err := h.Handle(ctx, e.scheduled())
			if err != nil || sum.Outcome != domain.RunCompleted || e.state()[old] != "Inactive" {
				t.Fatalf("run: %v, %+v; want it completed and acted on", err, sum)
			}
			if sum.Report != "" || sum.ReportObject != "" {
				t.Errorf("report %q %q after a failed upload", sum.Report, sum.ReportObject)
			}
			wantContains(t, "notes", strings.Join(sum.Notes, "\n"), "posture report not written", tc.want)
		})
	}
}

func wantContains(t *testing.T, what, got string, wants ...string) {
	t.Helper()
	for _, w := range wants {
		if !strings.Contains(got, w) {
			t.Errorf("%s does not contain %q:\n%s", what, w, got)
		}
	}
}

// TestRunSummaryLinksTheReport: the team's run summary after a scheduled
// run carries the report's presigned link and, because the link dies with
// the role's session, the object's s3:// address too.
func TestRunSummaryLinksTheReport(t *testing.T) {
	n := newNoticeEnv(t)
	n.user("alice", "/", nil)
	n.key("alice", 400, 1)
	n.putPolicy(noticePolicy)
	rep, _ := n.reportBucket("keysweep-reports-summary", true)
	h := n.handler()
	h.Reports = rep
	sum, err := h.Handle(n.ctx(), n.scheduled())
	if err != nil || sum.Report == "" || sum.ReportObject == "" {
		t.Fatalf("sweep: %v, report %q at %q", err, sum.Report, sum.ReportObject)
	}
	var bodies []string
	for _, m := range n.teamMessages() {
		if m.MessageAttributes["kind"].Value == "run-summary" {
			bodies = append(bodies, m.Message)
		}
	}
	if len(bodies) != 1 {
		t.Fatalf("%d run summaries on the topic, want 1", len(bodies))
	}
	wantContains(t, "run summary", bodies[0], sum.Report, sum.ReportObject)
}
