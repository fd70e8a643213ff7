package domain

import (
	"time"

	"github.com/keysweep/keysweep/policy"
)

// KeyOutcome is what became of one key's decision in a run.
type KeyOutcome string

// Key outcomes.
const (
	KeyPlanned         KeyOutcome = "planned" // audit mode, or a plan
	KeyBlocked         KeyOutcome = "blocked" // the blast-radius cap
	KeyDone            KeyOutcome = "done"
	KeyGone            KeyOutcome = "gone"
	KeyKept            KeyOutcome = "kept"             // the live re-check kept it
	KeyBusy            KeyOutcome = "busy"             // another run holds an intent on it
	KeyAlreadyInactive KeyOutcome = "already-inactive" // another actor deactivated it first
	KeyFailed          KeyOutcome = "failed"
	KeyLater           KeyOutcome = "later"      // the run stopped before its deadline; the next run continues
	KeyMarkedDue       KeyOutcome = "marked-due" // a store without status: the notice period started
)

// KeyDecision is the verdict on one key and what became of it.
type KeyDecision struct {
	Account  string   `json:"account"`
	Provider Provider `json:"provider,omitempty"`
	UserName string   `json:"userName"`
	// OwnerName is the owner's name for people, where the store's owner
	// is an id (a GMI Cloud user's first and last name).
	OwnerName   string        `json:"ownerName,omitempty"`
	UserPath    string        `json:"userPath,omitempty"`
	AccessKeyID string        `json:"accessKeyId"`
	Status      policy.Status `json:"status"`
	CreatedAt   time.Time     `json:"createdAt"`
	LastUsedAt  *time.Time    `json:"lastUsedAt,omitempty"`
	ExpiresAt   *time.Time    `json:"expiresAt,omitempty"`
	KeyName     string        `json:"keyName,omitempty"`
	policy.Decision
	Outcome KeyOutcome `json:"outcome,omitempty"`
	Error   string     `json:"error,omitempty"`
	// Slot is the credential report's key number when the id is unknown.
	Slot int `json:"slot,omitempty"`
}

// Counters recorded on a run. Verdict counters (keep, exempt, deactivate,
// delete) count the plan; the others count what happened.
const (
	CountEvaluated       = "evaluated"
	CountKeep            = "keep"
	CountExempt          = "exempt"
	CountDeactivate      = "deactivate"
	CountDelete          = "delete"
	CountDeactivated     = "deactivated"
	CountDeleted         = "deleted"
	CountMarkedDue       = "markedDue"       // notice periods started (stores without status)
	CountGone            = "gone"            // already deleted by someone else
	CountKept            = "kept"            // kept by the live re-check
	CountBusy            = "busy"            // another run holds an intent on the key
	CountAlreadyInactive = "alreadyInactive" // another actor deactivated it first
	CountSettled         = "settled"         // crashed intents settled
	CountSettledByOther  = "settledByOther"  // crashed intents another run settled first
	CountChainBroken     = "chainBroken"     // audit records found changed after they were written
	CountErrors          = "errors"
)
