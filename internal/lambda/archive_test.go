package lambda_test

import (
	"bufio"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"

	"github.com/keysweep/keysweep/internal/archive"
	"github.com/keysweep/keysweep/internal/domain"
)

// TestRunsAreArchivedWriteOnce: with an archive bucket (Object Lock,
// compliance mode), a sweep's run record and every record it wrote are
// also kept there, locked; a locked version cannot be deleted, so the
// originals outlive any rewrite of the table.
func TestRunsAreArchivedWriteOnce(t *testing.T) {
	e := newEnv(t)
	ids := e.staleKeys(2)
	e.putPolicy(enforce)
	cfg := e.emu.Config(t)
	client := s3.NewFromConfig(cfg, func(o *s3.Options) { o.UsePathStyle = true })
	bucket := "keysweep-archive-" + strings.ToLower(e.now.Format("150405000000"))
	if _, err := client.CreateBucket(e.ctx(), &s3.CreateBucketInput{Bucket: aws.String(bucket), ObjectLockEnabledForBucket: aws.Bool(true)}); err != nil {
		t.Fatal(err)
	}
	h := e.handler(nil)
	h.Targets[0].Engine.Archive = &archive.Archive{API: client, Bucket: bucket, Retention: 30 * 24 * time.Hour}
	sum, err := h.Handle(e.ctx(), e.scheduled())
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(strings.Join(sum.Notes, "\n"), "4 records archived to s3://"+bucket+"/runs/123456789012/") {
		t.Errorf("notes %q: want the archive named", sum.Notes)
	}
	run, _ := e.deps.Journal.GetRun(e.ctx(), sum.RunID)
	key := archive.Key(*run)
	obj, err := client.GetObject(e.ctx(), &s3.GetObjectInput{Bucket: aws.String(bucket), Key: aws.String(key)})
	if err != nil {
		t.Fatalf("archived run %s: %v", key, err)
	}
	defer obj.Body.Close()
	if obj.ObjectLockMode != types.ObjectLockModeCompliance || obj.ObjectLockRetainUntilDate == nil {
		t.Errorf("object lock %s until %v, want compliance", obj.ObjectLockMode, obj.ObjectLockRetainUntilDate)
	}
	lines, hashes := 0, map[string]bool{}
	sc := bufio.NewScanner(obj.Body)
	for sc.Scan() {
		lines++
		if strings.Contains(sc.Text(), `"hash":"`) {
			hashes[sc.Text()[strings.Index(sc.Text(), `"hash":"`)+8:][:64]] = true
		}
	}
	if lines != 5 || len(hashes) != 4 {
		t.Errorf("archive has %d lines, %d hashed records; want the run and its 4 records", lines, len(hashes))
	}
	for _, id := range ids {
		recs, _ := e.deps.Journal.ByKey(e.ctx(), id)
		for _, r := range recs {
			if r.Kind != domain.KindDecision && !hashes[r.Hash] {
				t.Errorf("record %s %s of %s is not in the archive", r.Kind, r.Result, id)
			}
		}
	}
	_, err = client.DeleteObject(e.ctx(), &s3.DeleteObjectInput{Bucket: aws.String(bucket), Key: aws.String(key), VersionId: obj.VersionId})
	if err == nil {
		t.Error("a locked archived run was deleted")
	}
}
