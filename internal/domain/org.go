package domain

import "time"

// An organization run is a Run item with the fan-out's own attributes,
// plus one AccountResult per member account that finished.
// docs/ORGANIZATIONS.md describes both.

// Account statuses in an organization run.
const (
	AccountDone   = "done"   // the account run finished (completed, partial or blocked)
	AccountFailed = "failed" // the account could not be swept, or its run failed
)

// OrgRun is the record of one organization run.
type OrgRun struct {
	Run
	// OrganizationID is the organization's id (o-...).
	OrganizationID string `json:"organizationId,omitempty" dynamodbav:"organizationId,omitempty"`
	// Selection describes the policy's organization section as it was used.
	Selection string `json:"selection,omitempty" dynamodbav:"selection,omitempty"`
	// Accounts are the planned account ids, sorted.
	Accounts        []string `json:"accounts,omitempty" dynamodbav:"accounts,omitempty"`
	AccountsPlanned int      `json:"accountsPlanned" dynamodbav:"accountsPlanned"`
	AccountsDone    int      `json:"accountsDone" dynamodbav:"accountsDone"`
	AccountsFailed  int      `json:"accountsFailed" dynamodbav:"accountsFailed"`
	// Outcomes counts the account runs by outcome (completed, partial,
	// blocked, failed).
	Outcomes map[string]int `json:"outcomes,omitempty" dynamodbav:"outcomes,omitempty"`
	// Planned is false until the plan is recorded: the counters mean
	// nothing before.
	Planned bool `json:"planned,omitempty" dynamodbav:"planned,omitempty"`
	// DispatchedAt is when every planned account's message was sent (or
	// recorded failed); nil while dispatching.
	DispatchedAt *time.Time `json:"dispatchedAt,omitempty" dynamodbav:"dispatchedAt,omitempty"`
}

// Finished reports whether every planned account is done or failed.
func (o *OrgRun) Finished() bool {
	return o.Planned && o.AccountsDone+o.AccountsFailed >= o.AccountsPlanned
}

// OrgPlan is what the dispatcher decided to sweep.
type OrgPlan struct {
	OrganizationID string
	Selection      string
	Accounts       []string
}

// AccountResult is one member account's part in an organization run.
type AccountResult struct {
	Account string `json:"account" dynamodbav:"account"`
	// RunID is the account run's id (empty when none was started).
	RunID  string `json:"runId,omitempty" dynamodbav:"accountRunId,omitempty"`
	Status string `json:"status" dynamodbav:"status"` // done | failed
	// Outcome is the account run's outcome.
	Outcome RunOutcome     `json:"outcome,omitempty" dynamodbav:"outcome,omitempty"`
	Error   string         `json:"error,omitempty" dynamodbav:"error,omitempty"`
	Counts  map[string]int `json:"counts,omitempty" dynamodbav:"counts,omitempty"`
	At      time.Time      `json:"at" dynamodbav:"at"`
}
