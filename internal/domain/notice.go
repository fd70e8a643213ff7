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
