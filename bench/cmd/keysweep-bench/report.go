package main

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"strings"
)

// reportMain prints the tables of docs/PERFORMANCE.md from the JSON lines
// `keysweep-bench -out FILE` appended: per label and variant, each tool's
// calls, time and memory, its ratios to keysweep's fast path measured in the
// same batch, and the targets checked. When a label, variant and tool was
// measured more than once, the last run counts.
func reportMain(w io.Writer, args []string) error {
	if len(args) != 1 {
		return fmt.Errorf("usage: keysweep-bench report FILE")
	}
	f, err := os.Open(args[0])
	if err != nil {
		return err
	}
	defer f.Close()
	runs, err := readResults(f)
	if err != nil {
		return fmt.Errorf("%s: %w", args[0], err)
	}
	writeReport(w, runs)
	return nil
}

func readResults(r io.Reader) ([]*result, error) {
	type key struct {
		label, tool, scenario string
		users                 int
	}
	last := map[key]int{}
	var runs []*result
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 1<<20), 16<<20)
	for line := 1; sc.Scan(); line++ {
		if strings.TrimSpace(sc.Text()) == "" {
			continue
		}
		var res result
		if err := json.Unmarshal(sc.Bytes(), &res); err != nil {
			return nil, fmt.Errorf("line %d: %w", line, err)
		}
		k := key{res.Label, res.Tool, res.Scenario, res.Users}
		if i, ok := last[k]; ok {
			runs[i] = &res
			continue
		}
		last[k] = len(runs)
		runs = append(runs, &res)
	}
	return runs, sc.Err()
}

// group is one batch: the runs of one label on one account.
type group struct {
	label, scenario string
	users           int
}

func (g group) title() string {
	if g.scenario != "" {
		return g.label + ", " + g.scenario
	}
	return g.label
}

func writeReport(w io.Writer, runs []*result) {
	var order []group
	byGroup := map[group][]*result{}
	for _, r := range runs {
		g := group{r.Label, r.Scenario, r.Users}
		if _, ok := byGroup[g]; !ok {
			order = append(order, g)
		}
		byGroup[g] = append(byGroup[g], r)
	}
	writeSummary(w, order, byGroup)
	for _, g := range order {
		writeGroup(w, g, byGroup[g])
	}
	writeScenarios(w, order, byGroup)
}

