package domain

import (
	"errors"
	"time"

	"github.com/keysweep/keysweep/policy"
)

// RecordKind is what a history record says.
type RecordKind = string

// Record kinds.
const (
	KindDecision RecordKind = "decision" // a non-keep decision (exempt, or an action not taken)
	KindIntent   RecordKind = "intent"   // written before the key store call
	KindOutcome  RecordKind = "outcome"  // written after it
	KindNotice   RecordKind = "notice"   // a notice to a person, before and after it is sent
)

// Action is what an intent means to do to a key.
type Action = string

// Actions.
const (
	ActionDeactivate Action = "deactivate"
	ActionDelete     Action = "delete"
	// ActionMarkDue starts a key's notice period in a store that cannot
	// deactivate: no key store call, only keysweep's state.
	ActionMarkDue Action = "mark-due"
	// ActionClearDue ends a notice period of a key no longer stale.
	ActionClearDue Action = "clear-due"
)

// Result is what became of an intent (outcome records) or a request.
type Result = string

// Results.
const (
	ResultDone            Result = "done"             // the key store call succeeded
	ResultGone            Result = "gone"             // the key was already gone
	ResultFailed          Result = "failed"           // the call failed; Error says why
	ResultKept            Result = "kept"             // the live re-check kept the key; no call
	ResultAlreadyInactive Result = "already-inactive" // the key was inactive already; no call
	ResultSettled         Result = "settled"          // a crashed intent found applied by a later run
	ResultNotApplied      Result = "not-applied"      // a crashed intent found not applied; cleared
)

// Record is one immutable audit record about one key.
type Record struct {
	Kind          RecordKind     `json:"kind" dynamodbav:"kind"`
	RunID         string         `json:"runId" dynamodbav:"runId"`
	Account       string         `json:"account" dynamodbav:"account"`
	Provider      Provider       `json:"provider,omitempty" dynamodbav:"provider,omitempty"` // empty: aws
	UserName      string         `json:"userName" dynamodbav:"userName"`
	AccessKeyID   string         `json:"accessKeyId" dynamodbav:"accessKeyId"`
	Decision      policy.Verdict `json:"decision" dynamodbav:"decision"`
	Reason        string         `json:"reason" dynamodbav:"reason"`
	Rule          string         `json:"rule,omitempty" dynamodbav:"rule,omitempty"`
	PolicyVersion string         `json:"policyVersion" dynamodbav:"policyVersion"`
	Mode          policy.Mode    `json:"mode" dynamodbav:"mode"`
	At            time.Time      `json:"at" dynamodbav:"at"`
	Action        Action         `json:"action,omitempty" dynamodbav:"action,omitempty"` // deactivate | delete | mark-due
	Result        Result         `json:"result,omitempty" dynamodbav:"result,omitempty"` // outcomes only
	Error         string         `json:"error,omitempty" dynamodbav:"error,omitempty"`
	Actor         string         `json:"actor,omitempty" dynamodbav:"actor,omitempty"` // API caller ARN, or the run's trigger
	Exempt        bool           `json:"exempt,omitempty" dynamodbav:"exempt,omitempty"`
	// KeyCreatedAt is when the key was created: with the owner, it finds
	// the key's id again in a source that has no ids (the credential
	// report).
	KeyCreatedAt *time.Time `json:"keyCreatedAt,omitempty" dynamodbav:"keyCreatedAt,omitempty"`
	// Notice fields (KindNotice).
	Notice *Notice `json:"notice,omitempty" dynamodbav:"notice,omitempty"`
	// Chain links the key's records: Seq counts them from 1, PrevHash is
	// the hash of the record before, Hash this record's own. Records
	// written before the chain existed have none.
	Seq      int64  `json:"seq,omitempty" dynamodbav:"seq,omitempty"`
	PrevHash string `json:"prevHash,omitempty" dynamodbav:"prevHash,omitempty"`
	Hash     string `json:"hash,omitempty" dynamodbav:"hash,omitempty"`
}

// Notice is what a notice record says: who is told what, how, and what
// became of it.
type Notice struct {
	Kind      string     `json:"kind" dynamodbav:"kind"` // warning | deactivated | deleted | revoked | due
	Channel   string     `json:"channel" dynamodbav:"channel"`
	Recipient string     `json:"recipient,omitempty" dynamodbav:"recipient,omitempty"`
	DueDate   *time.Time `json:"dueDate,omitempty" dynamodbav:"dueDate,omitempty"`
	MessageID string     `json:"messageId,omitempty" dynamodbav:"messageId,omitempty"`
	Status    string     `json:"status" dynamodbav:"status"` // sending | sent | failed | unknown
	Error     string     `json:"error,omitempty" dynamodbav:"error,omitempty"`
	// Claim names the notice once and for all (kind, channel, date and
	// warning day or acting run): the journal's claim on it keeps it from
	// being sent twice.
	Claim string `json:"claim,omitempty" dynamodbav:"claim,omitempty"`
}

// Stage is where a key is in keysweep's lifecycle.
type Stage = string

// Key stages kept in KeyState.
const (
	StageDeactivated Stage = "deactivated" // keysweep deactivated it at DeactivatedAt
	StageInactive    Stage = "inactive"    // keysweep first saw it inactive at DeactivatedAt
	StageDue         Stage = "due"         // a store without status: marked due at DeactivatedAt
	StageDeleted     Stage = "deleted"
)

// KeyState is keysweep's mutable state for one key: where it is in the
// deactivate-then-delete lifecycle, and any unsettled intent.
type KeyState struct {
	Account     string   `json:"account" dynamodbav:"account"`
	Provider    Provider `json:"provider,omitempty" dynamodbav:"provider,omitempty"`
	AccessKeyID string   `json:"accessKeyId" dynamodbav:"accessKeyId"`
	UserName    string   `json:"userName" dynamodbav:"userName"`
	Stage       Stage    `json:"stage,omitempty" dynamodbav:"stage,omitempty"`
	// DeactivatedAt is when keysweep deactivated the key, first saw it
	// inactive, or (a store without status) marked it due: the start of
	// the delete clock.
	DeactivatedAt *time.Time `json:"deactivatedAt,omitempty" dynamodbav:"deactivatedAt,omitempty"`
	DeletedAt     *time.Time `json:"deletedAt,omitempty" dynamodbav:"deletedAt,omitempty"`
	// Intent is the unsettled intent, if any.
	Intent *Record `json:"intent,omitempty" dynamodbav:"intent,omitempty"`
	// Head is the hash chain's last record: its sequence number and hash.
	HeadSeq  int64  `json:"headSeq,omitempty" dynamodbav:"headSeq,omitempty"`
	HeadHash string `json:"headHash,omitempty" dynamodbav:"headHash,omitempty"`
}

// Journal errors a caller branches on.
var (
	// ErrNotFound: no such run, policy or key record.
	ErrNotFound = errors.New("not found")
	// ErrIntentPending: the key already has an unsettled intent (another run
	// is acting on it, or crashed while acting); nothing was written.
	ErrIntentPending = errors.New("key has an unsettled intent")
	// ErrNoIntent: an outcome found no matching intent to settle.
	ErrNoIntent = errors.New("no matching intent")
	// ErrInvalidRecord: a record or run lacks a field the journal needs.
	ErrInvalidRecord = errors.New("invalid audit record")
	// ErrRunExists: a queued run's id is taken already.
	ErrRunExists = errors.New("run already exists")
)
