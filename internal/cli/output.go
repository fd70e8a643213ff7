package cli

import (
	"encoding/csv"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"strconv"
	"sync"
	"text/tabwriter"
	"time"

	"golang.org/x/term"
	"gopkg.in/yaml.v3"

	"github.com/keysweep/keysweep/internal/domain"
	"github.com/keysweep/keysweep/policy"
)

// Output formats.
const (
	formatTable = "table"
	formatJSON  = "json"
	formatCSV   = "csv"
)

func checkOutput(o string) error {
	switch o {
	case formatTable, formatJSON, formatCSV:
		return nil
	}
	return usagef("--output: must be table, json or csv, got %q", o)
}

func writeJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

// writeRows prints a header and rows as an aligned table or as CSV.
func writeRows(w io.Writer, format string, header []string, rows [][]string) error {
	if format == formatCSV {
		cw := csv.NewWriter(w)
		_ = cw.Write(header)
		for _, r := range rows {
			_ = cw.Write(r)
		}
		cw.Flush()
		return cw.Error()
	}
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	writeTabRow(tw, header)
	for _, r := range rows {
		writeTabRow(tw, r)
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

func keyLabel(d domain.KeyDecision) string {
	if d.AccessKeyID != "" && d.KeyName != "" {
		// A GMI key's id is a UUID; its name is what people know it by.
		return d.AccessKeyID + " (" + d.KeyName + ")"
	}
	if d.AccessKeyID != "" {
		return d.AccessKeyID
	}
	return fmt.Sprintf("(key %d)", d.Slot)
}

func lastUsedLabel(d domain.KeyDecision, at time.Time) string {
	if d.Provider == domain.ProviderGMI {
		// GMI Cloud keys have no last-use date: not "never".
		return "unknown"
	}
	if d.LastUsedAt == nil {
		return "never"
	}
	return fmt.Sprintf("%s (%dd)", d.LastUsedAt.UTC().Format(time.DateOnly), int(at.Sub(*d.LastUsedAt).Hours()/24))
}

var decisionHeader = []string{"USER", "KEY", "STATUS", "AGE", "LAST USED", "DECISION", "OUTCOME", "REASON"}

func decisionRow(d domain.KeyDecision, at time.Time) []string {
	return []string{
		d.UserName, keyLabel(d), string(d.Status), strconv.Itoa(d.AgeDays) + "d",
		lastUsedLabel(d, at), string(d.Verdict), string(d.Outcome), d.Reason,
	}
}

// writeDecisions prints decisions as a table, JSON or CSV.
func writeDecisions(w io.Writer, format string, ds []domain.KeyDecision, at time.Time) error {
	if format == formatJSON {
		if ds == nil {
			ds = []domain.KeyDecision{}
		}
		return writeJSON(w, ds)
	}
	rows := make([][]string, len(ds))
	for i, d := range ds {
		rows[i] = decisionRow(d, at)
	}
	return writeRows(w, format, decisionHeader, rows)
}

var recordHeader = []string{"AT", "RUN", "KIND", "USER", "KEY", "DECISION", "ACTION", "RESULT", "MODE", "POLICY", "REASON"}

func recordRow(r domain.Record) []string {
	reason := r.Reason
	if r.Error != "" {
		reason += " [error: " + r.Error + "]"
	}
	action, result := r.Action, r.Result
	if n := r.Notice; n != nil {
		// A notice: what it told whom, and what became of it.
		action, result = n.Kind+" by "+n.Channel, n.Status
		reason = "to " + n.Recipient
		if n.Recipient == "" {
			reason = "to nobody"
		}
		if n.MessageID != "" {
			reason += ", message " + n.MessageID
		}
		if n.Error != "" {
			reason += " [error: " + n.Error + "]"
		}
	}
	return []string{
		r.At.UTC().Format(time.RFC3339), r.RunID, r.Kind, r.UserName, r.AccessKeyID,
		string(r.Decision), action, result, string(r.Mode), r.PolicyVersion, reason,
	}
}

// writeRecords prints audit records as a table, JSON or CSV.
func writeRecords(w io.Writer, format string, rs []domain.Record) error {
	if format == formatJSON {
		if rs == nil {
			rs = []domain.Record{}
		}
		return writeJSON(w, rs)
	}
	rows := make([][]string, len(rs))
	for i, r := range rs {
		rows[i] = recordRow(r)
	}
	return writeRows(w, format, recordHeader, rows)
}

func writeRun(w io.Writer, r *domain.Run) {
	target := ""
	if r.Target != "" {
		target = ", target " + r.Target
	}
	fmt.Fprintf(w, "run %s: %s (mode %s, policy %s from %s, inventory %s, %d ms%s)\n",
		r.RunID, r.Outcome, r.Mode, r.PolicyVersion, r.PolicySource, orDash(r.Inventory), r.DurationMs, target)
	fmt.Fprintf(w, "  trigger: %s", r.Trigger.Kind)
	if r.Trigger.Source != "" {
		fmt.Fprintf(w, " %s", r.Trigger.Source)
	}
	if r.Trigger.EventID != "" {
		fmt.Fprintf(w, " (event %s)", r.Trigger.EventID)
	}
	fmt.Fprintln(w)
	if r.Parent != "" {
		fmt.Fprintf(w, "  part of organization run %s\n", r.Parent)
	}
	if len(r.Counts) > 0 {
		fmt.Fprintf(w, "  counts: %s\n", countsLine(r.Counts))
	}
	if r.ResumeAfter != "" {
		fmt.Fprintf(w, "  resumes after user %q\n", r.ResumeAfter)
	}
	for _, n := range r.Notes {
		fmt.Fprintf(w, "  note: %s\n", n)
	}
	for _, e := range r.Errors {
		fmt.Fprintf(w, "  error: %s\n", e)
	}
}

var countOrder = []string{
	domain.CountEvaluated, domain.CountKeep, domain.CountExempt, domain.CountDeactivate, domain.CountDelete,
	domain.CountDeactivated, domain.CountDeleted, domain.CountMarkedDue, domain.CountGone, domain.CountKept,
	domain.CountBusy, domain.CountAlreadyInactive, domain.CountSettled, domain.CountSettledByOther, domain.CountErrors,
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

// writeYAML prints a policy as YAML with the document's field names.
func writeYAML(w io.Writer, p *policy.Policy) error {
	data, err := json.Marshal(p)
	if err != nil {
		return err
	}
	var generic any
	if err := yaml.Unmarshal(data, &generic); err != nil {
		return err
	}
	enc := yaml.NewEncoder(w)
	enc.SetIndent(2)
	defer enc.Close()
	return enc.Encode(generic)
}

// progressFunc draws a one-line progress display on w when it is a
// terminal, and nothing otherwise.
func progressFunc(w io.Writer) func(stage string, done, total int) {
	f, ok := w.(*os.File)
	if !ok || !term.IsTerminal(int(f.Fd())) {
		return nil
	}
	var mu sync.Mutex
	last := time.Time{}
	return func(stage string, done, total int) {
		mu.Lock()
		defer mu.Unlock()
		if done != total && time.Since(last) < 100*time.Millisecond {
			return
		}
		last = time.Now()
		fmt.Fprintf(f, "\r\033[K%s %d/%d", stage, done, total)
		if done == total && stage != "inventory" {
			fmt.Fprint(f, "\r\033[K")
		}
	}
}
