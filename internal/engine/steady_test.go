package engine_test

import (
	"context"
	"sort"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/keysweep/keysweep/internal/domain"
	"github.com/keysweep/keysweep/internal/engine"
	"github.com/keysweep/keysweep/internal/journal/mem"
)

// In the steady state (nothing newly stale), a tag-exempt user holding a
// stale key has its keys listed once: later runs find the ids of its
// exempt keys in keysweep's own records and read only its tags, and record
// every exempt key with its id. A key the records do not know (created
// since) sends the run back to the listing.
func TestSteadyStateReadsNoKeys(t *testing.T) {
	f := newFake()
	f.add("exempt", "AKIAEXEMPTSTALE00001", 400, 1) // stale by age
	f.add("exempt", "AKIAEXEMPTFRESH00001", 10, 1)
	f.add("fresh", "AKIAFRESH00000000001", 10, 1)
	f.users["exempt"].tags = map[string]string{"keysweep:exempt": "true"}
	p := enforcePolicy(7)
	p.Exemptions.Tag = "keysweep:exempt"
	j := mem.New()

	// sweep runs once and returns the key store calls it made and the ids
	// of the keys it recorded.
	sweep := func(id string) (map[string]int, []string) {
		t.Helper()
		before := f.Calls()
		res := run(t, newEngine(f, j, base), context.Background(), p, id)
		if n := res.Run.Counts[domain.CountErrors]; n != 0 {
			t.Fatalf("run %s: %d errors: %v", id, n, res.Run.Errors)
		}
		calls := map[string]int{}
		for op, n := range f.Calls() {
			if d := n - before[op]; d > 0 {
				calls[op] = d
			}
		}
		recs, err := j.ByRun(context.Background(), res.Run.RunID)
		if err != nil {
			t.Fatal(err)
		}
		var ids []string
		for _, r := range recs {
			ids = append(ids, r.AccessKeyID)
		}
		sort.Strings(ids)
		return calls, ids
	}
	both := []string{"AKIAEXEMPTFRESH00001", "AKIAEXEMPTSTALE00001"}
	for _, tc := range []struct {
		name   string
		before func()
		calls  map[string]int
		ids    []string
	}{
		{name: "first run lists the keys", calls: map[string]int{"Inventory": 1, "OwnerTags": 1, "OwnerKeys": 1}, ids: both},
		{name: "second run reads tags only", calls: map[string]int{"Inventory": 1, "OwnerTags": 1}, ids: both},
		{
			name: "a key created since is listed",
			before: func() {
				f.users["exempt"].keys = f.users["exempt"].keys[:1]
				f.add("exempt", "AKIAEXEMPTNEWKEY0001", 1, -1)
			},
			calls: map[string]int{"Inventory": 1, "OwnerTags": 1, "OwnerKeys": 1},
			ids:   []string{"AKIAEXEMPTNEWKEY0001", "AKIAEXEMPTSTALE00001"},
		},
	} {
		if tc.before != nil {
			tc.before()
		}
		calls, ids := sweep(tc.name)
		if diff := cmp.Diff(tc.calls, calls); diff != "" {
			t.Errorf("%s: key store calls (-want +got):\n%s", tc.name, diff)
		}
		if diff := cmp.Diff(tc.ids, ids); diff != "" {
			t.Errorf("%s: keys recorded (-want +got):\n%s", tc.name, diff)
		}
	}
}

var _ engine.RecentByUser = (*mem.Journal)(nil)
