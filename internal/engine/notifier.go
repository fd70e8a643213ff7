package engine

import (
	"context"

	"github.com/keysweep/keysweep/internal/domain"
)

// Notifier is the engine's optional port to the people told of its
// decisions: a key's owner by e-mail, the team on a topic, and the
// security team through findings. The engine decides who is told what and
// when, claims each notice in the journal before it is sent and records
// what became of it after; the adapter (SES, SNS and Security Hub in a
// deployment) composes and delivers. Nil tells no one.
//
// A delivery that fails returns an error that says why (an invalid
// address, an unverified sender, throttling, a missing topic); the engine
// records it on the notice and counts it on the run, and never lets it
// change what is done to a key.
type Notifier interface {
	// Channels says which channels the deployment has.
	Channels() Channels
	// Email sends n to one owner's address and returns the provider's
	// message id. n.Sender is the policy's sender ("" for the
	// deployment's).
	Email(ctx context.Context, to string, n Notice) (messageID string, err error)
	// Team publishes n (a key's notice or a run summary) to the team
	// topic and returns the message id.
	Team(ctx context.Context, n Notice) (messageID string, err error)
	// Findings imports the keys' findings (in batches the service takes)
	// and returns the ones that did not get through.
	Findings(ctx context.Context, fs []Finding) []FindingFailure
}

// Channels are the channels a deployment has.
type Channels struct {
	// Email: the deployment has a sender (the policy's notify.sender,
	// when set, is the From address instead).
	Email bool
	// Topic names the team topic ("" none).
	Topic string
	// Findings: findings go to Security Hub.
	Findings bool
}

// Notice kinds: what a notice tells.
const (
	NoticeWarning     = "warning"     // the key becomes stale on a day ahead
	NoticeDeactivated = "deactivated" // keysweep deactivated it; it is deleted later
	NoticeDeleted     = "deleted"     // keysweep deleted it
	NoticeRevoked     = "revoked"     // revoked through the API (or the CLI)
	NoticeDue         = "due"         // a store without status: the notice period started
	NoticeRunSummary  = "run-summary" // what one run did (the team topic)
)

// Notice is what one notice says, in provider-neutral facts (the
// adapter composes it).
type Notice = domain.NoticeFacts

// Finding is one key as the security team's tools are told of it.
type Finding = domain.KeyFinding

// FindingFailure is a finding that did not get through.
type FindingFailure struct {
	KeyID string
	Err   error
}

// NoticeJournal is the journal's ability to claim notices and keep track
// of open findings; the engine sends notices only through a journal that
// has it (the DynamoDB and in-memory journals do), found in one place
// (notices.go).
type NoticeJournal interface {
	// Claimed reports whether a key's notice was claimed already (a cheap
	// read before anything is prepared for it).
	Claimed(ctx context.Context, accessKeyID, claim string) (bool, error)
	// ClaimNotice appends the notice record rec ("sending", or "failed"
	// when nothing can be sent) and takes its claim (rec.Notice.Claim);
	// domain.ErrNoticeClaimed when it was taken before, and nothing is
	// written.
	ClaimNotice(ctx context.Context, rec domain.Record) error
	// SettleNotice appends the notice's settlement (sent, failed or
	// unknown) and settles its claim; domain.ErrNoticeSettled when the
	// claim was settled already.
	SettleNotice(ctx context.Context, rec domain.Record) error
	// PendingNotices lists the scope's claimed, unsettled notices.
	PendingNotices(ctx context.Context, scope string) ([]domain.Record, error)
	// OpenFindings lists the scope's keys whose finding is open;
	// MarkFinding and ClearFinding open and resolve one.
	OpenFindings(ctx context.Context, scope string) ([]domain.FindingMark, error)
	MarkFinding(ctx context.Context, scope string, f domain.FindingMark) error
	ClearFinding(ctx context.Context, scope, accessKeyID string) error
}
