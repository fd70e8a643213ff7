package dynamo

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	"github.com/keysweep/keysweep/internal/domain"
	"github.com/keysweep/keysweep/internal/journal/mem"
)

// orgContract is what both stores offer organization runs.
type orgContract interface {
	contract
	GetOrgRun(ctx context.Context, runID string) (*domain.OrgRun, error)
	PlanOrgRun(ctx context.Context, runID string, plan domain.OrgPlan) error
	MarkDispatched(ctx context.Context, runID string, notes []string) (*domain.OrgRun, error)
	RecordAccount(ctx context.Context, orgRunID string, res domain.AccountResult) (*domain.OrgRun, error)
	AccountResults(ctx context.Context, orgRunID string) ([]domain.AccountResult, error)
}

var (
	_ orgContract = (*Journal)(nil)
	_ orgContract = (*mem.Journal)(nil)
)

// forEachOrgStore runs f on a fresh store of each kind, with a clock that
// moves one minute on every reading.
func forEachOrgStore(t *testing.T, f func(t *testing.T, st orgContract)) {
	for _, im := range impls {
		t.Run(im.name, func(t *testing.T) {
			var mu sync.Mutex
			n := 0
			clock := func() time.Time {
				mu.Lock()
				defer mu.Unlock()
				n++
				return at(n)
			}
			st, _ := im.new(t, clock)
			f(t, st.(orgContract))
		})
	}
}

func beginOrgRun(t *testing.T, st orgContract, runID string, accounts ...string) {
	t.Helper()
	ctx := t.Context()
	run := &domain.Run{RunID: runID, Account: "999999999999", StartedAt: at(0), Trigger: domain.Trigger{Kind: "schedule", EventID: "schedule:" + runID}, Counts: map[string]int{}}
	if err := st.BeginRun(ctx, run); err != nil {
		t.Fatalf("BeginRun: %v", err)
	}
	if err := st.PlanOrgRun(ctx, runID, domain.OrgPlan{OrganizationID: "o-abcdefghij", Selection: "all accounts", Accounts: accounts}); err != nil {
		t.Fatalf("PlanOrgRun: %v", err)
	}
}

func record(t *testing.T, st orgContract, runID string, res domain.AccountResult) *domain.OrgRun {
	t.Helper()
	o, err := st.RecordAccount(t.Context(), runID, res)
	if err != nil {
		t.Fatalf("RecordAccount %s %s: %v", res.Account, res.Status, err)
	}
	return o
}

func TestOrgRunCountsAndFinishes(t *testing.T) {
	forEachOrgStore(t, func(t *testing.T, st orgContract) {
		ctx := t.Context()
		beginOrgRun(t, st, "org-1", "333333333333", "111111111111", "222222222222")

		o := record(t, st, "org-1", domain.AccountResult{Account: "111111111111", RunID: "org-1-111111111111", Status: domain.AccountDone,
			Outcome: domain.RunCompleted, Counts: map[string]int{"evaluated": 3, "deactivated": 1}})
		if o.Outcome != domain.RunRunning || o.AccountsDone != 1 || o.Finished() {
			t.Fatalf("after one account: outcome %s, done %d, finished %v", o.Outcome, o.AccountsDone, o.Finished())
		}
		record(t, st, "org-1", domain.AccountResult{Account: "222222222222", Status: domain.AccountFailed, Outcome: domain.RunFailed,
			Error: "assume role: AccessDenied"})
		if _, err := st.MarkDispatched(ctx, "org-1", []string{"note one"}); err != nil {
			t.Fatalf("MarkDispatched: %v", err)
		}
		o = record(t, st, "org-1", domain.AccountResult{Account: "333333333333", RunID: "org-1-333333333333", Status: domain.AccountDone,
			Outcome: domain.RunPartial, Counts: map[string]int{"evaluated": 2, "deleted": 1}})

		want := domain.OrgRun{
			Run: domain.Run{
				RunID: "org-1", Account: "999999999999", Trigger: domain.Trigger{Kind: "schedule", EventID: "schedule:org-1"},
				StartedAt: at(0).UTC(), Outcome: domain.RunWithFailures, Errors: []string{"note one"},
				Counts: map[string]int{"evaluated": 5, "deactivated": 1, "deleted": 1},
			},
			OrganizationID:  "o-abcdefghij",
			Selection:       "all accounts",
			Accounts:        []string{"111111111111", "222222222222", "333333333333"},
			AccountsPlanned: 3, AccountsDone: 2, AccountsFailed: 1, Planned: true,
			Outcomes: map[string]int{string(domain.RunCompleted): 1, string(domain.RunPartial): 1, string(domain.RunFailed): 1},
		}
		ignore := cmpopts.IgnoreFields(domain.OrgRun{}, "DispatchedAt", "Run.FinishedAt", "Run.DurationMs")
		if diff := cmp.Diff(want, *o, ignore); diff != "" {
			t.Errorf("finished organization run (-want +got):\n%s", diff)
		}
		if o.FinishedAt == nil || o.DispatchedAt == nil || o.DurationMs <= 0 {
			t.Errorf("finishedAt %v, dispatchedAt %v, durationMs %d: want all set", o.FinishedAt, o.DispatchedAt, o.DurationMs)
		}
		got, err := st.GetOrgRun(ctx, "org-1")
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(o, got); diff != "" {
			t.Errorf("GetOrgRun differs from RecordAccount's answer (-record +get):\n%s", diff)
		}
		// The plain run record shows the totals too.
		run, err := st.GetRun(ctx, "org-1")
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(want.Counts, run.Counts); diff != "" {
			t.Errorf("GetRun counts (-want +got):\n%s", diff)
		}

		results, err := st.AccountResults(ctx, "org-1")
		if err != nil {
			t.Fatal(err)
		}
		var summary []string
		for _, r := range results {
			summary = append(summary, fmt.Sprintf("%s %s %s %q", r.Account, r.Status, r.Outcome, r.Error))
		}
		wantSummary := []string{
			`111111111111 done completed ""`,
			`222222222222 failed failed "assume role: AccessDenied"`,
			`333333333333 done partial ""`,
		}
		if diff := cmp.Diff(wantSummary, summary); diff != "" {
			t.Errorf("AccountResults (-want +got):\n%s", diff)
		}
	})
}

