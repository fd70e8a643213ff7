package engine

import (
	"fmt"

	"github.com/keysweep/keysweep/internal/domain"
	"github.com/keysweep/keysweep/policy"
)

// MaxSummaryActions keeps a summary well inside Lambda's 6 MB response
// limit; the journal has every record.
const MaxSummaryActions = 1000

// Summary is a run's answer to whoever started it: the sweeper's JSON
// response, the CLI's output, an organization worker's account result.
type Summary struct {
	RunID         string            `json:"runId"`
	Target        string            `json:"target,omitempty"`
	Provider      domain.Provider   `json:"provider,omitempty"`
	Account       string            `json:"account,omitempty"`
	Outcome       domain.RunOutcome `json:"outcome"`
	Duplicate     bool              `json:"duplicate,omitempty"`
	Mode          policy.Mode       `json:"mode,omitempty"`
	PolicyVersion string            `json:"policyVersion,omitempty"`
	PolicySource  string            `json:"policySource,omitempty"`
	Inventory     string            `json:"inventory,omitempty"`
	Counts        map[string]int    `json:"counts,omitempty"`
	DurationMs    int64             `json:"durationMs"`
	ResumeAfter   string            `json:"resumeAfter,omitempty"`
	Notes         []string          `json:"notes,omitempty"`
	Errors        []string          `json:"errors,omitempty"`
	// Actions lists every decision other than keep (and failed keeps), at
	// most MaxSummaryActions.
	Actions []domain.KeyDecision `json:"actions,omitempty"`
	// Decisions is the full list; filled only for callers in-process (CLI).
	Decisions []domain.KeyDecision `json:"-"`
}

// Summarize turns a run's result into its summary.
func Summarize(res *Result) *Summary {
	r := res.Run
	sum := &Summary{
		RunID: r.RunID, Target: r.Target, Provider: r.Provider, Outcome: r.Outcome, Duplicate: res.Duplicate,
		Mode: r.Mode, PolicyVersion: r.PolicyVersion, PolicySource: r.PolicySource, Inventory: r.Inventory,
		Counts: r.Counts, DurationMs: r.DurationMs, ResumeAfter: r.ResumeAfter,
		Notes: append([]string(nil), r.Notes...), Errors: r.Errors, Decisions: res.Decisions,
	}
	if r.Provider != "" {
		sum.Account = r.Account
	}
	if res.Duplicate {
		sum.Notes = append(sum.Notes, "event already handled by run "+r.RunID+": nothing done")
	}
	for _, d := range res.Decisions {
		if d.Verdict != policy.Keep || d.Outcome == domain.KeyFailed || d.Outcome == domain.KeyMarkedDue {
			if len(sum.Actions) == MaxSummaryActions {
				sum.Notes = append(sum.Notes, fmt.Sprintf("only the first %d decisions are listed here; keysweep audit --run %s has them all", MaxSummaryActions, r.RunID))
				break
			}
			sum.Actions = append(sum.Actions, d)
		}
	}
	return sum
}
