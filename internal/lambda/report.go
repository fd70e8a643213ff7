package lambda

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/keysweep/keysweep/internal/engine"
	"github.com/keysweep/keysweep/internal/posture"
	"github.com/keysweep/keysweep/internal/report"
	"github.com/keysweep/keysweep/policy"
)

// DefaultReportMinTime is the least time an invocation must have left for
// the sweeper to write the posture report after its run: judging every
// target again (one inventory each) and rendering take seconds, and a run
// that used up its time must not be killed for a page.
const DefaultReportMinTime = 60 * time.Second

// Reports writes the posture report after each scheduled run to an S3
// bucket (the stack's, with ReportBucket=true) and puts a link to it in
// the run's summary. A report that cannot be written is a note on the
// summary, never a failed run.
type Reports struct {
	S3     report.S3API
	Bucket string
	// Activity reads the recent runs and actions the page shows (the
	// journal).
	Activity posture.Activity
	// Days is the report's window (posture.DefaultDays when zero).
	Days int
	// LinkValidity is what the presigned link asks for
	// (report.DefaultLinkValidity when zero). The link stops working
	// sooner when the signer's session ends: a Lambda role's lasts hours.
	LinkValidity time.Duration
	// Now is the report's clock; time.Now when nil.
	Now func() time.Time
	// MinTime is the least time left on the invocation to write a report;
	// DefaultReportMinTime when zero.
	MinTime time.Duration
}

// ErrNoTimeForReport: the invocation had too little time left after the
// run to write the report.
var ErrNoTimeForReport = errors.New("too little time left for the posture report")

// reportNote names the report's object and says how long its link lasts:
// the link is signed with the role's temporary credentials, so it dies
// with their session, while the object stays until the bucket's lifecycle
// expires it.
func reportNote(uri string, valid time.Duration) string {
	return fmt.Sprintf("posture report: %s. Its presigned link (report) asks for %s but works only while the sweeper role's session lasts (hours); "+
		"the object stays until the bucket's lifecycle expires it, and `aws s3 presign %s --expires-in 604800` signs a new link", uri, days(valid), uri)
}

func days(d time.Duration) string {
	if d%(24*time.Hour) == 0 {
		if n := int(d / (24 * time.Hour)); n != 1 {
			return fmt.Sprintf("%d days", n)
		}
		return "1 day"
	}
	return d.String()
}

// write renders the posture report of the targets after run runID,
// uploads it, and returns its presigned link and s3:// address.
func (r *Reports) write(ctx context.Context, targets []Target, pol func(context.Context, Target) (*policy.Policy, error), runID string) (link, uri string, err error) {
	if dl, ok := ctx.Deadline(); ok && time.Until(dl) < r.minTime() {
		return "", "", fmt.Errorf("%w (%s left)", ErrNoTimeForReport, time.Until(dl).Round(time.Second))
	}
	now := time.Now().UTC()
	if r.Now != nil {
		now = r.Now().UTC()
	}
	in, err := posture.Gather(ctx, targets, posture.Options{
		Now: now, Days: r.Days, Activity: r.Activity,
		Policy: func(ctx context.Context, t engine.Target) (*policy.Policy, error) { return pol(ctx, t) },
	})
	if err != nil {
		return "", "", fmt.Errorf("gather the posture report: %w", err)
	}
	var buf bytes.Buffer
	if err := report.Render(&buf, in); err != nil {
		return "", "", fmt.Errorf("render the posture report: %w", err)
	}
	key := report.ObjectKey(now, runID)
	link, err = report.Upload(ctx, r.S3, r.Bucket, key, buf.Bytes(), r.validity())
	if err != nil {
		return "", "", err
	}
	return link, "s3://" + r.Bucket + "/" + key, nil
}

func (r *Reports) validity() time.Duration {
	if r.LinkValidity > 0 {
		return r.LinkValidity
	}
	return report.DefaultLinkValidity
}

func (r *Reports) minTime() time.Duration {
	if r.MinTime > 0 {
		return r.MinTime
	}
	return DefaultReportMinTime
}
