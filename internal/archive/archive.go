// Package archive exports each run's audit records to an S3 bucket with
// Object Lock in compliance mode, so that not even the account's
// administrator can rewrite or delete them before their retention ends:
// the audit table's hash chain makes a rewrite evident, the archive keeps
// the original. It is an adapter: it imports the domain, never the engine.
package archive

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"

	"github.com/keysweep/keysweep/internal/domain"
)

// S3API is the part of the S3 client the archive uses; *s3.Client
// satisfies it.
type S3API interface {
	PutObject(ctx context.Context, in *s3.PutObjectInput, optFns ...func(*s3.Options)) (*s3.PutObjectOutput, error)
}

var _ S3API = (*s3.Client)(nil)

// DefaultRetention is how long an archived run is locked when Retention
// is zero: the audit table's default record lifetime.
const DefaultRetention = 400 * 24 * time.Hour

// Archive writes runs to one bucket. The bucket must have Object Lock
// enabled (the template creates it so).
type Archive struct {
	API    S3API
	Bucket string
	// Retention is how long each object is locked (compliance mode: no
	// one can shorten it or delete the object before).
	Retention time.Duration
	// Now is the clock; time.Now when nil.
	Now func() time.Time
}

// Line is one line of an archived run: the run record first, then each of
// its history records, as the journal stored them (with their place in
// their key's hash chain).
type Line struct {
	Run    *domain.Run    `json:"run,omitempty"`
	Record *domain.Record `json:"record,omitempty"`
}

// Key is where a run is archived: by scope and start date.
func Key(run domain.Run) string {
	return fmt.Sprintf("runs/%s/%s/%s.jsonl", run.Scope(), run.StartedAt.UTC().Format("2006/01/02"), run.RunID)
}

// Export writes the run and its records as JSON Lines, locked in
// compliance mode until now + Retention, and returns the object's s3:// URI
// and version. A second export of the same run (a retried event) writes a
// new version beside the first: both stay.
func (a *Archive) Export(ctx context.Context, run domain.Run, recs []domain.Record) (string, error) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	if err := enc.Encode(Line{Run: &run}); err != nil {
		return "", fmt.Errorf("archive run %s: %w", run.RunID, err)
	}
	for i := range recs {
		if err := enc.Encode(Line{Record: &recs[i]}); err != nil {
			return "", fmt.Errorf("archive run %s: %w", run.RunID, err)
		}
	}
	now := time.Now
	if a.Now != nil {
		now = a.Now
	}
	keep := a.Retention
	if keep <= 0 {
		keep = DefaultRetention
	}
	key := Key(run)
	out, err := a.API.PutObject(ctx, &s3.PutObjectInput{
		Bucket:                    aws.String(a.Bucket),
		Key:                       aws.String(key),
		Body:                      bytes.NewReader(buf.Bytes()),
		ContentType:               aws.String("application/x-ndjson"),
		ObjectLockMode:            types.ObjectLockModeCompliance,
		ObjectLockRetainUntilDate: aws.Time(now().Add(keep).UTC()),
		ChecksumAlgorithm:         types.ChecksumAlgorithmSha256,
		ServerSideEncryption:      types.ServerSideEncryptionAes256,
	})
	if err != nil {
		return "", &domain.ServiceError{Service: "S3", Op: "archive run " + run.RunID + " to " + a.Bucket, Err: err}
	}
	uri := "s3://" + a.Bucket + "/" + key
	if v := aws.ToString(out.VersionId); v != "" {
		uri += "?versionId=" + v
	}
	return uri, nil
}
