package report

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"path"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
)

// S3API is what Upload needs of S3: *s3.Client's PutObject and
// *s3.PresignClient's PresignGetObject. NewS3API joins the two.
type S3API interface {
	PutObject(ctx context.Context, params *s3.PutObjectInput, optFns ...func(*s3.Options)) (*s3.PutObjectOutput, error)
	PresignGetObject(ctx context.Context, params *s3.GetObjectInput, optFns ...func(*s3.PresignOptions)) (*v4.PresignedHTTPRequest, error)
}

type s3API struct {
	*s3.Client
	*s3.PresignClient
}

// NewS3API gives c's object writes and presigned reads as one S3API.
func NewS3API(c *s3.Client) S3API { return s3API{c, s3.NewPresignClient(c)} }

// Link validity. SigV4 presigned URLs last at most seven days; one signed
// with temporary credentials (a Lambda role's) stops working when they
// expire, whichever comes first.
const (
	MaxLinkValidity     = 7 * 24 * time.Hour
	DefaultLinkValidity = MaxLinkValidity
)

// ErrLinkValidity: the asked validity is over MaxLinkValidity.
var ErrLinkValidity = errors.New("presigned link validity over 7 days")

// ContentType is the report's media type.
const ContentType = "text/html; charset=utf-8"

// ObjectKey names a run's report in the bucket: by day, then run id, so
// that a lifecycle rule on the "reports/" prefix expires them and a
// listing reads newest last.
func ObjectKey(at time.Time, runID string) string {
	return path.Join("reports", at.UTC().Format("2006/01/02"), path.Base("/"+runID)+".html")
}

// Upload puts the page at bucket/key, encrypted at rest (SSE-S3), and
// returns a presigned GET link to it valid for valid (DefaultLinkValidity
// when zero or less).
func Upload(ctx context.Context, api S3API, bucket, key string, html []byte, valid time.Duration) (string, error) {
	if valid <= 0 {
		valid = DefaultLinkValidity
	}
	if valid > MaxLinkValidity {
		return "", fmt.Errorf("upload report to s3://%s/%s: %v: %w", bucket, key, valid, ErrLinkValidity)
	}
	_, err := api.PutObject(ctx, &s3.PutObjectInput{
		Bucket:               &bucket,
		Key:                  &key,
		Body:                 bytes.NewReader(html),
		ContentLength:        aws.Int64(int64(len(html))),
		ContentType:          aws.String(ContentType),
		CacheControl:         aws.String("no-store"),
		ServerSideEncryption: types.ServerSideEncryptionAes256,
	})
	if err != nil {
		return "", fmt.Errorf("upload report to s3://%s/%s: %w", bucket, key, err)
	}
	req, err := api.PresignGetObject(ctx, &s3.GetObjectInput{Bucket: &bucket, Key: &key}, s3.WithPresignExpires(valid))
	if err != nil {
		return "", fmt.Errorf("presign a link to s3://%s/%s: %w", bucket, key, err)
	}
	return req.URL, nil
}
