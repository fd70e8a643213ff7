package domain

import (
	"errors"
	"time"
)

// Notice statuses: a notice record is written "sending" before the send
// (with its claim) and settled after it as "sent" or "failed"; a send
// whose run ended before it was settled is settled by a later run as
// "unknown", and never sent again.
const (
	NoticeSending = "sending"
	NoticeSent    = "sent"
	NoticeFailed  = "failed"
	NoticeUnknown = "unknown"
)

// Notice channels, as notice records name them.
const (
	ChannelEmail    = "email"
	ChannelTeam     = "sns"
	ChannelFindings = "securityhub"
)

// Counters of notices on a run record.
const (
	CountNoticesSent    = "noticesSent"
	CountNoticesFailed  = "noticesFailed"
	CountNoticesUnknown = "noticesUnknown" // crashed sends settled as unknown
	CountFindings       = "findings"       // findings imported into Security Hub
)

// Notice journal errors a caller branches on.
var (
	// ErrNoticeClaimed: the notice's claim is taken: it was sent (or
	// tried, or is being sent) already. Nothing was written.
	ErrNoticeClaimed = errors.New("notice already claimed")
	// ErrNoticeSettled: the claim is no longer "sending": another run
	// settled it first. Nothing was written.
	ErrNoticeSettled = errors.New("notice already settled")
)

// FindingMark is a key whose Security Hub finding keysweep left open
// (FAILED): a later run resolves it when the key is acted on, exempt,
// fresh again or gone.
type FindingMark struct {
	AccessKeyID  string     `json:"accessKeyId" dynamodbav:"accessKeyId"`
	Account      string     `json:"account" dynamodbav:"account"`
	Provider     Provider   `json:"provider,omitempty" dynamodbav:"provider,omitempty"`
	UserName     string     `json:"userName" dynamodbav:"userName"`
	KeyCreatedAt *time.Time `json:"keyCreatedAt,omitempty" dynamodbav:"keyCreatedAt,omitempty"`
	// OpenedAt is when keysweep first found the key stale or soon stale:
	// the finding's CreatedAt and FirstObservedAt.
	OpenedAt time.Time `json:"openedAt" dynamodbav:"openedAt"`
}

// NoticeFacts is what one notice says, in provider-neutral facts: the
// engine decides them, a notifier adapter composes and delivers them. Key
// notices fill the key's fields; a run summary fills Run, Decisions and
// Report.
type NoticeFacts struct {
	Kind string
	// Sender is the policy's notify.sender; "" for the deployment's.
	Sender   string
	Provider Provider
	Account  string
	Target   string
	User     string
	KeyID    string
	KeyName  string
	Status   Status
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
	Action        Action
	// Run and Decisions are a run summary's: the finished run and its
	// decisions other than keep. Report links its report when it has one
	// (a presigned URL, which lasts hours; or an s3:// URI), ReportObject
	// is where the report stays (its s3:// URI).
	Run          *Run
	Decisions    []KeyDecision
	Report       string
	ReportObject string
}

// Resolutions of a finding: open, or why it is resolved.
// FindingResolution says why a key's finding is resolved; empty for an
// open one.
type FindingResolution string

const (
	FindingOpen        FindingResolution = ""
	FindingDeactivated FindingResolution = "deactivated" // acted on: the key can no longer be used
	FindingDeleted     FindingResolution = "deleted"     // acted on, or gone
	FindingExempt      FindingResolution = "exempt"      // the policy exempts it now
	FindingFresh       FindingResolution = "fresh"       // within the limits again
)

// KeyFinding is one key as the security team's tools are told of it: open
// (FAILED) while the key is stale or soon stale, resolved once it is not.
type KeyFinding struct {
	Provider      Provider
	Account       string
	Target        string
	User          string
	KeyID         string
	KeyName       string
	Status        Status
	CreatedAt     time.Time
	LastUsedAt    *time.Time
	Reason        string
	Rule          string
	StaleAt       time.Time
	PolicyVersion string
	RunID         string
	Resolution    FindingResolution
	// FirstSeen is when keysweep first found the key stale or soon stale.
	FirstSeen time.Time
}
