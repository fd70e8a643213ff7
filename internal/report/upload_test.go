package report_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net/http"
	"net/url"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
	"github.com/google/go-cmp/cmp"

	"github.com/keysweep/keysweep/internal/report"
	"github.com/keysweep/keysweep/internal/testenv"
)

// s3Client is an S3 client on the emulator, in path-style addressing:
// bucket host names do not resolve to it.
func s3Client(t *testing.T) *s3.Client {
	t.Helper()
	if testing.Short() {
		t.Skip("needs the S3 emulator")
	}
	emu := testenv.Emulator(t)
	return s3.NewFromConfig(emu.Config(t), func(o *s3.Options) { o.UsePathStyle = true })
}

func TestUploadOnEmulator(t *testing.T) {
	client := s3Client(t)
	ctx := context.Background()
	bucket := "keysweep-reports-test"
	if _, err := client.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String(bucket)}); err != nil {
		t.Fatalf("create bucket: %v", err)
	}
	page := render(t, demoInput())
	key := report.ObjectKey(demoAt, "r-20260601T0900Z")
	link, err := report.Upload(ctx, report.NewS3API(client), bucket, key, []byte(page), 24*time.Hour)
	if err != nil {
		t.Fatal(err)
	}

	head, err := client.HeadObject(ctx, &s3.HeadObjectInput{Bucket: aws.String(bucket), Key: aws.String(key)})
	if err != nil {
		t.Fatalf("head object: %v", err)
	}
	if got := aws.ToString(head.ContentType); got != report.ContentType {
		t.Errorf("stored content type = %q, want %q", got, report.ContentType)
	}
	if head.ServerSideEncryption != types.ServerSideEncryptionAes256 {
		t.Errorf("stored encryption = %q, want AES256", head.ServerSideEncryption)
	}

	u, err := url.Parse(link)
	if err != nil {
		t.Fatalf("link %q: %v", link, err)
	}
	q := u.Query()
	if got := q.Get("X-Amz-Expires"); got != "86400" {
		t.Errorf("link expires in %q seconds, want 86400", got)
	}
	if q.Get("X-Amz-Algorithm") != "AWS4-HMAC-SHA256" || q.Get("X-Amz-Signature") == "" || u.Path != "/"+bucket+"/"+key {
		t.Errorf("link %q is not a SigV4 presigned GET of s3://%s/%s", link, bucket, key)
	}
	// The link alone, with no credentials, reads the page. (moto does not
	// check the signature: this proves the object and its headers.)
	resp, err := http.Get(link)
	if err != nil {
		t.Fatalf("get link: %v", err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("get link: %s: %s", resp.Status, body)
	}
	if got := resp.Header.Get("Content-Type"); got != report.ContentType {
		t.Errorf("served content type = %q, want %q", got, report.ContentType)
	}
	if !bytes.Equal(body, []byte(page)) {
		t.Errorf("served %d bytes, not the %d uploaded", len(body), len(page))
	}
}

// fakeS3 records the calls and fails them when told.
type fakeS3 struct {
	put     *s3.PutObjectInput
	presign time.Duration
	putErr  error
}

var _ report.S3API = (*fakeS3)(nil)

func (f *fakeS3) PutObject(_ context.Context, in *s3.PutObjectInput, _ ...func(*s3.Options)) (*s3.PutObjectOutput, error) {
	f.put = in
	return &s3.PutObjectOutput{}, f.putErr
}

func (f *fakeS3) PresignGetObject(_ context.Context, in *s3.GetObjectInput, optFns ...func(*s3.PresignOptions)) (*v4.PresignedHTTPRequest, error) {
	var o s3.PresignOptions
	for _, fn := range optFns {
		fn(&o)
	}
	f.presign = o.Expires
	return &v4.PresignedHTTPRequest{URL: "https://example.invalid/" + aws.ToString(in.Key)}, nil
}

func TestUploadValidity(t *testing.T) {
	for _, tc := range []struct {
		name    string
		valid   time.Duration
		want    time.Duration
		wantErr error
	}{
		{"default", 0, 7 * 24 * time.Hour, nil},
		{"three days", 72 * time.Hour, 72 * time.Hour, nil},
		{"over seven days", 8 * 24 * time.Hour, 0, report.ErrLinkValidity},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := &fakeS3{}
			_, err := report.Upload(context.Background(), f, "b", "k", []byte("x"), tc.valid)
			if !errors.Is(err, tc.wantErr) {
				t.Fatalf("err = %v, want %v", err, tc.wantErr)
			}
			if f.presign != tc.want {
				t.Errorf("presigned for %v, want %v", f.presign, tc.want)
			}
		})
	}
}

func TestUploadPutFails(t *testing.T) {
	f := &fakeS3{putErr: errors.New("access denied")}
	_, err := report.Upload(context.Background(), f, "b", "k", []byte("x"), 0)
	if err == nil || !errors.Is(err, f.putErr) {
		t.Fatalf("err = %v, want the put error wrapped", err)
	}
	if f.presign != 0 {
		t.Error("presigned a link to an object that was not put")
	}
}

func TestObjectKey(t *testing.T) {
	got := []string{
		report.ObjectKey(demoAt, "r-20260601T0900Z"),
		report.ObjectKey(demoAt, "../../etc/passwd"),
	}
	want := []string{"reports/2026/06/01/r-20260601T0900Z.html", "reports/2026/06/01/passwd.html"}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
}