// writeSummary prints every batch's keysweep and Cloud Custodian runs
// against the call bound and the physical floor.
func writeSummary(w io.Writer, order []group, byGroup map[group][]*result) {
	fmt.Fprintln(w, "### Summary: calls against the bound and the floor")
	fmt.Fprintln(w)
	fmt.Fprintln(w, "| batch | users | tool | IAM calls | call bound | floor | ÷ floor | floor with re-check | ÷ that | wall | errors |")
	fmt.Fprintln(w, "| --- | ---: | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
	for _, g := range order {
		if g.scenario != "" {
			continue
		}
		for _, r := range byGroup[g] {
			bound := "—"
			if isKeysweep(r.Tool) && r.Tool != toolFallback {
				bound = fmt.Sprint(r.CallBound)
			}
			fmt.Fprintf(w, "| %s | %d | %s | %d | %s | %d | %s | %d | %s | %.1f s | %d |\n", g.label, g.users, r.Tool, r.IAMCalls, bound,
				r.Floor, ratio(r.IAMCalls, r.Floor), r.FloorRecheck, ratio(r.IAMCalls, r.FloorRecheck), r.WallSeconds, r.ToolErrors)
		}
	}
	fmt.Fprintln(w)
}

func ratio(a, b int) string {
	if b == 0 {
		return "—"
	}
	return fmt.Sprintf("%.2f×", float64(a)/float64(b))
}

// writeGroup prints one batch's tables.
func writeGroup(w io.Writer, g group, rs []*result) {
	r0 := rs[0]
	fmt.Fprintf(w, "### %s: %d users, %d keys\n\n", g.title(), g.users, r0.Keys)
	fmt.Fprintf(w, "IAM at %g requests/s (burst %d), %g ms latency; %s, %d CPUs; taken %s.\n", r0.Rate, r0.Burst, r0.LatencyMs,
		r0.Machine.OS, r0.Machine.CPUs, r0.At.Format("2006-01-02"))
	var notes []string
	if r0.NothingStale {
		notes = append(notes, "no newly stale key")
	}
	if r0.First != nil {
		notes = append(notes, "the second run on the account is measured")
	}
	if r0.JournalWriteLatencyMs > 0 {
		notes = append(notes, fmt.Sprintf("every DynamoDB write slowed by %g ms", r0.JournalWriteLatencyMs))
	}
	if r0.UsedAfterReport > 0 {
		notes = append(notes, fmt.Sprintf("%d keys used after the report", r0.UsedAfterReport))
	}
	if len(notes) > 0 {
		fmt.Fprintf(w, "Batch: %s.\n", strings.Join(notes, "; "))
	}
	fmt.Fprintln(w)
	fmt.Fprintln(w, "| tool | IAM calls | throttled | wall | calls ÷ rate | wall ÷ that | peak RSS | CPU | keys acted on | missed | wrongly |")
	fmt.Fprintln(w, "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
	for _, r := range rs {
		fmt.Fprintf(w, "| %s | %d | %d | %.1f s | %.1f s | %.2f× | %.0f MiB | %.1f s | %d | %d | %d |\n",
			r.Tool, r.IAMCalls, r.Throttled, r.WallSeconds, r.RateBoundSeconds, r.WallOverBound,
			r.MaxRSSMiB, r.CPUSeconds, r.ActedKeys, sum(r.Missed), sum(r.Extra))
	}
	fmt.Fprintln(w)
	fmt.Fprintln(w, "IAM calls by operation:")
	fmt.Fprintln(w)
	for _, r := range rs {
		fmt.Fprintf(w, "- %s: %s\n", r.Tool, actions(r.IAMByAction))
	}
	fmt.Fprintln(w)
	for _, r := range rs {
		if r.First != nil {
			fmt.Fprintf(w, "- %s, first run (records, not measured): %d IAM calls (%s), %.1f s, %d errors\n",
				r.Tool, r.First.IAMCalls, actions(r.First.IAMByAction), r.First.WallSeconds, r.First.ToolErrors)
		}
	}
	for _, r := range rs {
		if r.ReportSeconds > 0 {
			fmt.Fprintf(w, "- %s: the credential report alone %.2f s (first Generate sent on to Get answered), in hand %.2f s after the start\n",
				r.Tool, r.ReportSeconds, r.ReportInHandSeconds)
		}
	}
	for _, r := range rs {
		fmt.Fprintf(w, "- %s: load average %.2f before, %.2f after; DynamoDB requests %d, the emulator's own time %.1f s\n",
			r.Tool, r.Machine.LoadBefore[0], r.Machine.LoadAfter[0], total(r.Other, "dynamodb."), r.Upstream["dynamodb"])
	}
	fmt.Fprintln(w)
	writeRatios(w, rs)
	for _, r := range rs {
		if len(r.Missed)+len(r.Extra) > 0 {
			fmt.Fprintf(w, "- %s missed %s; changed wrongly %s\n", r.Tool, cats(r.Missed), cats(r.Extra))
		}
	}
	for _, r := range rs {
		if len(r.Checks) == 0 {
			continue
		}
		fmt.Fprintf(w, "\nTargets, %s:\n\n| target | want | got | met |\n| --- | --- | --- | --- |\n", r.Tool)
		for _, c := range r.Checks {
			met := "yes"
			if !c.Met {
				met = "**no**"
			}
			fmt.Fprintf(w, "| %s | %s | %s | %s |\n", c.Target, c.Want, c.Got, met)
		}
	}
	fmt.Fprintln(w)
}

// writeRatios prints each tool's calls and time as ratios to the fast
// path's in the same batch.
func writeRatios(w io.Writer, rs []*result) {
	var fast *result
	for _, r := range rs {
		if r.Tool == toolFast {
			fast = r
		}
	}
	if fast == nil || len(rs) < 2 || fast.IAMCalls == 0 {
		return
	}
	fmt.Fprintln(w, "| tool | IAM calls ÷ fast path's | wall time ÷ fast path's |")
	fmt.Fprintln(w, "| --- | ---: | ---: |")
	for _, r := range rs {
		if r != fast {
			fmt.Fprintf(w, "| %s | %.2f× | %.2f× |\n", r.Tool, float64(r.IAMCalls)/float64(fast.IAMCalls), r.WallSeconds/fast.WallSeconds)
		}
	}
	fmt.Fprintln(w)
}

// writeScenarios prints the small accounts side by side: which keys each
// tool changed where the rule asked for.
func writeScenarios(w io.Writer, order []group, byGroup map[group][]*result) {
	first := true
	for _, g := range order {
		if g.scenario == "" {
			continue
		}
		if first {
			fmt.Fprintln(w, "### Scenarios: what each tool can express")
			fmt.Fprintln(w)
			fmt.Fprintln(w, "| scenario | tool | IAM calls | wall | keys acted on | missed | wrongly |")
			fmt.Fprintln(w, "| --- | --- | ---: | ---: | ---: | --- | --- |")
			first = false
		}
		for _, r := range byGroup[g] {
			fmt.Fprintf(w, "| %s | %s | %d | %.1f s | %d | %s | %s |\n", g.scenario, r.Tool, r.IAMCalls, r.WallSeconds, r.ActedKeys, cats(r.Missed), cats(r.Extra))
		}
	}
	if !first {
		fmt.Fprintln(w)
	}
}

// total sums the counts whose name starts with prefix.
func total(m map[string]int, prefix string) int {
	n := 0
	for k, v := range m {
		if strings.HasPrefix(k, prefix) {
			n += v
		}
	}
	return n
}
