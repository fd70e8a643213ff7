package engine_test

import (
	"context"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/keysweep/keysweep/internal/domain"
	"github.com/keysweep/keysweep/internal/journal/mem"
	"github.com/keysweep/keysweep/policy"
)

// A run whose process died stays "running" in the journal. The next run of
// the account marks it crashed once its deadline has passed, and a retried
// delivery of its event runs again, under a new run id, instead of being
// answered "duplicate".
func TestCrashedRunIsMarkedAndItsEventRunsAgain(t *testing.T) {
	const id = "AKIABOB0000000000001"
	f := newFake()
	f.add("bob", id, 400, 1)
	j := mem.New()
	ctx := context.Background()
	dl := base.Add(15 * time.Minute)
	crashed := &domain.Run{RunID: "r-crashed", Account: "111122223333", StartedAt: base, Deadline: &dl,
		Trigger: domain.Trigger{Kind: "schedule", EventID: "ev-1"}, Counts: map[string]int{}}
	if err := j.BeginRun(ctx, crashed); err != nil {
		t.Fatal(err)
	}

	// Before its deadline, a retry is a duplicate: the run may be alive.
	early := run(t, newEngine(f, j, base.Add(5*time.Minute)), ctx, enforcePolicy(7), "ev-1")
	if !early.Duplicate || f.status(id) != "Active" {
		t.Fatalf("retry within the deadline: duplicate %v, key %s", early.Duplicate, f.status(id))
	}
	// Past its deadline, another run of the account marks it crashed.
	later := base.Add(30 * time.Minute)
	other := run(t, newEngine(f, j, later), ctx, enforcePolicy(7), "ev-2")
	got, _ := j.GetRun(ctx, "r-crashed")
	if got.Outcome != domain.RunCrashed || !strings.Contains(strings.Join(other.Run.Notes, " "), "marked crashed") {
		t.Errorf("crashed run %s; the next run's notes %q", got.Outcome, other.Run.Notes)
	}
	// A retried delivery of the crashed run's event now runs.
	f2 := newFake()
	f2.add("carol", "AKIACAROL00000000001", 400, 1)
	retry := run(t, newEngine(f2, j, later.Add(time.Minute)), ctx, enforcePolicy(7), "ev-1")
	if retry.Duplicate || retry.Run.RunID == "r-crashed" || retry.Run.Outcome != domain.RunCompleted || f2.status("AKIACAROL00000000001") != "Inactive" {
		t.Errorf("retry of the crashed run's event: %+v", retry.Run)
	}
	// And a third delivery is a duplicate of the retry.
	if third := run(t, newEngine(f2, j, later.Add(2*time.Minute)), ctx, enforcePolicy(7), "ev-1"); !third.Duplicate || third.Run.RunID != retry.Run.RunID {
		t.Errorf("third delivery: %+v", third.Run)
	}
}

// Two runs settling the same crashed intent at once: one settles it, the
// other finds it settled and says so; neither counts an error.
func TestTwoRunsSettleOneCrashedIntent(t *testing.T) {
	const id = "AKIABOB0000000000001"
	f := newFake()
	f.add("bob", id, 10, 1) // fresh: the runs judge nothing stale
	j := mem.New()
	ctx := context.Background()
	if err := j.WriteIntent(ctx, domain.Record{Kind: domain.KindIntent, RunID: "dead-run", Account: "111122223333", UserName: "bob",
		AccessKeyID: id, Action: domain.ActionDeactivate, At: base, Mode: policy.ModeEnforce, PolicyVersion: "unit-1"}); err != nil {
		t.Fatal(err)
	}
	later := base.Add(time.Hour)
	// Both runs read the pending intent before either settles it.
	var barrier sync.WaitGroup
	barrier.Add(2)
	bj := barrierJournal{Journal: j, barrier: &barrier}
	done := make(chan *struct{ settled, other, errors int }, 2)
	for i := range 2 {
		go func() {
			res := run(t, newEngine(f, bj, later), ctx, enforcePolicy(7), "settle-"+string(rune('a'+i)))
			c := res.Run.Counts
			done <- &struct{ settled, other, errors int }{c[domain.CountSettled], c[domain.CountSettledByOther], c[domain.CountErrors]}
		}()
	}
	a, b := <-done, <-done
	if a.settled+b.settled != 1 || a.other+b.other != 1 || a.errors+b.errors != 0 {
		t.Errorf("runs: %+v and %+v; want one settled, no error", *a, *b)
	}
	if recs := kinds(t, j, id); len(recs) != 2 || recs[1] != "outcome:deactivate:not-applied" {
		t.Errorf("records %v", recs)
	}
}

// barrierJournal holds each caller of PendingIntents until all have called.
type barrierJournal struct {
	*mem.Journal
	barrier *sync.WaitGroup
}

func (b barrierJournal) PendingIntents(ctx context.Context, scope string) ([]domain.Record, error) {
	recs, err := b.Journal.PendingIntents(ctx, scope)
	b.barrier.Done()
	b.barrier.Wait()
	return recs, err
}
