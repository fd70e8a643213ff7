package main

import (
	"encoding/csv"
	"encoding/json"
	"fmt"
	"io"
	"strconv"
	"text/tabwriter"
	"time"

	"github.com/keysweep/keysweep/store"
	"github.com/keysweep/keysweep/sweep"
)

func checkOutput(o string) error {
	switch o {
	case "table", "json", "csv":
		return nil
	}
	return usagef("--output: must be table, json or csv, got %q", o)
}

func writeJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

func keyLabel(d sweep.KeyDecision) string {
	if d.AccessKeyID != "" {
		return d.AccessKeyID
	}
	return fmt.Sprintf("(key %d)", d.Slot)
}

func lastUsedLabel(d sweep.KeyDecision, at time.Time) string {
	if d.LastUsedAt == nil {
		return "never"
	}
	return fmt.Sprintf("%s (%dd)", d.LastUsedAt.UTC().Format(time.DateOnly), int(at.Sub(*d.LastUsedAt).Hours()/24))
}

var decisionHeader = []string{"USER", "KEY", "STATUS", "AGE", "LAST USED", "DECISION", "OUTCOME", "REASON"}

func decisionRow(d sweep.KeyDecision, at time.Time) []string {
	return []string{
		d.UserName, keyLabel(d), string(d.Status), strconv.Itoa(d.AgeDays) + "d",
		lastUsedLabel(d, at), string(d.Verdict), d.Outcome, d.Reason,
	}
}

// writeDecisions prints decisions as a table, JSON or CSV.
func writeDecisions(w io.Writer, format string, ds []sweep.KeyDecision, at time.Time) error {
	switch format {
	case "json":
		if ds == nil {
			ds = []sweep.KeyDecision{}
		}
		return writeJSON(w, ds)
	case "csv":
		cw := csv.NewWriter(w)
		_ = cw.Write(decisionHeader)
		for _, d := range ds {
			_ = cw.Write(decisionRow(d, at))
		}
		cw.Flush()
		return cw.Error()
	}
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	writeTabRow(tw, decisionHeader)
	for _, d := range ds {
		writeTabRow(tw, decisionRow(d, at))
	}
	return tw.Flush()
}

func writeTabRow(w io.Writer, cols []string) {
	for i, c := range cols {
		if i > 0 {
			fmt.Fprint(w, "\t")
		}
		if c == "" {
			c = "-"
		}
		fmt.Fprint(w, c)
	}
	fmt.Fprintln(w)
}

var recordHeader = []string{"AT", "RUN", "KIND", "USER", "KEY", "DECISION", "ACTION", "RESULT", "MODE", "POLICY", "REASON"}

func recordRow(r store.Record) []string {
	reason := r.Reason
	if r.Error != "" {
		reason += " [error: " + r.Error + "]"
	}
	return []string{
		r.At.UTC().Format(time.RFC3339), r.RunID, r.Kind, r.UserName, r.AccessKeyID,
		string(r.Decision), r.Action, r.Result, string(r.Mode), r.PolicyVersion, reason,
	}
}

// writeRecords prints audit records as a table, JSON or CSV.
func writeRecords(w io.Writer, format string, rs []store.Record) error {
	switch format {
	case "json":
		if rs == nil {
			rs = []store.Record{}
		}
		return writeJSON(w, rs)
	case "csv":
		cw := csv.NewWriter(w)
		_ = cw.Write(recordHeader)
		for _, r := range rs {
			_ = cw.Write(recordRow(r))
		}
		cw.Flush()
		return cw.Error()
	}
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	writeTabRow(tw, recordHeader)
	for _, r := range rs {
		writeTabRow(tw, recordRow(r))
	}
	return tw.Flush()
}

func writeRun(w io.Writer, r *store.Run) {
	fmt.Fprintf(w, "run %s: %s (mode %s, policy %s from %s, inventory %s, %d ms)\n",
		r.RunID, r.Outcome, r.Mode, r.PolicyVersion, r.PolicySource, r.Inventory, r.DurationMs)
	fmt.Fprintf(w, "  trigger: %s", r.Trigger.Kind)
	if r.Trigger.Source != "" {
		fmt.Fprintf(w, " %s", r.Trigger.Source)
	}
	if r.Trigger.EventID != "" {
		fmt.Fprintf(w, " (event %s)", r.Trigger.EventID)
	}
	fmt.Fprintln(w)
	if len(r.Counts) > 0 {
		fmt.Fprintf(w, "  counts: %s\n", countsLine(r.Counts))
	}
	if r.ResumeAfter != "" {
		fmt.Fprintf(w, "  resumes after user %q\n", r.ResumeAfter)
	}
	for _, e := range r.Errors {
		fmt.Fprintf(w, "  note: %s\n", e)
	}
}

var countOrder = []string{
	sweep.CountEvaluated, sweep.CountKeep, sweep.CountExempt, sweep.CountDeactivate, sweep.CountDelete,
	sweep.CountDeactivated, sweep.CountDeleted, sweep.CountGone, sweep.CountKept, sweep.CountBusy,
	sweep.CountSettled, sweep.CountErrors,
}

func countsLine(c map[string]int) string {
	s := ""
	for _, k := range countOrder {
		if v, ok := c[k]; ok {
			if s != "" {
				s += ", "
			}
			s += fmt.Sprintf("%s %d", k, v)
		}
	}
	return s
}
