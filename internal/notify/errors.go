package notify

import (
	"errors"
	"fmt"

	"github.com/aws/smithy-go"
)

// Why a notice was not delivered. Every channel error is a *SendError
// wrapping exactly one of these, so that errors.Is tells the caller what to
// record and count; FailureCode names them for records and metrics.
var (
	// ErrNoRecipient: the owner has no address (no tag) and the policy
	// names no fallback. Nothing was sent.
	ErrNoRecipient = errors.New("no recipient address")
	// ErrInvalidRecipient: the owner tag (or the address given) is not an
	// e-mail address. Nothing was sent.
	ErrInvalidRecipient = errors.New("recipient is not an e-mail address")
	// ErrSenderNotVerified: SES refused the sender: the identity is not
	// verified (MessageRejected; in the SES sandbox also an unverified
	// recipient), or its custom MAIL FROM domain is not
	// (MailFromDomainNotVerified).
	ErrSenderNotVerified = errors.New("sender identity not verified")
	// ErrSendingBlocked: SES does not send for this account or
	// configuration set (AccountSuspended, SendingPaused: usually after
	// too many bounces or complaints).
	ErrSendingBlocked = errors.New("sending blocked")
	// ErrThrottled: the service throttled the call, and the bounded retries
	// did not get it through (TooManyRequests, LimitExceeded, Throttled...).
	ErrThrottled = errors.New("throttled")
	// ErrChannelMissing: the channel is not there: the SNS topic or the
	// SES configuration set does not exist, or Security Hub is not enabled.
	ErrChannelMissing = errors.New("channel missing")
	// ErrAccessDenied: the role may not use the channel.
	ErrAccessDenied = errors.New("access denied")
	// ErrNotConfigured: the channel lacks a setting (no sender, no topic).
	ErrNotConfigured = errors.New("channel not configured")
	// ErrRejected: the service refused this one item for another reason (a
	// finding Security Hub did not import, an invalid parameter).
	ErrRejected = errors.New("rejected")
	// ErrFailed: anything else (a network error, a timeout, a 5xx).
	ErrFailed = errors.New("send failed")
)

// Channel names a way of telling.
type Channel string

// Channels.
const (
	ChannelEmail    Channel = "email"
	ChannelTeam     Channel = "sns"
	ChannelFindings Channel = "securityhub"
)

// SendError is a notice that did not go out: the channel, why (one of the
// sentinel errors above) and the cause, typically the SDK's error.
type SendError struct {
	Channel Channel
	Reason  error
	Err     error
}

func (e *SendError) Error() string {
	if e.Err == nil {
		return fmt.Sprintf("%s: %v", e.Channel, e.Reason)
	}
	return fmt.Sprintf("%s: %v: %v", e.Channel, e.Reason, e.Err)
}

// Unwrap gives both the reason and the cause to errors.Is and errors.As.
func (e *SendError) Unwrap() []error {
	if e.Err == nil {
		return []error{e.Reason}
	}
	return []error{e.Reason, e.Err}
}

// FailureCode names the reason of err for a notice record or a counter:
// "no-recipient", "invalid-recipient", "sender-not-verified",
// "sending-blocked", "throttled", "channel-missing", "access-denied",
// "not-configured", "rejected" or "failed"; "" for nil.
func FailureCode(err error) string {
	if err == nil {
		return ""
	}
	for _, c := range failureCodes {
		if errors.Is(err, c.err) {
			return c.code
		}
	}
	return "failed"
}

var failureCodes = []struct {
	err  error
	code string
}{
	{ErrNoRecipient, "no-recipient"},
	{ErrInvalidRecipient, "invalid-recipient"},
	{ErrSenderNotVerified, "sender-not-verified"},
	{ErrSendingBlocked, "sending-blocked"},
	{ErrThrottled, "throttled"},
	{ErrChannelMissing, "channel-missing"},
	{ErrAccessDenied, "access-denied"},
	{ErrNotConfigured, "not-configured"},
	{ErrRejected, "rejected"},
}

// classify wraps a failed call's error in a *SendError. byType maps the
// service's own modeled errors (matched with errors.As) to a reason, or
// gives nil; the codes every AWS service shares are handled here.
func classify(ch Channel, err error, byType func(error) error) error {
	if err == nil {
		return nil
	}
	reason := byType(err)
	if reason == nil {
		reason = commonReason(err)
	}
	return &SendError{Channel: ch, Reason: reason, Err: err}
}

// commonReason maps the error codes all AWS services use.
func commonReason(err error) error {
	var ae smithy.APIError
	if errors.As(err, &ae) {
		switch ae.ErrorCode() {
		case "Throttling", "ThrottlingException", "ThrottledException", "TooManyRequestsException",
			"RequestLimitExceeded", "RequestThrottled", "LimitExceededException", "SlowDown":
			return ErrThrottled
		case "AccessDenied", "AccessDeniedException", "AuthorizationError", "UnauthorizedOperation":
			return ErrAccessDenied
		}
	}
	return ErrFailed
}
