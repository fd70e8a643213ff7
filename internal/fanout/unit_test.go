package fanout_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/keysweep/keysweep/internal/fanout"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/organizations"
	"github.com/aws/aws-sdk-go-v2/service/organizations/types"
	"github.com/google/go-cmp/cmp"

	"github.com/keysweep/keysweep/internal/domain"
	"github.com/keysweep/keysweep/internal/engine"
	"github.com/keysweep/keysweep/internal/journal/mem"
	"github.com/keysweep/keysweep/internal/lambda"
	"github.com/keysweep/keysweep/internal/trigger"
	"github.com/keysweep/keysweep/policy"
)

// Unit tests of paths the emulator does not produce, on the in-process store.

// fakeOrgs is an organization whose accounts all sit under the root.
type fakeOrgs struct{ accounts []types.Account }

var _ fanout.OrganizationsAPI = fakeOrgs{}

func (f fakeOrgs) ListAccounts(context.Context, *organizations.ListAccountsInput, ...func(*organizations.Options)) (*organizations.ListAccountsOutput, error) {
	return &organizations.ListAccountsOutput{Accounts: f.accounts}, nil
}

func (f fakeOrgs) ListAccountsForParent(context.Context, *organizations.ListAccountsForParentInput, ...func(*organizations.Options)) (*organizations.ListAccountsForParentOutput, error) {
	return &organizations.ListAccountsForParentOutput{Accounts: f.accounts}, nil
}

func (f fakeOrgs) ListOrganizationalUnitsForParent(context.Context, *organizations.ListOrganizationalUnitsForParentInput, ...func(*organizations.Options)) (*organizations.ListOrganizationalUnitsForParentOutput, error) {
	return &organizations.ListOrganizationalUnitsForParentOutput{}, nil
}

func (f fakeOrgs) DescribeOrganization(context.Context, *organizations.DescribeOrganizationInput, ...func(*organizations.Options)) (*organizations.DescribeOrganizationOutput, error) {
	return &organizations.DescribeOrganizationOutput{Organization: &types.Organization{Id: aws.String("o-fake123456")}}, nil
}

func activeAccounts(ids ...string) fakeOrgs {
	var f fakeOrgs
	for _, id := range ids {
		f.accounts = append(f.accounts, types.Account{Id: aws.String(id), State: types.AccountStateActive})
	}
	return f
}

// failingOpener cannot open any account.
type failingOpener struct{ err error }

func (f failingOpener) Open(context.Context, string, string) (engine.KeyStore, error) {
	if f.err == nil {
		return nil, errors.New("assume role: AccessDenied")
	}
	return nil, f.err
}

// idleOpener opens accounts whose provider only knows its id: enough for a
// run that is a duplicate before it starts.
type idleOpener struct{}

type idleProvider struct {
	engine.KeyStore // nil: any other call panics
	account         string
}

func (p idleProvider) Account(context.Context) (string, error) { return p.account, nil }
func (p idleProvider) Provider() domain.Provider               { return domain.ProviderAWS }
func (p idleProvider) Capabilities() domain.Capabilities {
	return domain.Capabilities{Deactivate: true, LastUsed: true}
}

func (idleOpener) Open(_ context.Context, account, _ string) (engine.KeyStore, error) {
	return idleProvider{account: account}, nil
}

// failingQueue refuses the messages of the accounts in refuse.
type failingQueue struct {
	fanout.MemQueue
	refuse map[string]bool
}

func (q *failingQueue) Send(ctx context.Context, msgs []fanout.Message) []fanout.SendFailure {
	var ok []fanout.Message
	var failed []fanout.SendFailure
	for _, m := range msgs {
		if q.refuse[m.AccountID] {
			failed = append(failed, fanout.SendFailure{Message: m, Err: errors.New("InvalidParameterValue: refused")})
			continue
		}
		ok = append(ok, m)
	}
	q.MemQueue.Send(ctx, ok)
	return failed
}

