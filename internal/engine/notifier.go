package engine

import (
	"context"
	"time"

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

// Notice is what one notice says, in provider-neutral facts. Key notices
// fill the key's fields; a run summary fills Run, Decisions and Report.
type Notice struct {
	Kind string
	// Sender is the policy's notify.sender; "" for the deployment's.
	Sender   string
	Provider domain.Provider
	Account  string
	Target   string
	User     string
	KeyID    string
	KeyName  string
	Status   domain.Status
	// CreatedAt and LastUsedAt are the key's (nil: never used, or not
	// known).
	CreatedAt  time.Time
	LastUsedAt *time.Time
	// Reason and Rule are the decision's.
	Reason string
	Rule   string
	// StaleAt is when the key becomes (or became) stale, and StaleWhy
	// why, as policy.StaleAt gives them.
	StaleAt  time.Time
	StaleWhy string
	// At is when it happened: the action, or the warning's run.
	At time.Time
	// DeleteOn is when the key is to be deleted (deactivated, due).
	DeleteOn *time.Time
	// DeleteAfterDays is the key's delete clock (what a warning says
	// follows the deactivation).
	DeleteAfterDays int
	// ExemptionTag is the policy's exemption tag (how to keep a key).
	ExemptionTag  string
	RunID         string
	PolicyVersion string
	// RequestedBy, RequestReason and Action are a revocation's.
	RequestedBy   string
	RequestReason string
	Action        domain.Action
	// Run and Decisions are a run summary's: the finished run and its
	// decisions other than keep; Report links its report when it has one
	// (a URL or an s3:// URI).
	Run       *domain.Run
	Decisions []domain.KeyDecision
	Report    string
}

// Resolutions of a finding: open, or why it is resolved.
const (
	FindingOpen        = ""
	FindingDeactivated = "deactivated" // acted on: the key can no longer be used
	FindingDeleted     = "deleted"     // acted on, or gone
	FindingExempt      = "exempt"      // the policy exempts it now
	FindingFresh       = "fresh"       // within the limits again
)

// Finding is one key as the security team's tools are told of it: open
// (FAILED) while the key is stale or soon stale, resolved once it is not.
type Finding struct {
	Provider      domain.Provider
	Account       string
	Target        string
	User          string
	KeyID         string
	KeyName       string
	Status        domain.Status
	CreatedAt     time.Time
	LastUsedAt    *time.Time
	Reason        string
	Rule          string
	StaleAt       time.Time
	PolicyVersion string
	RunID         string
	Resolution    string
	// FirstSeen is when keysweep first found the key stale or soon stale.
	FirstSeen time.Time
}

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
