package lambdatest_test

import (
	"context"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	s3types "github.com/aws/aws-sdk-go-v2/service/s3/types"

	"github.com/keysweep/keysweep/internal/lambdatest"
)

// TestScheduledSweepArchivesItsRecords: the deployed sweeper with
// AuditArchive=true writes the run's records to the stack's Object Lock
// bucket (on the emulator), locked in compliance mode, and the locked
// version cannot be deleted.
func TestScheduledSweepArchivesItsRecords(t *testing.T) {
	e := newEnv(t, map[string]string{"AuditArchive": "true", "AuditArchiveDays": "30"})
	old := e.userWithKey(e.iam, "", "archived", 400, 200)
	e.putPolicy(enforcePolicy)

	fn := lambdatest.Run(t, e.stack, "SweeperFunction")
	sum := answer[reportSummary](t, invoke(t, fn, event(t, "schedule.json")))
	if sum.Outcome != "completed" || sum.actions()[old] != "deactivate/done" {
		t.Fatalf("run %+v; want the old key deactivated", sum)
	}
	bucket := e.ref("AuditArchiveBucket")
	var uri string
	for _, n := range sum.Notes {
		if _, after, ok := strings.Cut(n, " archived to "); ok {
			uri = after
		}
	}
	rest, ok := strings.CutPrefix(uri, "s3://"+bucket+"/")
	key, version, _ := strings.Cut(rest, "?versionId=")
	if !ok || !strings.HasPrefix(key, "runs/") || !strings.HasSuffix(key, sum.RunID+".jsonl") || version == "" {
		t.Fatalf("notes %q; want the run archived to a version in %s", sum.Notes, bucket)
	}
	client := s3.NewFromConfig(e.cfg, func(o *s3.Options) { o.UsePathStyle = true })
	ctx := context.Background()
	head, err := client.HeadObject(ctx, &s3.HeadObjectInput{Bucket: aws.String(bucket), Key: aws.String(key), VersionId: aws.String(version)})
	if err != nil {
		t.Fatal(err)
	}
	if head.ObjectLockMode != s3types.ObjectLockModeCompliance || head.ObjectLockRetainUntilDate == nil ||
		head.ObjectLockRetainUntilDate.Before(e.now.AddDate(0, 0, 29)) {
		t.Errorf("lock %s until %v; want compliance for 30 days", head.ObjectLockMode, head.ObjectLockRetainUntilDate)
	}
	if _, err := client.DeleteObject(ctx, &s3.DeleteObjectInput{Bucket: aws.String(bucket), Key: aws.String(key), VersionId: aws.String(version)}); err == nil {
		t.Error("deleted a locked version of the archive")
	}
	obj, err := client.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String(bucket), Key: aws.String(key), VersionId: aws.String(version)})
	if err != nil {
		t.Fatalf("the locked version is gone: %v", err)
	}
	obj.Body.Close()
}