func memSetup(t *testing.T, p *policy.Policy, accounts ...string) (*mem.Journal, fanout.Dispatcher) {
	t.Helper()
	mem := mem.New()
	mem.Now = func() time.Time { return fixedNow }
	if p != nil {
		if err := mem.PutPolicy(t.Context(), domain.DefaultPolicyID, p, "test"); err != nil {
			t.Fatal(err)
		}
	}
	return mem, fanout.Dispatcher{
		Orgs: activeAccounts(accounts...), Queue: &fanout.MemQueue{}, Journal: mem, Policies: mem,
		PolicyID: domain.DefaultPolicyID, Now: func() time.Time { return fixedNow }, Logger: quietLogger(),
	}
}

func messageAccounts(msgs []fanout.Message) []string {
	var out []string
	for _, m := range msgs {
		out = append(out, m.AccountID)
	}
	return out
}

func TestHandleScheduledEvent(t *testing.T) {
	_, d := memSetup(t, testPolicy(nil), "111111111111", "222222222222")
	raw, err := os.ReadFile("../../events/schedule.json")
	if err != nil {
		t.Fatal(err)
	}
	res, err := lambda.Dispatcher{Dispatcher: &d}.HandleEvent(t.Context(), raw)
	if err != nil {
		t.Fatal(err)
	}
	want := domain.Trigger{Kind: "schedule", Source: "arn:aws:events:us-east-1:123456789012:rule/ExampleRule", EventID: "schedule:cdc73f9d-aea9-11e3-9d5a-835b769c0d9c"}
	if diff := cmp.Diff(want, res.Run.Trigger); diff != "" {
		t.Errorf("trigger (-want +got):\n%s", diff)
	}
	q := d.Queue.(*fanout.MemQueue)
	if got := messageAccounts(q.Take()); !cmp.Equal(got, []string{"111111111111", "222222222222"}) {
		t.Errorf("messages for %v", got)
	}
	if res.Run.OrganizationID != "o-fake123456" || res.Run.Outcome != domain.RunRunning {
		t.Errorf("organization run: id %q, outcome %s", res.Run.OrganizationID, res.Run.Outcome)
	}

	// EventBridge delivers at least once: the same event starts nothing.
	again, err := lambda.Dispatcher{Dispatcher: &d}.HandleEvent(t.Context(), raw)
	if err != nil {
		t.Fatal(err)
	}
	if !again.Duplicate || again.Run.RunID != res.Run.RunID || len(q.Take()) != 0 {
		t.Errorf("second delivery: duplicate %v, run %s (first %s)", again.Duplicate, again.Run.RunID, res.Run.RunID)
	}
}

func TestHandleEventRefusesUsers(t *testing.T) {
	_, d := memSetup(t, testPolicy(nil), "111111111111")
	raw, err := os.ReadFile("../../events/manual-users.json")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := (lambda.Dispatcher{Dispatcher: &d}).HandleEvent(t.Context(), raw); !errors.Is(err, trigger.ErrBadEvent) || !strings.Contains(err.Error(), "users") {
		t.Errorf("HandleEvent = %v, want an ErrBadEvent about users", err)
	}
}

// A dispatcher cut off between its plan and the end of its sending is
// retried with the same event: it sends every planned message again.
func TestDispatchResumesAfterCutOff(t *testing.T) {
	mem, d := memSetup(t, testPolicy(nil), "111111111111", "222222222222")
	ctx := t.Context()
	trigger := domain.Trigger{Kind: "schedule", EventID: "schedule:cut"}
	run := &domain.Run{RunID: "org-cut", Trigger: trigger, StartedAt: fixedNow, Counts: map[string]int{}}
	if err := mem.BeginRun(ctx, run); err != nil {
		t.Fatal(err)
	}
	if err := mem.PlanOrgRun(ctx, "org-cut", domain.OrgPlan{Accounts: []string{"111111111111", "222222222222"}}); err != nil {
		t.Fatal(err)
	}
	res, err := d.Dispatch(ctx, fanout.DispatchRequest{Trigger: trigger})
	if err != nil {
		t.Fatal(err)
	}
	q := d.Queue.(*fanout.MemQueue)
	if got := messageAccounts(q.Take()); !res.Duplicate || res.Sent != 2 || !cmp.Equal(got, []string{"111111111111", "222222222222"}) {
		t.Errorf("resume: duplicate %v, sent %d, messages %v", res.Duplicate, res.Sent, got)
	}
	if res.Run.DispatchedAt == nil {
		t.Error("the resumed run is not marked dispatched")
	}
	// fanout.Dispatched now: a third delivery sends nothing.
	res, err = d.Dispatch(ctx, fanout.DispatchRequest{Trigger: trigger})
	if err != nil || res.Sent != 0 || len(q.Take()) != 0 {
		t.Errorf("after the resume: sent %d, err %v", res.Sent, err)
	}
}