func TestRecordAccountIsIdempotent(t *testing.T) {
	forEachOrgStore(t, func(t *testing.T, st orgContract) {
		beginOrgRun(t, st, "org-2", "111111111111", "222222222222", "333333333333")
		done := domain.AccountResult{Account: "111111111111", Status: domain.AccountDone, Outcome: domain.RunCompleted, Counts: map[string]int{"deleted": 2}}
		failed := domain.AccountResult{Account: "222222222222", Status: domain.AccountFailed, Outcome: domain.RunFailed, Error: "boom"}
		record(t, st, "org-2", done)
		record(t, st, "org-2", failed)
		// Redelivered: nothing may count twice, and done never turns failed.
		record(t, st, "org-2", done)
		record(t, st, "org-2", failed)
		o := record(t, st, "org-2", domain.AccountResult{Account: "111111111111", Status: domain.AccountFailed, Outcome: domain.RunFailed})
		got := [3]int{o.AccountsDone, o.AccountsFailed, o.Counts["deleted"]}
		if want := [3]int{1, 1, 2}; got != want {
			t.Errorf("done, failed, deleted = %v, want %v", got, want)
		}
	})
}

func TestFailedAccountTurnsDone(t *testing.T) {
	forEachOrgStore(t, func(t *testing.T, st orgContract) {
		beginOrgRun(t, st, "org-3", "111111111111", "222222222222")
		record(t, st, "org-3", domain.AccountResult{Account: "111111111111", Status: domain.AccountDone, Outcome: domain.RunCompleted})
		o := record(t, st, "org-3", domain.AccountResult{Account: "222222222222", Status: domain.AccountFailed, Outcome: domain.RunFailed,
			Counts: map[string]int{"errors": 1}})
		if o.Outcome != domain.RunWithFailures {
			t.Fatalf("outcome = %s, want %s", o.Outcome, domain.RunWithFailures)
		}
		finished := *o.FinishedAt
		// The message, redriven from the dead-letter queue, now succeeds.
		o = record(t, st, "org-3", domain.AccountResult{Account: "222222222222", Status: domain.AccountDone, Outcome: domain.RunCompleted,
			Counts: map[string]int{"deactivated": 1}})
		got := struct {
			Outcome        domain.RunOutcome
			Done, Failed   int
			Outcomes       map[string]int
			Counts         map[string]int
			FinishedAtSame bool
		}{o.Outcome, o.AccountsDone, o.AccountsFailed, o.Outcomes, o.Counts, o.FinishedAt.Equal(finished)}
		want := got
		want.Outcome, want.Done, want.Failed, want.FinishedAtSame = domain.RunCompleted, 2, 0, true
		want.Outcomes = map[string]int{string(domain.RunCompleted): 2, string(domain.RunFailed): 0}
		want.Counts = map[string]int{"errors": 0, "deactivated": 1}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("after the redrive (-want +got):\n%s", diff)
		}
	})
}

