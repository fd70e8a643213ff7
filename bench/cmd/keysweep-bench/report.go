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
		label, tool string
		users       int
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
		k := key{res.Label, res.Tool, res.Users}
		if i, ok := last[k]; ok {
			runs[i] = &res
			continue
		}
		last[k] = len(runs)
		runs = append(runs, &res)
	}
	return runs, sc.Err()
}

func writeReport(w io.Writer, runs []*result) {
	type group struct {
		label string
		users int
	}
	var order []group
	byGroup := map[group][]*result{}
	for _, r := range runs {
		g := group{r.Label, r.Users}
		if _, ok := byGroup[g]; !ok {
			order = append(order, g)
		}
		byGroup[g] = append(byGroup[g], r)
	}
	for _, g := range order {
		rs := byGroup[g]
		r0 := rs[0]
		fmt.Fprintf(w, "### %s: %d users, %d keys\n\n", g.label, g.users, r0.Keys)
		fmt.Fprintf(w, "IAM at %g requests/s (burst %d), %g ms latency; %s, %d CPUs; taken %s.\n\n",
			r0.Rate, r0.Burst, r0.LatencyMs, r0.Machine.OS, r0.Machine.CPUs, r0.At.Format("2006-01-02"))
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
		var fast *result
		for _, r := range rs {
			if r.Tool == toolFast {
				fast = r
			}
		}
		if fast != nil && len(rs) > 1 {
			fmt.Fprintln(w, "| tool | IAM calls ÷ fast path's | wall time ÷ fast path's |")
			fmt.Fprintln(w, "| --- | ---: | ---: |")
			for _, r := range rs {
				if r == fast {
					continue
				}
				fmt.Fprintf(w, "| %s | %.2f× | %.2f× |\n", r.Tool,
					float64(r.IAMCalls)/float64(fast.IAMCalls), r.WallSeconds/fast.WallSeconds)
			}
			fmt.Fprintln(w)
		}
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
}