func TestDispatchRecordsUnsentAccounts(t *testing.T) {
	mem, d := memSetup(t, testPolicy(nil), "111111111111", "222222222222")
	d.Queue = &failingQueue{refuse: map[string]bool{"222222222222": true}}
	res, err := d.Dispatch(t.Context(), fanout.DispatchRequest{Trigger: domain.Trigger{Kind: "manual"}})
	if err != nil {
		t.Fatal(err)
	}
	if res.Sent != 1 || res.Run.AccountsFailed != 1 || res.Run.AccountsPlanned != 2 {
		t.Errorf("sent %d, failed %d, planned %d; want 1, 1, 2", res.Sent, res.Run.AccountsFailed, res.Run.AccountsPlanned)
	}
	accts, _ := mem.AccountResults(t.Context(), res.Run.RunID)
	if len(accts) != 1 || accts[0].Account != "222222222222" || !strings.HasPrefix(accts[0].Error, "not queued: ") {
		t.Errorf("account results = %+v", accts)
	}
}

func TestDispatchRefusesToWidenThePolicy(t *testing.T) {
	p := testPolicy(nil)
	p.Mode = policy.ModeAudit
	_, d := memSetup(t, p, "111111111111")
	res, err := lambda.Dispatcher{Dispatcher: &d}.HandleEvent(t.Context(), []byte(`{"mode":"enforce"}`))
	if !errors.Is(err, engine.ErrPolicy) {
		t.Fatalf("HandleEvent = %v, want ErrPolicy", err)
	}
	if res.Run.Outcome != domain.RunFailed || len(d.Queue.(*fanout.MemQueue).Take()) != 0 {
		t.Errorf("outcome %s; a refused run must send nothing", res.Run.Outcome)
	}
}

// dispatchOne dispatches an organization run of one account on the
// in-memory store, and returns the store, the run and its one message.
func dispatchOne(t *testing.T) (*mem.Journal, *fanout.Dispatched, fanout.Message) {
	t.Helper()
	mem, d := memSetup(t, testPolicy(nil), "111111111111")
	dres, err := d.Dispatch(t.Context(), fanout.DispatchRequest{Trigger: domain.Trigger{Kind: "manual"}})
	if err != nil {
		t.Fatal(err)
	}
	return mem, dres, d.Queue.(*fanout.MemQueue).Take()[0]
}

// memWorker is a worker on the in-memory store at fixedNow.
func memWorker(mem *mem.Journal, accounts fanout.Opener) *fanout.Worker {
	return &fanout.Worker{Journal: mem, Policies: mem, PolicyID: domain.DefaultPolicyID, Accounts: accounts, Logger: quietLogger(), Now: func() time.Time { return fixedNow }}
}

// A failure before the account's run starts is retried, and recorded (and
// sent on to the dead-letter queue) on the last delivery only.
func TestWorkerRetriesThenRecordsFailure(t *testing.T) {
	mem, dres, msg := dispatchOne(t)
	ctx := t.Context()
	w := memWorker(mem, failingOpener{})
	for receive := 1; receive <= 2; receive++ {
		sw := w.Sweep(ctx, msg, receive)
		if !sw.Retry || sw.Recorded != nil || sw.Err == nil {
			t.Fatalf("delivery %d: %+v, want a retry with nothing recorded", receive, sw)
		}
		if _, err := mem.GetRun(ctx, fanout.AccountRunID(dres.Run.RunID, msg.AccountID)); !errors.Is(err, domain.ErrNotFound) {
			t.Fatalf("delivery %d wrote an account run: %v", receive, err)
		}
	}
	sw := w.Sweep(ctx, msg, 3)
	if !sw.Retry || sw.Recorded == nil || sw.Recorded.Status != domain.AccountFailed {
		t.Fatalf("last delivery: %+v, want recorded failed and on to the dead-letter queue", sw)
	}
	o, _ := mem.GetOrgRun(ctx, dres.Run.RunID)
	if o.Outcome != domain.RunFailed || o.AccountsFailed != 1 {
		t.Errorf("organization run: outcome %s, failed %d", o.Outcome, o.AccountsFailed)
	}
}

