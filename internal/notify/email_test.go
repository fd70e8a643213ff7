package notify

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sesv2"
	"github.com/aws/aws-sdk-go-v2/service/sesv2/types"
	"github.com/aws/smithy-go"
	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
)

var _ SESAPI = (*sesv2.Client)(nil)

// TestEmailOnMoto sends through moto's SES v2 and reads the message back
// from moto's backend.
func TestEmailOnMoto(t *testing.T) {
	emu := emulator(t)
	client := sesv2.NewFromConfig(emu.Config(t))
	ctx := t.Context()
	for _, id := range []string{"keysweep@example.com", "notices.example.org"} {
		if _, err := client.CreateEmailIdentity(ctx, &sesv2.CreateEmailIdentityInput{EmailIdentity: aws.String(id)}); err != nil {
			t.Fatalf("CreateEmailIdentity %s: %v", id, err)
		}
	}
	m := Compose(KindDeactivated, awsFacts())

	t.Run("verified sender", func(t *testing.T) {
		for _, from := range []string{"keysweep@example.com", "no-reply@notices.example.org"} {
			e := &Email{API: client, From: from, ConfigurationSet: "keysweep"}
			id, err := e.Send(ctx, "alice@example.com", m)
			if err != nil || id == "" {
				t.Fatalf("Send from %s = %q, %v", from, id, err)
			}
			var got *sentEmail
			for _, s := range motoSentEmails(t, emu) {
				if s.ID == id {
					got = &s
				}
			}
			if got == nil {
				t.Fatalf("moto has no sent message %s", id)
			}
			want := sentEmail{ID: id, Source: from, Subject: m.Subject, Body: m.HTML,
				Destinations: map[string][]string{"ToAddresses": {"alice@example.com"}}}
			if diff := cmp.Diff(want, *got); diff != "" {
				t.Errorf("sent message (-want +got):\n%s", diff)
			}
		}
	})

	t.Run("unverified sender", func(t *testing.T) {
		before := len(motoSentEmails(t, emu))
		e := &Email{API: client, From: "keysweep@unverified.example.net"}
		_, err := e.Send(ctx, "alice@example.com", m)
		var rejected *types.MessageRejected
		if !errors.Is(err, ErrSenderNotVerified) || !errors.As(err, &rejected) || FailureCode(err) != "sender-not-verified" {
			t.Fatalf("Send = %v, want ErrSenderNotVerified from MessageRejected", err)
		}
		if after := len(motoSentEmails(t, emu)); after != before {
			t.Errorf("moto sent %d messages, want none", after-before)
		}
	})

	t.Run("invalid recipient makes no call", func(t *testing.T) {
		calls := emu.Calls(t)["ses.POST"]
		e := &Email{API: client, From: "keysweep@example.com"}
		for _, to := range []string{"alice at example.com", "Alice <alice@example.com>", ""} {
			if _, err := e.Send(ctx, to, m); !errors.Is(err, ErrInvalidRecipient) {
				t.Errorf("Send to %q = %v, want ErrInvalidRecipient", to, err)
			}
		}
		if got := emu.Calls(t)["ses.POST"]; got != calls {
			t.Errorf("SES was called %d times for invalid recipients", got-calls)
		}
	})
}

// sesFake answers SendEmail with err, or a message id, and keeps the input.
type sesFake struct {
	err error
	in  []*sesv2.SendEmailInput
}

var _ SESAPI = (*sesFake)(nil)

func (f *sesFake) SendEmail(_ context.Context, in *sesv2.SendEmailInput, _ ...func(*sesv2.Options)) (*sesv2.SendEmailOutput, error) {
	f.in = append(f.in, in)
	if f.err != nil {
		return nil, f.err
	}
	return &sesv2.SendEmailOutput{MessageId: aws.String("m-1")}, nil
}

