package journal

import (
	"fmt"

	"github.com/keysweep/keysweep/internal/domain"
)

// CheckAccountResult refuses an account result a journal cannot store.
func CheckAccountResult(res domain.AccountResult) error {
	switch {
	case res.Account == "":
		return fmt.Errorf("%w: account result without account", domain.ErrInvalidRecord)
	case res.Status != domain.AccountDone && res.Status != domain.AccountFailed:
		return fmt.Errorf("%w: account %s: status %q, want done or failed", domain.ErrInvalidRecord, res.Account, res.Status)
	}
	return nil
}

// OrgOutcome is the outcome of a finished organization run: completed when
// every account's run completed; failed when every account failed;
// completed-with-failures when some failed; blocked when none failed but
// the blast-radius cap stopped at least one. Anything but completed is an
// outcome to look at: the CLI exits non-zero and the alarm fires.
func OrgOutcome(done, failed, blocked int) domain.RunOutcome {
	switch {
	case failed > 0 && done == 0:
		return domain.RunFailed
	case failed > 0:
		return domain.RunWithFailures
	case blocked > 0:
		return domain.RunBlocked
	}
	return domain.RunCompleted
}

// Delta is what recording one account changes in the organization run.
type Delta struct {
	Done, Failed int
	Outcomes     map[string]int
	Counts       map[string]int
}

// AccountDelta returns the change from prev (the account's earlier result,
// nil when none) to res, and false when res changes nothing: an account is
// counted once, and only a failed account may later turn done (a message
// redriven from the dead-letter queue that then succeeds).
func AccountDelta(prev *domain.AccountResult, res domain.AccountResult) (Delta, bool) {
	d := Delta{Outcomes: map[string]int{}, Counts: map[string]int{}}
	if prev != nil && (prev.Status == domain.AccountDone || prev.Status == res.Status) {
		return d, false
	}
	if prev != nil { // failed → done
		d.Failed--
		if prev.Outcome != "" {
			d.Outcomes[string(prev.Outcome)]--
		}
		for k, v := range prev.Counts {
			d.Counts[k] -= v
		}
	}
	if res.Status == domain.AccountDone {
		d.Done++
	} else {
		d.Failed++
	}
	if res.Outcome != "" {
		d.Outcomes[string(res.Outcome)]++
	}
	for k, v := range res.Counts {
		d.Counts[k] += v
	}
	return d, true
}

// NextOrgOutcome says whether the organization run's outcome must change:
// a running run whose accounts are all accounted for finishes (first), and
// a finished one whose failed account later turned done (a redriven
// message) gets the outcome its counters now give.
func NextOrgOutcome(run *domain.OrgRun) (outcome domain.RunOutcome, first, change bool) {
	if !run.Finished() {
		return "", false, false
	}
	outcome = OrgOutcome(run.AccountsDone, run.AccountsFailed, run.Outcomes[string(domain.RunBlocked)])
	switch run.Outcome {
	case domain.RunRunning:
		return outcome, true, true
	case domain.RunFailed, domain.RunWithFailures, domain.RunCompleted, domain.RunBlocked:
		return outcome, false, outcome != run.Outcome
	}
	return "", false, false
}