// A message naming an account its organization run did not plan (sent by
// hand to the queue, say) is never acted on: no role is assumed, no run is
// written, and it goes on towards the dead-letter queue.
func TestWorkerRefusesUnplannedAccount(t *testing.T) {
	mem, dres, msg := dispatchOne(t)
	ctx := t.Context()
	msg.AccountID = "222222222222"
	w := memWorker(mem, panicOpener{t})
	for receive := 1; receive <= fanout.DefaultMaxReceives; receive++ {
		sw := w.Sweep(ctx, msg, receive)
		if !errors.Is(sw.Err, fanout.ErrUnplanned) || !sw.Retry || sw.Recorded != nil {
			t.Fatalf("delivery %d: %+v (err %v), want refused with nothing recorded", receive, sw, sw.Err)
		}
	}
	if _, err := mem.GetRun(ctx, fanout.AccountRunID(dres.Run.RunID, msg.AccountID)); !errors.Is(err, domain.ErrNotFound) {
		t.Errorf("an account run was written for the unplanned account: %v", err)
	}
	o, _ := mem.GetOrgRun(ctx, dres.Run.RunID)
	if o.AccountsDone+o.AccountsFailed != 0 || o.Outcome != domain.RunRunning {
		t.Errorf("organization run counted the unplanned account: done %d, failed %d, outcome %s", o.AccountsDone, o.AccountsFailed, o.Outcome)
	}
}

// An account put on the deny list after it was planned (its message
// redriven from the dead-letter queue later, say) is not swept: the
// account is recorded failed with the reason, and the message is not
// retried.
func TestWorkerHonoursDenyListAddedAfterPlan(t *testing.T) {
	mem, dres, msg := dispatchOne(t)
	ctx := t.Context()
	p := testPolicy(&policy.OrgSelection{ExcludeAccounts: []string{"111111111111"}})
	p.Version = "org-test-2"
	if err := mem.PutPolicy(ctx, domain.DefaultPolicyID, p, "test"); err != nil {
		t.Fatal(err)
	}
	w := memWorker(mem, panicOpener{t})
	sw := w.Sweep(ctx, msg, 1)
	if sw.Retry || sw.Recorded == nil || sw.Recorded.Status != domain.AccountFailed {
		t.Fatalf("%+v, want recorded failed and not retried", sw)
	}
	if !strings.Contains(sw.Recorded.Error, "excluded by policy version org-test-2") {
		t.Errorf("recorded error %q does not say why", sw.Recorded.Error)
	}
	o, _ := mem.GetOrgRun(ctx, dres.Run.RunID)
	if o.AccountsFailed != 1 || o.Outcome != domain.RunFailed {
		t.Errorf("organization run: failed %d, outcome %s", o.AccountsFailed, o.Outcome)
	}
}

// panicOpener fails the test if the worker tries to act in any account.
type panicOpener struct{ t *testing.T }

func (p panicOpener) Open(_ context.Context, account, _ string) (engine.KeyStore, error) {
	p.t.Errorf("the worker opened account %s", account)
	return nil, errors.New("must not open")
}

