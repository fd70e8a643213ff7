package domain

import (
	"fmt"
	"time"

	"github.com/keysweep/keysweep/policy"
)

// TriggerKind says what started a run.
type TriggerKind = string

// Trigger kinds.
const (
	TriggerSchedule TriggerKind = "schedule"
	TriggerManual   TriggerKind = "manual"
	TriggerCLI      TriggerKind = "cli"
	TriggerAPI      TriggerKind = "api"
	TriggerOrg      TriggerKind = "org"
)

// Trigger says what started a run.
type Trigger struct {
	Kind    TriggerKind `json:"kind" dynamodbav:"kind"`                         // schedule | manual | cli | api | org
	Source  string      `json:"source,omitempty" dynamodbav:"source,omitempty"` // rule ARN, caller ARN, host user
	EventID string      `json:"eventId,omitempty" dynamodbav:"eventId,omitempty"`
}

// Actor is how records name who acted for a run of this trigger.
func (t Trigger) Actor() string {
	if t.Source != "" {
		return t.Kind + ":" + t.Source
	}
	return t.Kind
}

// RunOutcome is how a run ended (or that it has not).
type RunOutcome string

// Run outcomes.
const (
	RunQueued    RunOutcome = "queued"    // accepted by the API, not begun yet
	RunRunning   RunOutcome = "running"   // begun, not finished
	RunCompleted RunOutcome = "completed" // every key judged and, in enforce mode, acted on
	RunPartial   RunOutcome = "partial"   // stopped before the deadline; the next run resumes
	RunBlocked   RunOutcome = "blocked"   // the blast-radius cap: nothing changed
	RunFailed    RunOutcome = "failed"    // an invalid policy or an error: see Errors
	RunDuplicate RunOutcome = "duplicate" // the event was already handled
	// RunCrashed: the run's record stayed running past its deadline; a
	// later run marked it so (its function was killed, say).
	RunCrashed RunOutcome = "crashed"
	// RunWithFailures: an organization run whose accounts were all tried,
	// at least one of them failed or was blocked.
	RunWithFailures RunOutcome = "completed-with-failures"
)

// Finished reports whether the outcome is final.
func (o RunOutcome) Finished() bool {
	return o != RunQueued && o != RunRunning && o != ""
}

// Run is the record of one sweep of one account.
type Run struct {
	RunID         string         `json:"runId" dynamodbav:"runId"`
	Account       string         `json:"account" dynamodbav:"account"`
	Provider      Provider       `json:"provider,omitempty" dynamodbav:"provider,omitempty"` // empty: aws
	Target        string         `json:"target,omitempty" dynamodbav:"target,omitempty"`     // empty: the default target
	Trigger       Trigger        `json:"trigger" dynamodbav:"trigger"`
	StartedAt     time.Time      `json:"startedAt" dynamodbav:"startedAt"`
	FinishedAt    *time.Time     `json:"finishedAt,omitempty" dynamodbav:"finishedAt,omitempty"`
	DurationMs    int64          `json:"durationMs" dynamodbav:"durationMs"`
	PolicyVersion string         `json:"policyVersion" dynamodbav:"policyVersion"`
	PolicySource  string         `json:"policySource" dynamodbav:"policySource"` // stored | builtin-default | file
	Mode          policy.Mode    `json:"mode" dynamodbav:"mode"`
	Inventory     string         `json:"inventory,omitempty" dynamodbav:"inventory,omitempty"` // credential-report | list
	Users         []string       `json:"users,omitempty" dynamodbav:"users,omitempty"`         // narrowed to these owners
	Counts        map[string]int `json:"counts" dynamodbav:"counts"`
	Outcome       RunOutcome     `json:"outcome" dynamodbav:"outcome"`
	Errors        []string       `json:"errors,omitempty" dynamodbav:"errors,omitempty"`
	Notes         []string       `json:"notes,omitempty" dynamodbav:"notes,omitempty"`
	// ResumeAfter is the last owner fully handled by a partial run.
	ResumeAfter string `json:"resumeAfter,omitempty" dynamodbav:"resumeAfter,omitempty"`
	// Parent is the organization run this account run belongs to.
	Parent string `json:"parent,omitempty" dynamodbav:"parent,omitempty"`
	// Deadline is when the run's process is dead for sure (its function's
	// timeout); a run still running after it crashed.
	Deadline *time.Time `json:"deadline,omitempty" dynamodbav:"deadline,omitempty"`
}

// Scope is the run's partition of per-account items.
func (r *Run) Scope() string { return Scope(r.Provider, r.Account) }

// DuplicateEventError is returned by a journal's BeginRun when the
// trigger's event id was already taken; RunID names the run that took it.
type DuplicateEventError struct {
	EventID string
	RunID   string
}

func (e *DuplicateEventError) Error() string {
	return fmt.Sprintf("event %s already handled by run %s", e.EventID, e.RunID)
}
