package main

import (
	"fmt"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/keysweep/keysweep/bench/workload"
)

// The report keeps the last run of each label, variant, scenario and tool,
// gives ratios to the fast path measured in the same batch, sums every
// batch up against the call bound and the floor, and sets the scenarios
// side by side.
func TestReport(t *testing.T) {
	in := strings.Join([]string{
		`{"label":"w","tool":"fast","users":10,"keys":20,"iamCalls":50,"wallSeconds":9,"rateBoundSeconds":5,"wallOverBound":1.8}`,
		`{"label":"w","tool":"fast","users":10,"keys":20,"iamCalls":40,"wallSeconds":4,"rateBoundSeconds":4,"wallOverBound":1,"callBound":45,"floor":20,"floorRecheck":30,"checks":[{"target":"t","want":"1","got":"2","met":false}]}`,
		``,
		`{"label":"w","tool":"c7n","users":10,"keys":20,"iamCalls":400,"wallSeconds":40,"floor":20,"floorRecheck":30,"missedByCategory":{"never-used-old":2}}`,
		`{"label":"steady","tool":"fast","users":10,"keys":20,"iamCalls":4,"wallSeconds":0.5,"floor":3,"nothingStale":true,"reportSeconds":0.19,"reportInHandSeconds":0.3,"firstRun":{"iamCalls":14,"iamByAction":{"ListAccessKeys":10},"wallSeconds":1}}`,
		`{"label":"limits","scenario":"exempt-key-id","tool":"fast","users":2,"keys":4,"iamCalls":7,"wallSeconds":0.4,"actedKeys":1}`,
		`{"label":"limits","scenario":"exempt-key-id","tool":"c7n","users":2,"keys":4,"iamCalls":9,"wallSeconds":11,"actedKeys":2,"extraByCategory":{"exempt-key-id":1}}`,
	}, "\n")
	runs, err := readResults(strings.NewReader(in))
	if err != nil {
		t.Fatal(err)
	}
	if len(runs) != 5 || runs[0].IAMCalls != 40 {
		t.Fatalf("runs = %d, first calls %d; want 5 runs, the later fast run", len(runs), runs[0].IAMCalls)
	}
	var b strings.Builder
	writeReport(&b, runs)
	for _, want := range []string{
		"### w: 10 users, 20 keys", "| c7n | 10.00× | 10.00× |", "c7n missed 2 never-used-old", "| t | 1 | 2 | **no** |",
		"| w | 10 | fast | 40 | 45 | 20 | 2.00× | 30 | 1.33× |", "| w | 10 | c7n | 400 | — | 20 | 20.00× |",
		"| steady | 10 | fast | 4 | 0 | 3 | 1.33× |", "Batch: no newly stale key; the second run on the account is measured.",
		"fast, first run (records, not measured): 14 IAM calls (ListAccessKeys 10)", "the credential report alone 0.19 s",
		"### limits, exempt-key-id: 2 users, 4 keys", "| exempt-key-id | c7n | 9 | 11.0 s | 2 | 0 | 1 exempt-key-id |",
	} {
		if !strings.Contains(b.String(), want) {
			t.Errorf("report lacks %q:\n%s", want, b.String())
		}
	}
	if _, err := readResults(strings.NewReader("{not json")); err == nil || !strings.Contains(err.Error(), "line 1") {
		t.Errorf("bad line: err = %v, want one naming line 1", err)
	}
}

// The bound counts every user the report shows holding a stale key (exempt
// ones included: their tags and key ids are read) and every stale key
// (re-checked, then changed); the floor only the job itself.
func TestTally(t *testing.T) {
	w := workload.Layout(workload.Spec{Seed: 1}, []workload.UserLayout{
		{Name: "two-stale", Keys: []workload.Category{workload.StaleAge, workload.StaleInactive}},
		{Name: "one-stale", Keys: []workload.Category{workload.NeverUsedOld, workload.Fresh}},
		{Name: "exempt", Tags: map[string]string{workload.ExemptTag: "true"}, Keys: []workload.Category{workload.ExemptStale, workload.ExemptFresh}},
		{Name: "used-since", Keys: []workload.Category{workload.UsedAfterReport, workload.Fresh}},
		{Name: "fresh", Keys: []workload.Category{workload.Fresh, workload.Fresh}},
	})
	state := map[string]string{}
	for i, k := range w.Keys() {
		k.ID = fmt.Sprintf("AKIA%016d", i)
		state[k.ID] = workload.StateActive
		if k.Category.Acted() {
			state[k.ID] = workload.StateInactive
		}
	}
	r := &result{Acted: map[workload.Category]int{}, Missed: map[workload.Category]int{}, Extra: map[workload.Category]int{}}
	r.tally(w, w.WantActed(), state)
	type terms struct{ Acted, ActedUsers, Candidates, Stale, Bound, Floor, FloorRecheck int }
	got := terms{r.ActedKeys, r.ActedUsers, r.CandidateUsers, r.StaleKeys, r.CallBound, r.Floor, r.FloorRecheck}
	// 4 candidate users; 4 stale keys not exempt (3 to act on, 1 used since
	// the report); 2 users and 3 keys to act on.
	want := terms{Acted: 3, ActedUsers: 2, Candidates: 4, Stale: 4, Bound: 5 + 2*4 + 2*4, Floor: 3 + 2 + 3, FloorRecheck: 3 + 2 + 3 + 3}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("tally (-want +got):\n%s", diff)
	}
}