// A redelivered message whose account run is still "running": young, it
// belongs to a live worker (retry later); old, its worker died (failed).
func TestWorkerRunningDuplicate(t *testing.T) {
	for _, tc := range []struct {
		name       string
		age        time.Duration
		wantRetry  bool
		wantStatus string
	}{
		{"live worker", time.Minute, true, ""},
		{"dead worker", 20 * time.Minute, false, domain.AccountFailed},
	} {
		t.Run(tc.name, func(t *testing.T) {
			mem, dres, msg := dispatchOne(t)
			ctx := t.Context()
			// Another worker started the account's run and never finished it.
			started := &domain.Run{
				RunID: fanout.AccountRunID(msg.OrgRunID, msg.AccountID), Account: msg.AccountID, StartedAt: fixedNow.Add(-tc.age),
				Trigger: domain.Trigger{Kind: "org", Source: msg.OrgRunID, EventID: msg.EventID}, Parent: msg.OrgRunID,
			}
			if err := mem.BeginRun(ctx, started); err != nil {
				t.Fatal(err)
			}
			w := memWorker(mem, idleOpener{})
			sw := w.Sweep(ctx, msg, 2)
			status := ""
			if sw.Recorded != nil {
				status = sw.Recorded.Status
			}
			if sw.Retry != tc.wantRetry || status != tc.wantStatus || !sw.Duplicate {
				t.Errorf("Sweep = retry %v, status %q, duplicate %v; want %v, %q, true", sw.Retry, status, sw.Duplicate, tc.wantRetry, tc.wantStatus)
			}
			run, _ := mem.GetRun(ctx, started.RunID)
			o, _ := mem.GetOrgRun(ctx, dres.Run.RunID)
			if tc.wantRetry {
				if run.Outcome != domain.RunRunning || o.AccountsFailed != 0 {
					t.Errorf("a live worker's run was touched: %s, failed %d", run.Outcome, o.AccountsFailed)
				}
				return
			}
			if run.Outcome != domain.RunFailed || !strings.Contains(strings.Join(run.Errors, ";"), "worker stopped") || o.AccountsFailed != 1 {
				t.Errorf("dead worker's run: %+v; organization failed %d", run, o.AccountsFailed)
			}
		})
	}
}

func TestWorkerUnknownOrgRun(t *testing.T) {
	mem := mem.New()
	w := &fanout.Worker{Journal: mem, Policies: mem, Accounts: idleOpener{}, Logger: quietLogger()}
	sw := w.Sweep(t.Context(), fanout.NewMessage("org-missing", "111111111111"), 1)
	if !sw.Retry || !errors.Is(sw.Err, domain.ErrNotFound) {
		t.Errorf("Sweep = %+v, want a retry for a missing organization run", sw)
	}
}

func TestDefaultRetryDelay(t *testing.T) {
	got := []time.Duration{fanout.DefaultRetryDelay(1), fanout.DefaultRetryDelay(2), fanout.DefaultRetryDelay(3), fanout.DefaultRetryDelay(40)}
	want := []time.Duration{time.Minute, 4 * time.Minute, 15 * time.Minute, 15 * time.Minute}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
}

// flakyOrgs fails DescribeOrganization while down is set.
type flakyOrgs struct {
	fakeOrgs
	down *bool
}

func (f flakyOrgs) DescribeOrganization(ctx context.Context, in *organizations.DescribeOrganizationInput, opts ...func(*organizations.Options)) (*organizations.DescribeOrganizationOutput, error) {
	if *f.down {
		return nil, errors.New("TooManyRequestsException: slow down")
	}
	return f.fakeOrgs.DescribeOrganization(ctx, in, opts...)
}

// A run that failed before its plan is started over by the trigger's retry
// (Lambda retries a failed asynchronous invocation with the same event).
func TestDispatchRetryStartsFailedRunOver(t *testing.T) {
	_, d := memSetup(t, testPolicy(nil), "111111111111", "222222222222")
	down := true
	d.Orgs = flakyOrgs{fakeOrgs: activeAccounts("111111111111", "222222222222"), down: &down}
	ctx := t.Context()
	req := fanout.DispatchRequest{Trigger: domain.Trigger{Kind: "schedule", EventID: "schedule:flaky"}}
	first, err := d.Dispatch(ctx, req)
	if err == nil || first.Run.Outcome != domain.RunFailed {
		t.Fatalf("first attempt: %v, outcome %s; want a failed run", err, first.Run.Outcome)
	}
	down = false
	again, err := d.Dispatch(ctx, req)
	if err != nil {
		t.Fatal(err)
	}
	got := []string{again.Run.RunID, string(again.Run.Outcome), fmt.Sprint(again.Sent, again.Duplicate, again.Run.AccountsPlanned)}
	want := []string{first.Run.RunID, string(domain.RunRunning), "2 true 2"}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("retry (-want +got):\n%s", diff)
	}
	if len(again.Run.Errors) == 0 || !strings.HasPrefix(again.Run.Errors[0], "earlier attempt: describe organization") {
		t.Errorf("errors = %q, want the earlier attempt's first", again.Run.Errors)
	}
	if got := messageAccounts(d.Queue.(*fanout.MemQueue).Take()); len(got) != 2 {
		t.Errorf("messages for %v", got)
	}
}
