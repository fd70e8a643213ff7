package notify

import (
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/keysweep/keysweep/internal/domain"
)

// MaxSummaryRows bounds the decisions a run summary lists; the rest are
// counted, and the audit trail has them all.
const MaxSummaryRows = 50

// countOrder is the order counters are shown in; others follow, sorted.
var countOrder = []string{
	domain.CountEvaluated, domain.CountKeep, domain.CountExempt, domain.CountDeactivate, domain.CountDelete,
	domain.CountDeactivated, domain.CountDeleted, domain.CountMarkedDue, domain.CountGone, domain.CountKept,
	domain.CountBusy, domain.CountAlreadyInactive, domain.CountSettled, domain.CountErrors,
}

func summaryView(f Facts) view {
	r := f.Run
	if r == nil {
		r = &domain.Run{RunID: f.RunID, Account: f.Account, Provider: f.Provider}
	}
	run := cleanRun(*r)
	p := run.Provider
	if p == "" {
		p = domain.ProviderAWS
	}
	counts := run.Counts
	var done []string
	for _, c := range []struct{ key, word string }{
		{domain.CountDeactivated, "deactivated"}, {domain.CountDeleted, "deleted"},
		{domain.CountMarkedDue, "marked due"}, {domain.CountErrors, "errors"},
	} {
		if n := counts[c.key]; n > 0 || c.key == domain.CountErrors {
			done = append(done, fmt.Sprintf("%d %s", n, c.word))
		}
	}
	outcome := string(run.Outcome)
	if outcome == "" {
		outcome = "unknown"
	}
	v := view{
		Subject: fmt.Sprintf("keysweep: run %s on %s %s: %s, %s", run.RunID, p, run.Account, outcome, strings.Join(done, ", ")),
		Heading: "keysweep run " + outcome,
		Lead: []string{fmt.Sprintf("Run %s swept %s %s %s in %s mode and ended %s.",
			run.RunID, p.Title(), guideFor(Facts{Provider: p}).accountWord, run.Account, orUnknown(string(run.Mode)), outcome)},
		Rows: summaryRows(run),
	}
	if f.Report != "" {
		v.Rows = append(v.Rows, row{"Report", f.Report})
	}
	if f.ReportObject != "" && f.ReportObject != f.Report {
		v.Rows = append(v.Rows, row{"Report object", f.ReportObject + " (the link above lasts hours; the object stays)"})
	}
	if len(run.Errors) > 0 {
		s := section{Title: "Errors"}
		for _, e := range run.Errors {
			s.Steps = append(s.Steps, step{Text: e})
		}
		v.Sections = append(v.Sections, s)
	}
	if len(run.Notes) > 0 {
		s := section{Title: "Notes"}
		for _, n := range run.Notes {
			s.Steps = append(s.Steps, step{Text: n})
		}
		v.Sections = append(v.Sections, s)
	}
	v.Table = decisionTable(f.Decisions, run.RunID)
	v.Footer = fmt.Sprintf("Sent by keysweep. The whole record: keysweep audit --run %s", run.RunID)
	return v
}

func summaryRows(run domain.Run) []row {
	rows := []row{{"Run", run.RunID}}
	if run.Target != "" && run.Target != domain.DefaultTarget {
		rows = append(rows, row{"Target", run.Target})
	}
	if run.Trigger.Kind != "" {
		rows = append(rows, row{"Started by", run.Trigger.Actor()})
	}
	if !run.StartedAt.IsZero() {
		rows = append(rows, row{"Started", stamp(run.StartedAt)})
	}
	if run.DurationMs > 0 {
		rows = append(rows, row{"Duration", (time.Duration(run.DurationMs) * time.Millisecond).Round(100 * time.Millisecond).String()})
	}
	if run.PolicyVersion != "" {
		pv := run.PolicyVersion
		if run.PolicySource != "" {
			pv += " (" + run.PolicySource + ")"
		}
		rows = append(rows, row{"Policy", pv})
	}
	if run.Inventory != "" {
		rows = append(rows, row{"Inventory", run.Inventory})
	}
	var keys []string
	for k := range run.Counts {
		if !slices.Contains(countOrder, k) {
			keys = append(keys, k)
		}
	}
	slices.Sort(keys)
	var counts []string
	for _, k := range append(slices.Clone(countOrder), keys...) {
		if n, ok := run.Counts[k]; ok && (n != 0 || k == domain.CountEvaluated) {
			counts = append(counts, fmt.Sprintf("%s %d", k, n))
		}
	}
	if len(counts) > 0 {
		rows = append(rows, row{"Counts", strings.Join(counts, ", ")})
	}
	if run.ResumeAfter != "" {
		rows = append(rows, row{"Resumes after", run.ResumeAfter})
	}
	return rows
}

func decisionTable(ds []domain.KeyDecision, runID string) *table {
	if len(ds) == 0 {
		return nil
	}
	t := &table{Head: []string{"Decision", "Outcome", "Owner", "Key", "Reason"}}
	for i, d := range ds {
		if i == MaxSummaryRows {
			t.More = fmt.Sprintf("And %d more: keysweep audit --run %s", len(ds)-MaxSummaryRows, runID)
			break
		}
		key := d.AccessKeyID
		if d.KeyName != "" {
			key = fmt.Sprintf("%s (%s)", d.KeyName, d.AccessKeyID)
		}
		outcome := string(d.Outcome)
		if d.Error != "" {
			outcome += ": " + d.Error
		}
		t.Rows = append(t.Rows, []string{string(d.Verdict), orUnknown(outcome), d.UserName, key, d.Reason})
	}
	return t
}

// cleanRun cleans the strings of a run record that a summary shows.
func cleanRun(r domain.Run) domain.Run {
	for _, p := range []*string{&r.RunID, &r.Account, &r.Target, &r.PolicyVersion, &r.PolicySource,
		&r.Inventory, &r.ResumeAfter, &r.Trigger.Source, &r.Trigger.Kind} {
		*p = cleanString(*p)
	}
	r.Errors = cleanList(r.Errors)
	r.Notes = cleanList(r.Notes)
	return r
}

func cleanList(l []string) []string {
	if len(l) == 0 {
		return l
	}
	out := make([]string, len(l))
	for i, s := range l {
		out[i] = cleanString(s)
	}
	return out
}

func orUnknown(s string) string {
	if s == "" {
		return "-"
	}
	return s
}
