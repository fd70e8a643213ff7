package notify

import (
	"context"
	"errors"
	"fmt"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sesv2"
	"github.com/aws/aws-sdk-go-v2/service/sesv2/types"

	"github.com/keysweep/keysweep/policy"
)

// SESAPI is the part of the SES v2 client Email uses; *sesv2.Client
// satisfies it.
type SESAPI interface {
	SendEmail(ctx context.Context, params *sesv2.SendEmailInput, optFns ...func(*sesv2.Options)) (*sesv2.SendEmailOutput, error)
}

// Email sends notices to key owners through Amazon SES v2.
type Email struct {
	API SESAPI
	// From is the sender (FromEmailAddress): an address of an identity
	// verified in SES, e.g. Sender(policy.Notify, deployment setting).
	From string
	// ConfigurationSet is the SES configuration set to send with (event
	// publishing of bounces and complaints); optional.
	ConfigurationSet string
	Limits
}

// Send e-mails m to one address, with the plain-text and the HTML body, and
// returns SES's message id. Its errors are *SendError: ErrInvalidRecipient
// (nothing sent), ErrNotConfigured (no valid sender), ErrSenderNotVerified,
// ErrSendingBlocked, ErrThrottled (after the bounded retries),
// ErrChannelMissing (no such configuration set), ErrAccessDenied, ErrFailed.
func (e *Email) Send(ctx context.Context, to string, m Message) (messageID string, err error) {
	if cerr := policy.CheckEmail(to); cerr != nil {
		return "", &SendError{Channel: ChannelEmail, Reason: ErrInvalidRecipient, Err: cerr}
	}
	if e.From == "" {
		return "", &SendError{Channel: ChannelEmail, Reason: ErrNotConfigured, Err: errors.New("no sender address")}
	}
	if cerr := policy.CheckEmail(e.From); cerr != nil {
		return "", &SendError{Channel: ChannelEmail, Reason: ErrNotConfigured, Err: fmt.Errorf("sender: %w", cerr)}
	}
	in := &sesv2.SendEmailInput{
		FromEmailAddress: aws.String(e.From),
		Destination:      &types.Destination{ToAddresses: []string{to}},
		Content: &types.EmailContent{Simple: &types.Message{
			Subject: utf8Content(m.Subject),
			Body:    &types.Body{Text: utf8Content(m.Text), Html: utf8Content(m.HTML)},
		}},
		// Tags name the notice in SES's event publishing (bounces,
		// complaints): only letters, digits, _ and - are allowed.
		EmailTags: []types.MessageTag{{Name: aws.String("keysweep-kind"), Value: aws.String(string(m.Kind))}},
	}
	if e.ConfigurationSet != "" {
		in.ConfigurationSetName = aws.String(e.ConfigurationSet)
	}
	ctx, cancel := e.context(ctx)
	defer cancel()
	out, err := e.API.SendEmail(ctx, in, func(o *sesv2.Options) { o.Retryer = e.retryer() })
	if err != nil {
		return "", classify(ChannelEmail, err, sesReason)
	}
	return aws.ToString(out.MessageId), nil
}

func utf8Content(s string) *types.Content {
	return &types.Content{Data: aws.String(s), Charset: aws.String("UTF-8")}
}

// sesReason maps SES v2's modeled SendEmail errors.
func sesReason(err error) error {
	var (
		rejected  *types.MessageRejected
		mailFrom  *types.MailFromDomainNotVerifiedException
		suspended *types.AccountSuspendedException
		paused    *types.SendingPausedException
		tooMany   *types.TooManyRequestsException
		limit     *types.LimitExceededException
		notFound  *types.NotFoundException
		bad       *types.BadRequestException
	)
	switch {
	case errors.As(err, &rejected), errors.As(err, &mailFrom):
		return ErrSenderNotVerified
	case errors.As(err, &suspended), errors.As(err, &paused):
		return ErrSendingBlocked
	case errors.As(err, &tooMany), errors.As(err, &limit):
		return ErrThrottled
	case errors.As(err, &notFound):
		return ErrChannelMissing
	case errors.As(err, &bad):
		return ErrRejected
	}
	return nil
}
