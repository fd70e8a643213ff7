package main

import (
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/keysweep/keysweep/bench/throttleproxy"
	"github.com/keysweep/keysweep/bench/workload"
)

// result is one measured run, written as one JSON line.
type result struct {
	Label           string    `json:"label,omitempty"`
	At              time.Time `json:"at"`
	Machine         machine   `json:"machine"`
	Tool            string    `json:"tool"`
	Users           int       `json:"users"`
	Keys            int       `json:"keys"`
	Rate            float64   `json:"rate"`
	Burst           int       `json:"burst"`
	LatencyMs       float64   `json:"latencyMs"`
	PreReport       bool      `json:"preReport,omitempty"`
	UsedAfterReport int       `json:"usedAfterReport,omitempty"`
	StaleScale      float64   `json:"staleScale,omitempty"` // 1 (omitted): W's shares

	IAMCalls          int            `json:"iamCalls"` // served by IAM (the proxy let them through)
	IAMByAction       map[string]int `json:"iamByAction"`
	Throttled         int            `json:"throttled"` // answered Throttling
	ThrottledByAction map[string]int `json:"throttledByAction,omitempty"`
	Other             map[string]int `json:"other,omitempty"` // DynamoDB, STS
	// Served is when each IAM action was first and last served, in
	// seconds from the start of the run: the sweep's phases.
	Served map[string][2]float64 `json:"servedWindow,omitempty"`
	// Upstream is the emulator's own answering time, summed by service.
	Upstream map[string]float64 `json:"upstreamSeconds,omitempty"`

	WallSeconds      float64 `json:"wallSeconds"`
	RateBoundSeconds float64 `json:"rateBoundSeconds,omitempty"` // IAMCalls / Rate
	WallOverBound    float64 `json:"wallOverBound,omitempty"`
	MaxRSSMiB        float64 `json:"maxRssMiB"`
	CPUSeconds       float64 `json:"cpuSeconds"` // the child's user + system time

	Exit    int    `json:"exit"`
	Outcome string `json:"outcome,omitempty"` // the tool's own word for how it ended
	// ToolErrors counts errors the tool reported (a call that failed for
	// good, throttling included).
	ToolErrors int `json:"toolErrors"`

	ActedKeys  int                       `json:"actedKeys"`
	ActedUsers int                       `json:"actedUsers"` // users holding a key the run changed
	Acted      map[workload.Category]int `json:"actedByCategory"`
	Missed     map[workload.Category]int `json:"missedByCategory,omitempty"` // should have been changed, were not
	Extra      map[workload.Category]int `json:"extraByCategory,omitempty"`  // were changed, should not have been

	CallBound int     `json:"callBound,omitempty"` // 5 + 3 × ActedUsers + ActedKeys
	Checks    []check `json:"checks,omitempty"`
	StderrEnd string  `json:"stderrEnd,omitempty"` // when the tool failed
}

// check is one target, met or not.
type check struct {
	Target string `json:"target"`
	Want   string `json:"want"`
	Got    string `json:"got"`
	Met    bool   `json:"met"`
}

