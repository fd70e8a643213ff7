package main

import (
	"strings"
	"testing"
)

// The report keeps the last run of each label, variant and tool, and gives
// ratios to the fast path measured in the same batch.
func TestReport(t *testing.T) {
	in := strings.Join([]string{
		`{"label":"w","tool":"fast","users":10,"keys":20,"iamCalls":50,"wallSeconds":9,"rateBoundSeconds":5,"wallOverBound":1.8}`,
		`{"label":"w","tool":"fast","users":10,"keys":20,"iamCalls":40,"wallSeconds":4,"rateBoundSeconds":4,"wallOverBound":1,"checks":[{"target":"t","want":"1","got":"2","met":false}]}`,
		``,
		`{"label":"w","tool":"c7n","users":10,"keys":20,"iamCalls":400,"wallSeconds":40,"missedByCategory":{"never-used-old":2}}`,
	}, "\n")
	runs, err := readResults(strings.NewReader(in))
	if err != nil {
		t.Fatal(err)
	}
	if len(runs) != 2 || runs[0].IAMCalls != 40 {
		t.Fatalf("runs = %d, first calls %d; want 2 runs, the later fast run", len(runs), runs[0].IAMCalls)
	}
	var b strings.Builder
	writeReport(&b, runs)
	for _, want := range []string{"### w: 10 users, 20 keys", "| c7n | 10.00× | 10.00× |", "c7n missed 2 never-used-old", "| t | 1 | 2 | **no** |"} {
		if !strings.Contains(b.String(), want) {
			t.Errorf("report lacks %q:\n%s", want, b.String())
		}
	}
	if _, err := readResults(strings.NewReader("{not json")); err == nil || !strings.Contains(err.Error(), "line 1") {
		t.Errorf("bad line: err = %v, want one naming line 1", err)
	}
}
