// Package notify tells people about keysweep's decisions: it composes the
// notices (a warning before a key becomes stale, a deactivation, a
// deletion, a revocation, a notice period, a run summary) and sends them
// through three channels on AWS services:
//
//   - Email: the key's owner, through Amazon SES v2 (SendEmail with a
//     plain-text and an HTML body);
//   - Team: the stack's SNS topic, one message per notice or run summary,
//     with message attributes (kind, account, provider, user) that
//     subscription filter policies match;
//   - Findings: AWS Security Hub, one finding per stale or soon-stale key in
//     the AWS Security Finding Format, resolved when the key is acted on,
//     exempted or fresh again.
//
// Each channel takes the SDK client through a narrow interface declared
// here. Every failure comes back as a *SendError that wraps one of the
// sentinel errors (ErrInvalidRecipient, ErrSenderNotVerified, ...), so the
// caller can record and count it; nothing here panics, retries without a
// bound, or decides whether a key is acted on. The package imports the
// domain and policy packages, never the engine.
package notify