func newResult(o options, n int, tool string, w *workload.Workload, want map[string]bool, state map[string]string,
	stats throttleproxy.Stats, c *child) *result {
	r := &result{
		Label: o.label, At: time.Now().UTC().Truncate(time.Second), Machine: thisMachine(),
		Tool: tool, Users: n, Keys: 2 * n, Rate: o.rate, Burst: o.burst, LatencyMs: float64(o.latency) / float64(time.Millisecond),
		PreReport: o.preReport, UsedAfterReport: w.Counts()[workload.UsedAfterReport],
		IAMCalls: stats.Served(), Throttled: stats.Throttled(), Other: stats.Other, Upstream: stats.UpstreamSeconds,
		IAMByAction: map[string]int{}, ThrottledByAction: map[string]int{}, Served: map[string][2]float64{},
		WallSeconds: c.wall.Seconds(), MaxRSSMiB: float64(c.maxRSS) / (1 << 20), CPUSeconds: c.cpu.Seconds(), Exit: c.exit,
		Acted: map[workload.Category]int{}, Missed: map[workload.Category]int{}, Extra: map[workload.Category]int{},
	}
	for a, s := range stats.IAM {
		if s.Served > 0 {
			r.IAMByAction[a] = s.Served
			r.Served[a] = [2]float64{s.FirstServed, s.LastServed}
		}
		if s.Throttled > 0 {
			r.ThrottledByAction[a] = s.Throttled
		}
	}
	if o.rate > 0 {
		r.RateBoundSeconds = float64(r.IAMCalls) / o.rate
		if r.RateBoundSeconds > 0 {
			r.WallOverBound = r.WallSeconds / r.RateBoundSeconds
		}
	}
	r.Outcome, r.ToolErrors = toolOutcome(tool, c)
	if c.exit != 0 {
		r.StderrEnd = lastLines(c.stderr, 15)
	}

	for _, u := range w.Users {
		held := false
		for _, k := range u.Keys {
			changed := state[k.ID] != workload.StateActive
			if changed {
				r.ActedKeys++
				r.Acted[k.Category]++
				held = true
			}
			switch {
			case want[k.ID] && !changed:
				r.Missed[k.Category]++
			case !want[k.ID] && changed:
				r.Extra[k.Category]++
			}
		}
		if held {
			r.ActedUsers++
		}
	}

	if o.staleScale != 1 {
		r.StaleScale = o.staleScale
	}
	switch tool {
	case toolFast, toolFastNoTags, toolFastMem:
		r.CallBound = 5 + 3*r.ActedUsers + r.ActedKeys
		r.add("IAM calls ≤ 5 + 3 × users acted on + keys acted on", r.CallBound, r.IAMCalls, r.IAMCalls <= r.CallBound)
		if o.rate > 0 {
			r.Checks = append(r.Checks, check{
				Target: "wall time within 20% of calls ÷ rate",
				Want:   fmt.Sprintf("≤ %.1f s", 1.2*r.RateBoundSeconds),
				Got:    fmt.Sprintf("%.1f s (%.2f×)", r.WallSeconds, r.WallOverBound),
				Met:    r.WallSeconds <= 1.2*r.RateBoundSeconds,
			})
		}
		limit := 0.0
		switch {
		case n <= 10_000:
			limit = 128
		case n <= 50_000:
			limit = 512
		}
		if limit > 0 && tool != toolFastMem { // its audit trail is in memory: not the Lambda's footprint
			r.Checks = append(r.Checks, check{Target: "peak memory", Want: fmt.Sprintf("< %.0f MiB", limit),
				Got: fmt.Sprintf("%.1f MiB", r.MaxRSSMiB), Met: r.MaxRSSMiB < limit})
		}
		if tool == toolFastNoTags {
			tagCalls := r.IAMByAction["ListUserTags"] + r.IAMByAction["GetAccountAuthorizationDetails"]
			r.add("no tag reads without tag rules", 0, tagCalls, tagCalls == 0)
		}
		r.Checks = append(r.Checks, check{Target: "throttling loses nothing", Want: "0 errors, run completed",
			Got: fmt.Sprintf("%d errors, %s, %d throttles met", r.ToolErrors, r.Outcome, r.Throttled),
			Met: r.ToolErrors == 0 && r.Outcome == "completed"})
		r.add("acts on exactly the stale keys", 0, sum(r.Missed)+sum(r.Extra), sum(r.Missed)+sum(r.Extra) == 0)
	}
	return r
}

func (r *result) add(target string, want, got int, met bool) {
	r.Checks = append(r.Checks, check{Target: target, Want: fmt.Sprint(want), Got: fmt.Sprint(got), Met: met})
}

func sum(m map[workload.Category]int) int {
	n := 0
	for _, v := range m {
		n += v
	}
	return n
}

// toolOutcome reads how the tool says it ended, and its error count.
func toolOutcome(tool string, c *child) (string, int) {
	switch tool {
	case toolFast, toolFallback, toolFastNoTags, toolFastMem:
		var s struct {
			Outcome string         `json:"outcome"`
			Counts  map[string]int `json:"counts"`
		}
		if err := json.Unmarshal(c.stdout, &s); err != nil {
			return fmt.Sprintf("exit %d, no summary", c.exit), 1
		}
		return s.Outcome, s.Counts["errors"]
	case toolNaive:
		var s struct {
			Errors []string `json:"errors"`
		}
		if err := json.Unmarshal(c.stdout, &s); err != nil {
			return fmt.Sprintf("exit %d, no summary", c.exit), 1
		}
		if c.exit == 0 {
			return "completed", len(s.Errors)
		}
		return fmt.Sprintf("exit %d", c.exit), len(s.Errors)
	default:
		// Custodian logs a failed call and exits non-zero.
		n := strings.Count(c.stderr, "Traceback") + strings.Count(c.stderr, ":ERROR ")
		if c.exit == 0 {
			return "completed", n
		}
		return fmt.Sprintf("exit %d", c.exit), max(n, 1)
	}
}

func lastLines(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

func (r *result) oneLine() string {
	met := "no targets"
	if len(r.Checks) > 0 {
		ok := 0
		for _, c := range r.Checks {
			if c.Met {
				ok++
			}
		}
		met = fmt.Sprintf("%d/%d targets met", ok, len(r.Checks))
	}
	return fmt.Sprintf("%s, %d users: %d IAM calls (%d throttled), %.1f s, %.1f MiB, acted on %d keys of %d users, missed %d, extra %d, %s; %s",
		r.Tool, r.Users, r.IAMCalls, r.Throttled, r.WallSeconds, r.MaxRSSMiB, r.ActedKeys, r.ActedUsers, sum(r.Missed), sum(r.Extra), r.Outcome, met)
}

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
		for _, other := range []string{toolFallback, toolNaive, toolC7n} {
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
