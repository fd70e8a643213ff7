package bench

import (
	"context"
	"fmt"
	"net/http/httptest"
	"net/url"
	"slices"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	"github.com/aws/aws-sdk-go-v2/service/sts"

	"github.com/keysweep/keysweep/bench/throttleproxy"
	"github.com/keysweep/keysweep/bench/workload"
	"github.com/keysweep/keysweep/internal/awsconf"
	"github.com/keysweep/keysweep/internal/domain"
	"github.com/keysweep/keysweep/internal/engine"
	"github.com/keysweep/keysweep/internal/journal/dynamo"
	"github.com/keysweep/keysweep/internal/keystore/awsiam"
	"github.com/keysweep/keysweep/internal/testenv"
	"github.com/keysweep/keysweep/policy"
)

// A sweep throttled by IAM's rate limit whose deadline cannot fit all its
// actions stops in time, records how far it got, and the next runs
// continue from there: over the runs every stale key is deactivated exactly
// once (one intent and one outcome in its audit history) and none is
// skipped; fresh keys are never touched.
func TestContinuationUnderShortDeadline(t *testing.T) {
	const (
		users      = 60
		staleUsers = 30 // both keys stale: 60 actions, 120 IAM calls
		rate       = 20 // IAM requests a second
		budget     = 3 * time.Second
		margin     = 30 * time.Second
		maxRuns    = 10
	)
	emu := testenv.Emulator(t)
	emu.Reset(t)
	ctx := context.Background()

	// The account: the first 30 users hold two stale keys each (one by
	// age, one by inactivity), the other 30 two fresh keys.
	now := time.Now().UTC().Truncate(time.Second)
	day := 24 * time.Hour
	at := func(days int, h time.Duration) time.Time { return now.Add(-time.Duration(days)*day - h) }
	ptr := func(t time.Time) *time.Time { return &t }
	w := &workload.Workload{Now: now}
	for i := range users {
		u := &workload.User{Name: fmt.Sprintf("user-%03d", i), Path: "/"}
		if i < staleUsers {
			u.Keys = []*workload.Key{
				{User: u.Name, Category: workload.StaleAge, Created: at(100, 12*time.Hour), LastUsed: ptr(at(1, 0))},
				{User: u.Name, Category: workload.StaleInactive, Created: at(70, 13*time.Hour), LastUsed: ptr(at(50, 0))},
			}
		} else {
			u.Keys = []*workload.Key{
				{User: u.Name, Category: workload.Fresh, Created: at(10, 12*time.Hour), LastUsed: ptr(at(1, 0))},
				{User: u.Name, Category: workload.Fresh, Created: at(20, 13*time.Hour), LastUsed: ptr(at(2, 0))},
			}
		}
		w.Users = append(w.Users, u)
	}
	if err := w.Seed(ctx, emu.URL, 0); err != nil {
		t.Fatal(err)
	}

	// IAM through the throttling proxy; DynamoDB straight to the emulator.
	up, _ := url.Parse(emu.URL)
	proxy, err := throttleproxy.New(throttleproxy.Config{Upstream: up, Rate: rate, Burst: 20, Latency: 5 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	ps := httptest.NewServer(proxy)
	t.Cleanup(ps.Close)
	cfg := emu.Config(t)
	cfg.Retryer = func() aws.Retryer { return awsconf.Retryer() } // keysweep's: backs off from every throttle
	counter := awsiam.NewCounter()
	iamc := awsiam.NewClient(cfg, counter, func(o *iam.Options) { o.BaseEndpoint = aws.String(ps.URL) })
	stsc := sts.NewFromConfig(cfg, func(o *sts.Options) { o.BaseEndpoint = aws.String(ps.URL) })
	ddb := dynamodb.NewFromConfig(cfg)
	if err := dynamo.CreateTables(ctx, ddb, "cont-policy", "cont-audit"); err != nil {
		t.Fatal(err)
	}
	st := dynamo.New(ddb, dynamo.Options{PolicyTable: "cont-policy", AuditTable: "cont-audit", Retention: 400 * day})
	pol := &policy.Policy{
		Version: "continuation", Mode: policy.ModeEnforce, MaxKeyAgeDays: 90, MaxInactiveDays: 45, DeleteAfterDays: 7,
		BlastRadius: policy.BlastRadius{MaxActions: 100, MaxPercent: 100},
	}

	var runs []domain.Run
	for i := 0; i < maxRuns; i++ {
		if i > 0 {
			time.Sleep(time.Second) // the schedule's gap; the bucket refills
		}
		eng := &engine.Engine{
			Store:   awsiam.New(iamc, stsc, awsiam.Options{PollInterval: 50 * time.Millisecond, ReportWait: 30 * time.Second}),
			Journal: st,
			Margin:  margin,
		}
		// The deadline leaves `budget` before the margin: far less than
		// the 120 IAM calls of the actions take at 20 a second.
		rctx, cancel := context.WithTimeout(ctx, margin+budget)
		res, err := eng.Run(rctx, engine.Request{Trigger: domain.Trigger{Kind: "schedule", EventID: fmt.Sprintf("cont-%d", i)}, Policy: pol, PolicySource: "file"})
		cancel()
		if err != nil && res == nil {
			t.Fatalf("run %d: %v", i+1, err)
		}
		run := res.Run
		t.Logf("run %d: %s, resume after %q, counts %v, errors %v", i+1, run.Outcome, run.ResumeAfter, run.Counts, run.Errors)
		if run.Counts[domain.CountErrors] != 0 {
			t.Fatalf("run %d: %d errors: %v", i+1, run.Counts[domain.CountErrors], run.Errors)
		}
		runs = append(runs, run)

		state, err := w.State(ctx, emu.URL, workload.IAMClient(emu.Config(t), emu.URL))
		if err != nil {
			t.Fatal(err)
		}
		if i == 0 {
			// The first run started at the first user: users up to its
			// cursor are done. Users after it were untouched, or in flight
			// when the deadline came (a few at once): those are done too,
			// or left as they were, never half done.
			// (The cursor may stay empty: when the first user's call was
			// still backing off from a throttle at the deadline, no user
			// is done in order, though others after it are.)
			if run.Outcome != domain.RunPartial {
				t.Fatalf("run 1: outcome %s, resume after %q; want a partial run (the deadline cannot fit 60 actions)", run.Outcome, run.ResumeAfter)
			}
			for _, u := range w.Users[:staleUsers] {
				for _, k := range u.Keys {
					if u.Name > run.ResumeAfter {
						continue
					}
					if want := workload.StateInactive; state[k.ID] != want {
						t.Errorf("after run 1 (cursor %s): %s of %s is %s, want %s", run.ResumeAfter, k.ID, u.Name, state[k.ID], want)
					}
				}
			}
			if cur, err := st.Resume(ctx, "123456789012"); err != nil || cur != run.ResumeAfter {
				t.Errorf("stored cursor %q (%v), want %q", cur, err, run.ResumeAfter)
			}
		}
		if run.Outcome == domain.RunCompleted {
			break
		}
		if run.Outcome != domain.RunPartial {
			t.Fatalf("run %d: outcome %s", i+1, run.Outcome)
		}
	}
	last := runs[len(runs)-1]
	if last.Outcome != domain.RunCompleted {
		t.Fatalf("not completed after %d runs", len(runs))
	}
	if len(runs) < 2 {
		t.Fatalf("one run did everything: the deadline did not cut it short")
	}
	if cur, _ := st.Resume(ctx, "123456789012"); cur != "" {
		t.Errorf("cursor %q left after the completed run", cur)
	}
	deactivated := 0
	for _, r := range runs {
		deactivated += r.Counts[domain.CountDeactivated]
	}
	if deactivated != 2*staleUsers {
		t.Errorf("runs deactivated %d keys in all, want %d", deactivated, 2*staleUsers)
	}

	// The audit trail: one done outcome per stale key, after one intent;
	// each time the deadline cut a key's call short before it reached IAM
	// there is one more intent, closed as not-applied. Nothing for fresh keys; IAM
	// agrees.
	state, err := w.State(ctx, emu.URL, workload.IAMClient(emu.Config(t), emu.URL))
	if err != nil {
		t.Fatal(err)
	}
	for _, k := range w.Keys() {
		recs, err := st.ByKey(ctx, k.ID)
		if err != nil {
			t.Fatal(err)
		}
		var kinds []string
		for _, r := range recs {
			kinds = append(kinds, r.Kind+":"+r.Action+":"+r.Result)
		}
		slices.Sort(kinds)
		if k.Category == workload.Fresh {
			if len(recs) != 0 || state[k.ID] != workload.StateActive {
				t.Errorf("fresh key %s of %s: %s, records %v", k.ID, k.User, state[k.ID], kinds)
			}
			continue
		}
		// Under load a run can be cut short on the same key more than
		// once: each cut is an intent closed as not-applied.
		cut := 0
		for _, k := range kinds {
			if k == "outcome:deactivate:not-applied" {
				cut++
			}
		}
		want := slices.Repeat([]string{"intent:deactivate:"}, cut+1)
		want = append(want, "outcome:deactivate:done")
		want = append(want, slices.Repeat([]string{"outcome:deactivate:not-applied"}, cut)...)
		if !slices.Equal(kinds, want) || state[k.ID] != workload.StateInactive {
			t.Errorf("stale key %s of %s: %s, records %v; want Inactive, %v", k.ID, k.User, state[k.ID], kinds, want)
		}
	}
	if counter.Throttles() == 0 {
		t.Errorf("no call was throttled: the test does not test throttling")
	}
	t.Logf("%d runs; %d IAM attempts, %d throttled and retried", len(runs), sumMap(counter.Attempts()), counter.Throttles())
}

func sumMap(m map[string]int) int {
	n := 0
	for _, v := range m {
		n += v
	}
	return n
}