func TestEmptyPlanFinishesOnDispatch(t *testing.T) {
	forEachOrgStore(t, func(t *testing.T, st orgContract) {
		beginOrgRun(t, st, "org-4")
		o, err := st.MarkDispatched(t.Context(), "org-4", nil)
		if err != nil {
			t.Fatal(err)
		}
		if o.Outcome != domain.RunCompleted || o.AccountsPlanned != 0 || o.FinishedAt == nil {
			t.Errorf("empty organization run: outcome %s, planned %d, finishedAt %v", o.Outcome, o.AccountsPlanned, o.FinishedAt)
		}
	})
}

func TestOrgRunErrors(t *testing.T) {
	forEachOrgStore(t, func(t *testing.T, st orgContract) {
		ctx := t.Context()
		res := domain.AccountResult{Account: "111111111111", Status: domain.AccountDone}
		if _, err := st.RecordAccount(ctx, "nope", res); !errors.Is(err, domain.ErrNotFound) {
			t.Errorf("RecordAccount on a missing run = %v, want domain.ErrNotFound", err)
		}
		if err := st.PlanOrgRun(ctx, "nope", domain.OrgPlan{}); !errors.Is(err, domain.ErrNotFound) {
			t.Errorf("PlanOrgRun on a missing run = %v, want domain.ErrNotFound", err)
		}
		if _, err := st.MarkDispatched(ctx, "nope", nil); !errors.Is(err, domain.ErrNotFound) {
			t.Errorf("MarkDispatched on a missing run = %v, want domain.ErrNotFound", err)
		}
		if _, err := st.GetOrgRun(ctx, "nope"); !errors.Is(err, domain.ErrNotFound) {
			t.Errorf("GetOrgRun on a missing run = %v, want domain.ErrNotFound", err)
		}
		// Begun but not planned: counters would mean nothing.
		if err := st.BeginRun(ctx, &domain.Run{RunID: "org-5", Account: "999999999999", StartedAt: at(0)}); err != nil {
			t.Fatal(err)
		}
		if _, err := st.RecordAccount(ctx, "org-5", res); !errors.Is(err, domain.ErrNotFound) {
			t.Errorf("RecordAccount before PlanOrgRun = %v, want domain.ErrNotFound", err)
		}
		if _, err := st.RecordAccount(ctx, "org-5", domain.AccountResult{Account: "111111111111", Status: "maybe"}); !errors.Is(err, domain.ErrInvalidRecord) {
			t.Errorf("RecordAccount with a bad status = %v, want domain.ErrInvalidRecord", err)
		}
	})
}

func TestRecordAccountConcurrently(t *testing.T) {
	forEachOrgStore(t, func(t *testing.T, st orgContract) {
		const n = 8
		var accounts []string
		for i := range n {
			accounts = append(accounts, fmt.Sprintf("1000000000%02d", i))
		}
		beginOrgRun(t, st, "org-6", accounts...)
		var wg sync.WaitGroup
		errs := make(chan error, 2*n)
		for i, a := range accounts {
			status := domain.AccountDone
			if i%4 == 0 {
				status = domain.AccountFailed
			}
			for range 2 { // each account twice, as a redelivery would
				wg.Go(func() {
					_, err := st.RecordAccount(context.Background(), "org-6", domain.AccountResult{Account: a, Status: status, Outcome: domain.RunCompleted, Counts: map[string]int{"evaluated": 1}})
					errs <- err
				})
			}
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			if err != nil {
				t.Errorf("RecordAccount: %v", err)
			}
		}
		o, err := st.GetOrgRun(t.Context(), "org-6")
		if err != nil {
			t.Fatal(err)
		}
		got := [4]int{o.AccountsDone, o.AccountsFailed, o.Counts["evaluated"], o.Outcomes[string(domain.RunCompleted)]}
		if want := [4]int{6, 2, n, n}; got != want || o.Outcome != domain.RunWithFailures {
			t.Errorf("done, failed, evaluated, completed = %v (outcome %s), want %v (%s)", got, o.Outcome, want, domain.RunWithFailures)
		}
	})
}
