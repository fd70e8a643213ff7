package main

import (
	"fmt"
	"io"
	"maps"
	"slices"
	"strings"

	"github.com/keysweep/keysweep/bench/workload"
)

// printTable prints the results as Markdown, with the ratios between runs
// of one invocation.
func printTable(w io.Writer, rs []*result) {
	fmt.Fprintln(w, "| users | tool | IAM calls | throttled | wall s | calls ÷ rate s | peak RSS MiB | keys acted | users acted | missed | extra |")
	fmt.Fprintln(w, "|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
	for _, r := range rs {
		fmt.Fprintf(w, "| %d | %s | %d | %d | %.1f | %.1f | %.1f | %d | %d | %s | %s |\n", r.Users, r.Tool, r.IAMCalls, r.Throttled,
			r.WallSeconds, r.RateBoundSeconds, r.MaxRSSMiB, r.ActedKeys, r.ActedUsers, cats(r.Missed), cats(r.Extra))
	}
	fmt.Fprintln(w)
	for _, r := range rs {
		fmt.Fprintf(w, "%s, %d users, IAM calls by action: %s\n", r.Tool, r.Users, actions(r.IAMByAction))
		var win []string
		for _, a := range slices.Sorted(maps.Keys(r.Served)) {
			win = append(win, fmt.Sprintf("%s %.1f-%.1f s", a, r.Served[a][0], r.Served[a][1]))
		}
		fmt.Fprintf(w, "  served from-to: %s\n", strings.Join(win, ", "))
		fmt.Fprintf(w, "  other services: %s; the emulator's own time: iam %.1f s, dynamodb %.1f s\n",
			actions(r.Other), r.Upstream["iam"], r.Upstream["dynamodb"])
		if len(r.ThrottledByAction) > 0 {
			fmt.Fprintf(w, "  throttled by action: %s\n", actions(r.ThrottledByAction))
		}
		for _, c := range r.Checks {
			mark := "met"
			if !c.Met {
				mark = "MISSED"
			}
			fmt.Fprintf(w, "  target %s: want %s, got %s: %s\n", c.Target, c.Want, c.Got, mark)
		}
		if r.StderrEnd != "" {
			fmt.Fprintf(w, "  exit %d; stderr ends:\n%s\n", r.Exit, indent(r.StderrEnd))
		}
	}
	// Ratios between runs made together, by variant.
	byUsers := map[int]map[string]*result{}
	for _, r := range rs {
		if byUsers[r.Users] == nil {
			byUsers[r.Users] = map[string]*result{}
		}
		byUsers[r.Users][r.Tool] = r
	}
	for _, n := range slices.Sorted(maps.Keys(byUsers)) {
		fast := byUsers[n][toolFast]
		if fast == nil || fast.IAMCalls == 0 {
			continue
		}
		for _, other := range []string{toolFastNoBulk, toolFallback, toolNaive, toolC7n, toolC7nTwo, toolC7nOrig} {
			o := byUsers[n][other]
			if o == nil {
				continue
			}
			fmt.Fprintf(w, "%d users: %s / fast: %.1f× the IAM calls, %.1f× the wall time\n", n, other,
				float64(o.IAMCalls)/float64(fast.IAMCalls), o.WallSeconds/fast.WallSeconds)
		}
	}
}

func cats(m map[workload.Category]int) string {
	if len(m) == 0 {
		return "0"
	}
	var parts []string
	for _, k := range slices.Sorted(maps.Keys(m)) {
		parts = append(parts, fmt.Sprintf("%d %s", m[k], k))
	}
	return strings.Join(parts, ", ")
}

func actions(m map[string]int) string {
	var parts []string
	for _, k := range slices.Sorted(maps.Keys(m)) {
		parts = append(parts, fmt.Sprintf("%s %d", k, m[k]))
	}
	return strings.Join(parts, ", ")
}

func indent(s string) string {
	return "    " + strings.ReplaceAll(s, "\n", "\n    ")
}