// TestEmailRequest holds the request to what SES v2 documents: a Simple
// message with both bodies in UTF-8, the sender, one recipient, the
// configuration set. moto keeps only one body, so this is checked here.
func TestEmailRequest(t *testing.T) {
	fake := &sesFake{}
	m := Compose(KindWarning, goldenCases()["warning"].facts)
	e := &Email{API: fake, From: "keysweep@example.com", ConfigurationSet: "notices"}
	if id, err := e.Send(t.Context(), "alice@example.com", m); err != nil || id != "m-1" {
		t.Fatalf("Send = %q, %v", id, err)
	}
	utf8 := func(s string) *types.Content {
		return &types.Content{Data: aws.String(s), Charset: aws.String("UTF-8")}
	}
	want := &sesv2.SendEmailInput{
		FromEmailAddress:     aws.String("keysweep@example.com"),
		Destination:          &types.Destination{ToAddresses: []string{"alice@example.com"}},
		ConfigurationSetName: aws.String("notices"),
		Content: &types.EmailContent{Simple: &types.Message{
			Subject: utf8(m.Subject),
			Body:    &types.Body{Text: utf8(m.Text), Html: utf8(m.HTML)},
		}},
		EmailTags: []types.MessageTag{{Name: aws.String("keysweep-kind"), Value: aws.String("warning")}},
	}
	if diff := cmp.Diff(want, fake.in[0], cmpopts.IgnoreUnexported(sesv2.SendEmailInput{}, types.Destination{},
		types.EmailContent{}, types.Message{}, types.Content{}, types.Body{}, types.MessageTag{})); diff != "" {
		t.Errorf("SendEmailInput (-want +got):\n%s", diff)
	}
}

// TestEmailErrors maps every SES v2 SendEmail error to its reason. moto
// raises only MessageRejected (an unverified sender); the others come from
// the fake.
func TestEmailErrors(t *testing.T) {
	tests := []struct {
		err  error
		want string
	}{
		{&types.MessageRejected{Message: aws.String("Email address is not verified.")}, "sender-not-verified"},
		{&types.MailFromDomainNotVerifiedException{}, "sender-not-verified"},
		{&types.AccountSuspendedException{}, "sending-blocked"},
		{&types.SendingPausedException{}, "sending-blocked"},
		{&types.TooManyRequestsException{}, "throttled"},
		{&types.LimitExceededException{}, "throttled"},
		{&types.NotFoundException{Message: aws.String("configuration set notices does not exist")}, "channel-missing"},
		{&types.BadRequestException{}, "rejected"},
		{&smithy.GenericAPIError{Code: "AccessDeniedException"}, "access-denied"},
		{&smithy.GenericAPIError{Code: "Throttling"}, "throttled"},
		{errors.New("dial tcp: connection refused"), "failed"},
		{context.DeadlineExceeded, "failed"},
	}
	for _, tc := range tests {
		t.Run(tc.want+"/"+tc.err.Error(), func(t *testing.T) {
			e := &Email{API: &sesFake{err: tc.err}, From: "keysweep@example.com"}
			_, err := e.Send(t.Context(), "alice@example.com", Message{Kind: KindDeleted})
			var se *SendError
			if !errors.As(err, &se) || se.Channel != ChannelEmail || !errors.Is(err, tc.err) {
				t.Fatalf("Send = %v, want a *SendError of channel email wrapping %v", err, tc.err)
			}
			if got := FailureCode(err); got != tc.want {
				t.Errorf("FailureCode = %q, want %q (%v)", got, tc.want, err)
			}
		})
	}

	t.Run("sender", func(t *testing.T) {
		for _, from := range []string{"", "Keysweep <keysweep@example.com>"} {
			fake := &sesFake{}
			_, err := (&Email{API: fake, From: from}).Send(t.Context(), "alice@example.com", Message{})
			if !errors.Is(err, ErrNotConfigured) || len(fake.in) != 0 {
				t.Errorf("From %q: Send = %v after %d calls, want ErrNotConfigured and no call", from, err, len(fake.in))
			}
		}
	})
	if got := FailureCode(nil); got != "" {
		t.Errorf("FailureCode(nil) = %q", got)
	}
	if !strings.Contains((&SendError{Channel: ChannelEmail, Reason: ErrThrottled}).Error(), "email: throttled") {
		t.Error("SendError without a cause reads badly")
	}
}
