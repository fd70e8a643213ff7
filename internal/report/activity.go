package report

import (
	"cmp"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/keysweep/keysweep/internal/domain"
)

// Activity list sizes.
const (
	MaxActions = 200
	MaxRuns    = 50
)

// actionRow is one action on a key (an outcome, or an intent still
// without one) from the audit trail.
type actionRow struct {
	At, RunID, Kind, Actor string
	User, Key              string
	Store                  store
	Action, Result, Error  string
	Failed                 bool
}

// revocationPrefix starts the run ids of on-demand revocations.
const revocationPrefix = "v-"

// buildActions lists the newest actions first: every outcome, and every
// intent no outcome settled.
func buildActions(recs []domain.Record, names *storeNames) (rows []actionRow, more int) {
	settled := map[string]bool{}
	for _, r := range recs {
		if r.Kind == domain.KindOutcome {
			settled[r.RunID+"|"+r.AccessKeyID+"|"+r.Action] = true
		}
	}
	var picked []domain.Record
	for _, r := range recs {
		switch {
		case r.Kind == domain.KindOutcome:
		case r.Kind == domain.KindIntent && !settled[r.RunID+"|"+r.AccessKeyID+"|"+r.Action]:
			r.Result = "no outcome yet"
		default:
			continue
		}
		picked = append(picked, r)
	}
	slices.SortFunc(picked, func(a, b domain.Record) int {
		return cmp.Or(b.At.Compare(a.At), cmp.Compare(a.RunID, b.RunID), cmp.Compare(a.AccessKeyID, b.AccessKeyID))
	})
	if len(picked) > MaxActions {
		more = len(picked) - MaxActions
		picked = picked[:MaxActions]
	}
	for _, r := range picked {
		kind := "sweep"
		if strings.HasPrefix(r.RunID, revocationPrefix) {
			kind = "revocation"
		}
		rows = append(rows, actionRow{
			At: stamp(r.At), RunID: r.RunID, Kind: kind, Actor: r.Actor,
			User: r.UserName, Store: names.label(r.Provider, r.Account), Key: r.AccessKeyID,
			Action: r.Action, Result: r.Result, Error: r.Error,
			Failed: r.Result == domain.ResultFailed,
		})
	}
	return rows, more
}

// runRow is one run.
type runRow struct {
	RunID, Started, Duration, Trigger       string
	Store                                   store
	Mode, PolicyVersion, Outcome            string
	Evaluated, Deactivated, Deleted, Errors int
	Bad                                     bool
}

func buildRuns(runs []domain.Run, names *storeNames) (rows []runRow, more int) {
	sorted := slices.Clone(runs)
	slices.SortFunc(sorted, func(a, b domain.Run) int {
		return cmp.Or(b.StartedAt.Compare(a.StartedAt), cmp.Compare(a.RunID, b.RunID))
	})
	if len(sorted) > MaxRuns {
		more = len(sorted) - MaxRuns
		sorted = sorted[:MaxRuns]
	}
	for _, r := range sorted {
		rows = append(rows, runRow{
			RunID: r.RunID, Started: stamp(r.StartedAt), Duration: duration(r.DurationMs),
			Trigger: r.Trigger.Actor(), Store: names.label(r.Provider, r.Account),
			Mode: string(r.Mode), PolicyVersion: r.PolicyVersion, Outcome: string(r.Outcome),
			Evaluated: r.Counts[domain.CountEvaluated], Deactivated: r.Counts[domain.CountDeactivated],
			Deleted: r.Counts[domain.CountDeleted], Errors: max(len(r.Errors), r.Counts[domain.CountErrors]),
			Bad: r.Outcome == domain.RunFailed || r.Outcome == domain.RunBlocked ||
				r.Outcome == domain.RunCrashed || r.Outcome == domain.RunWithFailures,
		})
	}
	return rows, more
}

func duration(ms int64) string {
	d := time.Duration(ms) * time.Millisecond
	if d < time.Minute {
		return fmt.Sprintf("%.1f s", d.Seconds())
	}
	return d.Round(time.Second).String()
}
