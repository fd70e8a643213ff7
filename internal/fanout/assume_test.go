package fanout_test

import (
	"context"
	"errors"
	"github.com/keysweep/keysweep/internal/fanout"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sts"
	"github.com/aws/aws-sdk-go-v2/service/sts/types"
)

// recordingSTS answers AssumeRole and keeps what it was asked.
type recordingSTS struct {
	got []*sts.AssumeRoleInput
	err error
}

func (r *recordingSTS) AssumeRole(_ context.Context, in *sts.AssumeRoleInput, _ ...func(*sts.Options)) (*sts.AssumeRoleOutput, error) {
	r.got = append(r.got, in)
	if r.err != nil {
		return nil, r.err
	}
	return &sts.AssumeRoleOutput{Credentials: &types.Credentials{
		AccessKeyId: aws.String("ASIAEXAMPLEEXAMPLE"), SecretAccessKey: aws.String("secret"),
		SessionToken: aws.String("token"), Expiration: aws.Time(time.Now().Add(time.Hour)),
	}}, nil
}

// The worker assumes exactly the member role named by the parameter, in the
// account of the message and the stack's partition, with the external id
// that the member role's trust policy requires, and a session name that
// shows the organization run in the member account's CloudTrail.
func TestAssumeRoleOpenerSendsRoleAndExternalID(t *testing.T) {
	rec := &recordingSTS{}
	o := &fanout.AssumeRoleOpener{STS: rec, Partition: "aws-us-gov", RoleName: "keysweep-member", ExternalID: "ext-123", Logger: quietLogger()}
	if _, err := o.Open(t.Context(), "123456789012", fanout.RoleSessionName("org-run-1")); err != nil {
		t.Fatal(err)
	}
	if len(rec.got) != 1 {
		t.Fatalf("%d AssumeRole calls, want 1 (at once, before the run starts)", len(rec.got))
	}
	in := rec.got[0]
	if got, want := aws.ToString(in.RoleArn), "arn:aws-us-gov:iam::123456789012:role/keysweep-member"; got != want {
		t.Errorf("RoleArn %s, want %s", got, want)
	}
	if got := aws.ToString(in.ExternalId); got != "ext-123" {
		t.Errorf("ExternalId %q, want ext-123", got)
	}
	if got := aws.ToString(in.RoleSessionName); got != "keysweep-org-run-1" {
		t.Errorf("fanout.RoleSessionName %q", got)
	}
}

// A role that cannot be assumed fails Open, naming the role.
func TestAssumeRoleOpenerRefused(t *testing.T) {
	o := &fanout.AssumeRoleOpener{STS: &recordingSTS{err: errors.New("AccessDenied")}, RoleName: "keysweep-member", ExternalID: "x", Logger: quietLogger()}
	_, err := o.Open(t.Context(), "123456789012", "s")
	if err == nil || !strings.Contains(err.Error(), "arn:aws:iam::123456789012:role/keysweep-member") || !strings.Contains(err.Error(), "AccessDenied") {
		t.Errorf("err %v, want one naming the role and the cause", err)
	}
}
