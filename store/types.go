// Package store keeps keysweep's state in DynamoDB: the policy table (one
// item per policy document) and the audit table (runs, decisions, write-ahead
// intents and outcomes, per-key state, event de-duplication, resume cursors).
// Mem is an in-process implementation of the same contract for unit tests of
// paths the emulator cannot produce.
package store

import (
	"errors"
	"fmt"
	"time"

	"github.com/keysweep/keysweep/policy"
)

// Errors a caller branches on.
var (
	// ErrNotFound: no such run, policy or key record.
	ErrNotFound = errors.New("not found")
	// ErrIntentPending: the key already has an unsettled intent (another run
	// is acting on it, or crashed while acting); nothing was written.
	ErrIntentPending = errors.New("key has an unsettled intent")
	// ErrNoIntent: WriteOutcome found no matching intent to settle.
	ErrNoIntent = errors.New("no matching intent")
)

// DuplicateEventError is returned by BeginRun when the trigger's event id was
// already seen; RunID names the run that took it.
type DuplicateEventError struct {
	EventID string
	RunID   string
}

func (e *DuplicateEventError) Error() string {
	return fmt.Sprintf("event %s already handled by run %s", e.EventID, e.RunID)
}

// Trigger says what started a run.
type Trigger struct {
	Kind    string `json:"kind" dynamodbav:"kind"`                         // schedule | manual | cli | api | org
	Source  string `json:"source,omitempty" dynamodbav:"source,omitempty"` // rule ARN, caller ARN, host user
	EventID string `json:"eventId,omitempty" dynamodbav:"eventId,omitempty"`
}

// Run outcomes.
const (
	OutcomeRunning   = "running"
	OutcomeCompleted = "completed"
	OutcomePartial   = "partial"   // stopped before the deadline; the next run resumes
	OutcomeBlocked   = "blocked"   // blast-radius cap: nothing changed
	OutcomeFailed    = "failed"    // invalid policy or an error: see Errors
	OutcomeDuplicate = "duplicate" // event already handled
)

// Run is the record of one sweep.
type Run struct {
	RunID         string         `json:"runId" dynamodbav:"runId"`
	Account       string         `json:"account" dynamodbav:"account"`
	Trigger       Trigger        `json:"trigger" dynamodbav:"trigger"`
	StartedAt     time.Time      `json:"startedAt" dynamodbav:"startedAt"`
	FinishedAt    *time.Time     `json:"finishedAt,omitempty" dynamodbav:"finishedAt,omitempty"`
	DurationMs    int64          `json:"durationMs" dynamodbav:"durationMs"`
	PolicyVersion string         `json:"policyVersion" dynamodbav:"policyVersion"`
	PolicySource  string         `json:"policySource" dynamodbav:"policySource"` // stored | builtin-default | file
	Mode          policy.Mode    `json:"mode" dynamodbav:"mode"`
	Inventory     string         `json:"inventory,omitempty" dynamodbav:"inventory,omitempty"` // credential-report | list
	Users         []string       `json:"users,omitempty" dynamodbav:"users,omitempty"`         // narrowed to these users
	Counts        map[string]int `json:"counts" dynamodbav:"counts"`
	Outcome       string         `json:"outcome" dynamodbav:"outcome"`
	Errors        []string       `json:"errors,omitempty" dynamodbav:"errors,omitempty"`
	// ResumeAfter is the last user fully handled by a partial run.
	ResumeAfter string `json:"resumeAfter,omitempty" dynamodbav:"resumeAfter,omitempty"`
	// Parent is the organization run this account run belongs to.
	Parent string `json:"parent,omitempty" dynamodbav:"parent,omitempty"`
}

// Record kinds.
const (
	KindDecision = "decision" // a non-keep decision (exempt, or an action not taken: audit mode, blocked)
	KindIntent   = "intent"   // written before the IAM call
	KindOutcome  = "outcome"  // written after it
)

// Outcome results.
const (
	ResultDone       = "done"        // the IAM call succeeded
	ResultGone       = "gone"        // NoSuchEntity: the key was already gone
	ResultFailed     = "failed"      // the IAM call failed; Error says why
	ResultKept       = "kept"        // the live re-check kept the key; no IAM call
	ResultSettled    = "settled"     // a crashed intent found applied by a later run
	ResultNotApplied = "not-applied" // a crashed intent found not applied; cleared
)

// Record is one immutable audit record about one key.
type Record struct {
	Kind          string         `json:"kind" dynamodbav:"kind"`
	RunID         string         `json:"runId" dynamodbav:"runId"`
	Account       string         `json:"account" dynamodbav:"account"`
	UserName      string         `json:"userName" dynamodbav:"userName"`
	AccessKeyID   string         `json:"accessKeyId" dynamodbav:"accessKeyId"`
	Decision      policy.Verdict `json:"decision" dynamodbav:"decision"`
	Reason        string         `json:"reason" dynamodbav:"reason"`
	Rule          string         `json:"rule,omitempty" dynamodbav:"rule,omitempty"`
	PolicyVersion string         `json:"policyVersion" dynamodbav:"policyVersion"`
	Mode          policy.Mode    `json:"mode" dynamodbav:"mode"`
	At            time.Time      `json:"at" dynamodbav:"at"`
	Action        string         `json:"action,omitempty" dynamodbav:"action,omitempty"` // deactivate | delete
	Result        string         `json:"result,omitempty" dynamodbav:"result,omitempty"` // outcomes only
	Error         string         `json:"error,omitempty" dynamodbav:"error,omitempty"`
	Actor         string         `json:"actor,omitempty" dynamodbav:"actor,omitempty"` // API caller ARN, or "keysweep"
	Exempt        bool           `json:"exempt,omitempty" dynamodbav:"exempt,omitempty"`
}

// Key stages kept in KeyState.
const (
	StageDeactivated = "deactivated" // keysweep deactivated it at DeactivatedAt
	StageInactive    = "inactive"    // keysweep first saw it inactive at DeactivatedAt
	StageDeleted     = "deleted"
)

// KeyState is keysweep's mutable state for one key: where it is in the
// deactivate-then-delete lifecycle, and any unsettled intent.
type KeyState struct {
	Account       string     `json:"account" dynamodbav:"account"`
	AccessKeyID   string     `json:"accessKeyId" dynamodbav:"accessKeyId"`
	UserName      string     `json:"userName" dynamodbav:"userName"`
	Stage         string     `json:"stage,omitempty" dynamodbav:"stage,omitempty"`
	DeactivatedAt *time.Time `json:"deactivatedAt,omitempty" dynamodbav:"deactivatedAt,omitempty"`
	DeletedAt     *time.Time `json:"deletedAt,omitempty" dynamodbav:"deletedAt,omitempty"`
	// Intent is the unsettled intent, if any.
	Intent *Record `json:"intent,omitempty" dynamodbav:"intent,omitempty"`
}
