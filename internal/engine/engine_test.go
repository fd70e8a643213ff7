package engine_test

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/keysweep/keysweep/internal/domain"
	"github.com/keysweep/keysweep/internal/engine"
	"github.com/keysweep/keysweep/internal/journal/mem"
	"github.com/keysweep/keysweep/policy"
)

// fakeStore is an in-process key store for the paths the emulator
// cannot produce: injected faults, slow calls under a deadline, races.
type fakeStore struct {
	mu    sync.Mutex
	users map[string]*fakeUser
	caps  domain.Capabilities
	// failDeactivate makes Deactivate of these keys fail.
	failDeactivate map[string]error
	// delay slows every action down.
	delay time.Duration
	// acted counts key store changes by key.
	acted map[string][]string
	calls map[string]int
	// inFlight and maxInFlight count Deactivate calls under way.
	inFlight, maxInFlight int
	// beforeRecheck, when set, runs at the start of each Recheck call
	// (the moment between plan and action), without the lock held.
	beforeRecheck func(id string)
	// inventoryErr, while set, makes Inventory fail.
	inventoryErr error
	// listed: the inventory is a live listing with ids (no report).
	listed bool
}

type fakeUser struct {
	path string
	tags map[string]string
	keys []domain.Key
}

var _ engine.KeyStore = (*fakeStore)(nil)

func newFake() *fakeStore {
	return &fakeStore{users: map[string]*fakeUser{}, failDeactivate: map[string]error{}, acted: map[string][]string{}, calls: map[string]int{},
		caps: domain.Capabilities{Deactivate: true, LastUsed: true, OwnerTags: true, OwnerPaths: true, Report: true}}
}

var base = time.Date(2026, 11, 22, 12, 0, 0, 0, time.UTC)

func (f *fakeStore) add(user, id string, ageDays, lastUsedDays int) {
	f.mu.Lock()
	defer f.mu.Unlock()
	u := f.users[user]
	if u == nil {
		u = &fakeUser{path: "/"}
		f.users[user] = u
	}
	k := domain.Key{Account: "111122223333", Owner: user, ID: id, Status: domain.StatusActive,
		CreatedAt: base.Add(-time.Duration(ageDays) * 24 * time.Hour), LastUseKnown: true}
	if lastUsedDays >= 0 {
		t := base.Add(-time.Duration(lastUsedDays) * 24 * time.Hour)
		k.LastUsedAt = &t
	}
	u.keys = append(u.keys, k)
}

func (f *fakeStore) count(op string) { f.calls[op]++ }

func (f *fakeStore) Provider() domain.Provider               { return domain.ProviderAWS }
func (f *fakeStore) Capabilities() domain.Capabilities       { return f.caps }
func (f *fakeStore) Account(context.Context) (string, error) { return "111122223333", nil }

// Inventory answers like the credential report (no key ids), or like a
// listing when f.listed.
func (f *fakeStore) Inventory(context.Context) (*domain.Inventory, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.count("Inventory")
	if f.inventoryErr != nil {
		return nil, f.inventoryErr
	}
	inv := &domain.Inventory{Source: "credential-report", GeneratedAt: base}
	for name, u := range f.users {
		o := domain.Owner{Name: name, Path: u.path}
		for slot, k := range u.keys {
			if !f.listed {
				k.ID, k.Slot = "", slot+1
			}
			o.Keys = append(o.Keys, k)
		}
		inv.Owners = append(inv.Owners, o)
	}
	sort.Slice(inv.Owners, func(i, j int) bool { return inv.Owners[i].Name < inv.Owners[j].Name })
	return inv, nil
}

func (f *fakeStore) OwnerTags(_ context.Context, o domain.Owner) (map[string]string, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.count("OwnerTags")
	u := f.users[o.Name]
	if u == nil {
		return nil, domain.ErrKeyNotFound
	}
	return u.tags, nil
}

func (f *fakeStore) OwnerPath(_ context.Context, o domain.Owner) (string, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.count("OwnerPath")
	u := f.users[o.Name]
	if u == nil {
		return "", domain.ErrKeyNotFound
	}
	return u.path, nil
}

func (f *fakeStore) OwnerKeys(_ context.Context, o domain.Owner) ([]domain.Key, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.count("OwnerKeys")
	u := f.users[o.Name]
	if u == nil {
		return nil, fmt.Errorf("user %s: %w", o.Name, domain.ErrKeyNotFound)
	}
	var out []domain.Key
	for _, k := range u.keys {
		k.LastUsedAt, k.LastUseKnown = nil, false
		out = append(out, k)
	}
	return out, nil
}

func (f *fakeStore) find(id string) (*fakeUser, int) {
	for _, u := range f.users {
		for i, k := range u.keys {
			if k.ID == id {
				return u, i
			}
		}
	}
	return nil, -1
}

func (f *fakeStore) Recheck(_ context.Context, key domain.Key, status bool) (domain.Key, error) {
	if f.beforeRecheck != nil {
		f.beforeRecheck(key.ID)
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	f.count("Recheck")
	u, i := f.find(key.ID)
	if u == nil {
		return domain.Key{}, fmt.Errorf("key %s: %w", key.ID, domain.ErrKeyNotFound)
	}
	live := u.keys[i]
	out := key
	out.Owner, out.LastUsedAt, out.LastUseKnown = live.Owner, live.LastUsedAt, true
	if status {
		out.Status = live.Status
	}
	return out, nil
}

func (f *fakeStore) FindKey(ctx context.Context, id string) (domain.Key, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.count("FindKey")
	u, i := f.find(id)
	if u == nil {
		return domain.Key{}, fmt.Errorf("key %s: %w", id, domain.ErrKeyNotFound)
	}
	return u.keys[i], nil
}

func (f *fakeStore) Deactivate(ctx context.Context, key domain.Key) error {
	f.mu.Lock()
	f.inFlight++
	f.maxInFlight = max(f.maxInFlight, f.inFlight)
	f.mu.Unlock()
	time.Sleep(f.delay)
	f.mu.Lock()
	f.inFlight--
	defer f.mu.Unlock()
	f.count("Deactivate")
	if err := f.failDeactivate[key.ID]; err != nil {
		return err
	}
	u, i := f.find(key.ID)
	if u == nil {
		return domain.ErrKeyNotFound
	}
	u.keys[i].Status = domain.StatusInactive
	f.acted[key.ID] = append(f.acted[key.ID], "deactivate")
	return nil
}

func (f *fakeStore) Delete(ctx context.Context, key domain.Key) error {
	time.Sleep(f.delay)
	f.mu.Lock()
	defer f.mu.Unlock()
	f.count("Delete")
	u, i := f.find(key.ID)
	if u == nil {
		return domain.ErrKeyNotFound
	}
	u.keys = append(u.keys[:i], u.keys[i+1:]...)
	f.acted[key.ID] = append(f.acted[key.ID], "delete")
	return nil
}

func (f *fakeStore) Calls() map[string]int {
	f.mu.Lock()
	defer f.mu.Unlock()
	out := map[string]int{}
	for k, v := range f.calls {
		out[k] = v
	}
	return out
}

func (f *fakeStore) status(id string) string {
	f.mu.Lock()
	defer f.mu.Unlock()
	u, i := f.find(id)
	if u == nil {
		return "gone"
	}
	return string(u.keys[i].Status)
}

func enforcePolicy(deleteAfter int) *policy.Policy {
	return &policy.Policy{
		Version: "unit-1", Mode: policy.ModeEnforce, MaxKeyAgeDays: 90, MaxInactiveDays: 45, DeleteAfterDays: deleteAfter,
		BlastRadius: policy.BlastRadius{MaxActions: 1000, MaxPercent: 100},
	}
}

func newEngine(f engine.KeyStore, j engine.Journal, now time.Time) *engine.Engine {
	return &engine.Engine{Store: f, Journal: j, Now: func() time.Time { return now }}
}

func run(t *testing.T, e *engine.Engine, ctx context.Context, p *policy.Policy, id string) *engine.Result {
	t.Helper()
	res, err := e.Run(ctx, engine.Request{Trigger: domain.Trigger{Kind: "test", EventID: id}, Policy: p, PolicySource: "test"})
	if res == nil {
		t.Fatalf("run: %v", err)
	}
	return res
}

func kinds(t *testing.T, j *mem.Journal, id string) []string {
	t.Helper()
	recs, err := j.ByKey(context.Background(), id)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, r := range recs {
		s := r.Kind
		if r.Action != "" {
			s += ":" + r.Action
		}
		if r.Result != "" {
			s += ":" + r.Result
		}
		out = append(out, s)
	}
	return out
}

// An IAM failure is recorded as the outcome, the intent is released, and
// the next run tries again.
func TestIAMFailureIsRecordedAndRetried(t *testing.T) {
	f := newFake()
	f.add("bob", "AKIABOB0000000000001", 400, 1)
	f.failDeactivate["AKIABOB0000000000001"] = errors.New("api error Throttling: Rate exceeded")
	j := mem.New()
	res := run(t, newEngine(f, j, base), context.Background(), enforcePolicy(7), "e1")
	if res.Run.Counts[domain.CountErrors] != 1 || f.status("AKIABOB0000000000001") != "Active" {
		t.Fatalf("counts %v status %s", res.Run.Counts, f.status("AKIABOB0000000000001"))
	}
	if diff := cmp.Diff([]string{"intent:deactivate", "outcome:deactivate:failed"}, kinds(t, j, "AKIABOB0000000000001")); diff != "" {
		t.Errorf("records (-want +got):\n%s", diff)
	}
	delete(f.failDeactivate, "AKIABOB0000000000001")
	run(t, newEngine(f, j, base.Add(time.Hour)), context.Background(), enforcePolicy(7), "e2")
	if got := f.status("AKIABOB0000000000001"); got != "Inactive" {
		t.Errorf("retry: %s", got)
	}
}

// failingIntents refuses every intent, as DynamoDB would when it is down.
type failingIntents struct{ engine.Journal }

func (failingIntents) WriteIntent(context.Context, domain.Record) error {
	return errors.New("dynamodb unavailable")
}

// Nothing changes without a record: no intent, no IAM call.
func TestNoIntentNoIAMCall(t *testing.T) {
	f := newFake()
	f.add("bob", "AKIABOB0000000000001", 400, 1)
	res := run(t, newEngine(f, failingIntents{mem.New()}, base), context.Background(), enforcePolicy(0), "e1")
	if n := f.Calls()["Delete"] + f.Calls()["Deactivate"]; n != 0 {
		t.Errorf("%d IAM changes without an intent", n)
	}
	if res.Run.Counts[domain.CountErrors] != 1 {
		t.Errorf("counts %v", res.Run.Counts)
	}
}

// A key another run is acting on (a young intent) is left alone.
func TestKeyWithPendingIntentIsLeftAlone(t *testing.T) {
	f := newFake()
	f.add("bob", "AKIABOB0000000000001", 400, 1)
	j := mem.New()
	ctx := context.Background()
	if err := j.WriteIntent(ctx, domain.Record{Kind: domain.KindIntent, RunID: "other-run", Account: "111122223333", UserName: "bob",
		AccessKeyID: "AKIABOB0000000000001", Action: "deactivate", At: base, Mode: policy.ModeEnforce, PolicyVersion: "unit-1"}); err != nil {
		t.Fatal(err)
	}
	res := run(t, newEngine(f, j, base.Add(time.Minute)), ctx, enforcePolicy(7), "e1")
	if res.Run.Counts[domain.CountBusy] != 1 || len(f.acted) != 0 {
		t.Errorf("counts %v acted %v", res.Run.Counts, f.acted)
	}
}

// A run that meets its deadline stops taking new work, records how far it
// got, and the next run continues from there: every key acted on once.
func TestDeadlineContinuation(t *testing.T) {
	f := newFake()
	var ids []string
	for i := 0; i < 120; i++ { // more than a run can act on, DefaultActConcurrency at once
		id := fmt.Sprintf("AKIAUSER%012d", i)
		f.add(fmt.Sprintf("user%03d", i), id, 400, 1)
		ids = append(ids, id)
	}
	f.delay = 10 * time.Millisecond
	j := mem.New()
	runs := 0
	var partials []string
	for runs < 20 {
		runs++
		ctx, cancel := context.WithTimeout(context.Background(), 120*time.Millisecond)
		e := newEngine(f, j, base.Add(time.Duration(runs)*time.Minute))
		e.Margin = 30 * time.Millisecond
		res := run(t, e, ctx, enforcePolicy(7), fmt.Sprintf("e%d", runs))
		cancel()
		if res.Run.Outcome == domain.RunCompleted {
			break
		}
		if res.Run.Outcome != domain.RunPartial || res.Run.ResumeAfter == "" {
			t.Fatalf("run %d: outcome %s resume %q", runs, res.Run.Outcome, res.Run.ResumeAfter)
		}
		partials = append(partials, res.Run.ResumeAfter)
	}
	if len(partials) == 0 {
		t.Fatal("no run was cut short: the test does not test continuation")
	}
	for _, id := range ids {
		if got := f.acted[id]; !cmp.Equal(got, []string{"deactivate"}) {
			t.Errorf("%s acted on %v, want exactly one deactivate", id, got)
		}
	}
	// Each cut-short run moved the cursor on. A run may pass the last user
	// and wrap around to the first (whose keys an earlier run already
	// handled), so the cursors go forward in a cycle, at most one lap.
	laps := 0
	for i := 1; i < len(partials); i++ {
		switch {
		case partials[i] == partials[i-1]:
			t.Errorf("run %d did not move the cursor from %s: %v", i+2, partials[i], partials)
		case partials[i] < partials[i-1]:
			laps++
		}
	}
	if laps > 1 {
		t.Errorf("resume cursors went round more than once: %v", partials)
	}
	t.Logf("%d runs, cut after %v", runs, partials)
}

// A plan reads and writes nothing but its answer.
func TestPlanWritesNothing(t *testing.T) {
	f := newFake()
	f.add("bob", "AKIABOB0000000000001", 400, 1)
	f.add("inactive", "AKIAINA0000000000001", 400, 100)
	f.users["inactive"].keys[0].Status = domain.StatusInactive
	j := mem.New()
	pl, err := newEngine(f, j, base).Plan(context.Background(), enforcePolicy(7), base.Add(30*24*time.Hour), nil)
	if err != nil {
		t.Fatal(err)
	}
	if pl.Actions != 1 || len(pl.Decisions) != 2 {
		t.Errorf("plan %+v", pl)
	}
	for _, id := range []string{"AKIABOB0000000000001", "AKIAINA0000000000001"} {
		if st, _ := j.KeyState(context.Background(), id); st != nil {
			t.Errorf("plan wrote state for %s: %+v", id, st)
		}
		if recs := kinds(t, j, id); len(recs) != 0 {
			t.Errorf("plan wrote records for %s: %v", id, recs)
		}
	}
	if f.Calls()["Deactivate"]+f.Calls()["Delete"]+f.Calls()["Recheck"] != 0 {
		t.Errorf("plan called %v", f.Calls())
	}
}

// A plan at a future date shows what will become stale.
func TestPlanAtFutureDate(t *testing.T) {
	f := newFake()
	f.add("soon", "AKIASOON000000000001", 80, 1)
	pl, err := newEngine(f, mem.New(), base).Plan(context.Background(), enforcePolicy(7), base.Add(20*24*time.Hour), nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(pl.Decisions) != 1 || pl.Decisions[0].Verdict != policy.Deactivate || !strings.Contains(pl.Decisions[0].Reason, "created 100 days ago") {
		t.Errorf("decisions %+v", pl.Decisions)
	}
}

// Only users holding a candidate key cost per-user calls.
func TestCallsOnlyForCandidates(t *testing.T) {
	f := newFake()
	for i := 0; i < 50; i++ {
		f.add(fmt.Sprintf("fresh%02d", i), fmt.Sprintf("AKIAFRESH%011d", i), 10, 1)
	}
	f.add("stale", "AKIASTALE00000000001", 400, 1)
	run(t, newEngine(f, mem.New(), base), context.Background(), enforcePolicy(7), "e1")
	got := f.Calls()
	want := map[string]int{"Inventory": 1, "OwnerKeys": 1, "Recheck": 1, "Deactivate": 1}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("calls (-want +got):\n%s", diff)
	}
}

// An invalid policy fails the run before any read of IAM.
func TestInvalidPolicyNoCalls(t *testing.T) {
	f := newFake()
	f.add("bob", "AKIABOB0000000000001", 400, 1)
	p := enforcePolicy(7)
	p.Mode = "enforced"
	j := mem.New()
	res, err := newEngine(f, j, base).Run(context.Background(), engine.Request{Trigger: domain.Trigger{Kind: "test"}, Policy: p})
	if !errors.Is(err, engine.ErrPolicy) || !strings.Contains(err.Error(), "mode") {
		t.Fatalf("err = %v", err)
	}
	if res.Run.Outcome != domain.RunFailed || f.Calls()["Inventory"] != 0 {
		t.Errorf("outcome %s calls %v", res.Run.Outcome, f.Calls())
	}
	got, err := j.GetRun(context.Background(), res.Run.RunID)
	if err != nil || got.Outcome != domain.RunFailed {
		t.Errorf("run record %+v %v", got, err)
	}
}

// tagDirectory adds the bulk tag read (engine.TagDirectory) to the fake: one
// page per pageSize users of the account.
type tagDirectory struct {
	*fakeStore
	pageSize int
	err      error
	omit     map[string]bool // users the listing does not include
}

func (d *tagDirectory) TagPages(n int) int { return max(1, (n+d.pageSize-1)/d.pageSize) }

func (d *tagDirectory) Capabilities() domain.Capabilities {
	c := d.fakeStore.Capabilities()
	c.BulkTags = true
	return c
}

func (d *tagDirectory) TagsOf(_ context.Context, users []string) (map[string]map[string]string, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	for range d.TagPages(len(d.users)) {
		d.count("TagsOf")
	}
	if d.err != nil {
		return nil, d.err
	}
	out := map[string]map[string]string{}
	for _, name := range users {
		if u := d.users[name]; u != nil && !d.omit[name] {
			out[name] = u.tags
		}
	}
	return out, nil
}

// With tag rules, the candidates' tags come from one paged listing once they
// outnumber its pages; a user the listing missed, or a failed listing, falls
// back to one UserTags call per user; the decisions are the same either way.
func TestBulkTags(t *testing.T) {
	seed := func() *fakeStore {
		f := newFake()
		for i := range 20 {
			f.add(fmt.Sprintf("fresh%02d", i), fmt.Sprintf("AKIAFRESH%011d", i), 10, 1)
		}
		for i := range 6 {
			f.add(fmt.Sprintf("stale%02d", i), fmt.Sprintf("AKIASTALE%011d", i), 400, 1)
		}
		f.users["stale00"].tags = map[string]string{"keysweep:exempt": "true"}
		f.users["stale01"].tags = map[string]string{"keysweep:exempt": "true"}
		return f
	}
	p := enforcePolicy(7)
	p.Exemptions.Tag = "keysweep:exempt"
	verdicts := func(res *engine.Result) map[string]string {
		out := map[string]string{}
		for _, d := range res.Decisions {
			out[d.AccessKeyID] = string(d.Verdict)
		}
		return out
	}

	ref := seed()
	want := verdicts(run(t, newEngine(ref, mem.New(), base), context.Background(), p, "ref"))
	if ref.Calls()["OwnerTags"] != 6 {
		t.Fatalf("without bulk: calls %v, want 6 UserTags", ref.Calls())
	}

	for _, tc := range []struct {
		name     string
		pageSize int
		err      error
		omit     map[string]bool
		calls    map[string]int // TagsOf and UserTags
	}{
		{name: "bulk", pageSize: 10, calls: map[string]int{"TagsOf": 3}},
		{name: "more pages than candidates", pageSize: 4, calls: map[string]int{"OwnerTags": 6}},
		{name: "user missing from the listing", pageSize: 10, omit: map[string]bool{"stale01": true}, calls: map[string]int{"TagsOf": 3, "OwnerTags": 1}},
		{name: "listing fails", pageSize: 10, err: errors.New("AccessDenied"), calls: map[string]int{"TagsOf": 3, "OwnerTags": 6}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := seed()
			d := &tagDirectory{fakeStore: f, pageSize: tc.pageSize, err: tc.err, omit: tc.omit}
			e := &engine.Engine{Store: d, Journal: mem.New(), Now: func() time.Time { return base }}
			res := run(t, e, context.Background(), p, "bulk")
			if diff := cmp.Diff(want, verdicts(res)); diff != "" {
				t.Errorf("verdicts differ from per-user tags (-want +got):\n%s", diff)
			}
			got := map[string]int{}
			for _, op := range []string{"TagsOf", "OwnerTags"} {
				if n := f.Calls()[op]; n > 0 {
					got[op] = n
				}
			}
			if diff := cmp.Diff(tc.calls, got); diff != "" {
				t.Errorf("tag calls (-want +got):\n%s", diff)
			}
		})
	}
}

// Users are acted on a few at once, never more than ActConcurrency, and the
// run's counts add up across them.
func TestActConcurrency(t *testing.T) {
	for _, conc := range []int{1, 3} {
		f := newFake()
		for i := range 12 {
			f.add(fmt.Sprintf("user%02d", i), fmt.Sprintf("AKIAUSER%012d", i), 400, 1)
		}
		f.delay = 5 * time.Millisecond
		e := newEngine(f, mem.New(), base)
		e.ActConcurrency = conc
		res := run(t, e, context.Background(), enforcePolicy(7), "conc")
		if f.maxInFlight != conc {
			t.Errorf("ActConcurrency %d: at most %d Deactivate calls at once, want %d", conc, f.maxInFlight, conc)
		}
		if n := res.Run.Counts[domain.CountDeactivated]; n != 12 || res.Run.Outcome != domain.RunCompleted {
			t.Errorf("ActConcurrency %d: deactivated %d, outcome %s; want 12, completed", conc, n, res.Run.Outcome)
		}
	}
}

// A key keysweep deactivated and its owner reactivated after the plan was
// made is not deleted: the live status is re-read right before a deletion,
// and the key is judged as active again (deactivated, not deleted).
func TestDeleteRechecksLiveStatus(t *testing.T) {
	const id = "AKIABOB0000000000001"
	f := newFake()
	f.add("bob", id, 400, 1)
	j := mem.New()
	p := enforcePolicy(7)
	run(t, newEngine(f, j, base), context.Background(), p, "e1")
	if got := f.status(id); got != "Inactive" {
		t.Fatalf("first run: %s, want Inactive", got)
	}
	f.beforeRecheck = func(string) {
		f.mu.Lock()
		defer f.mu.Unlock()
		u, i := f.find(id)
		u.keys[i].Status = domain.StatusActive
	}
	res := run(t, newEngine(f, j, base.Add(8*24*time.Hour)), context.Background(), p, "e2")
	if diff := cmp.Diff([]string{"deactivate", "deactivate"}, f.acted[id]); diff != "" {
		t.Errorf("IAM changes (-want +got):\n%s", diff)
	}
	if res.Run.Counts[domain.CountDeleted] != 0 || res.Run.Counts[domain.CountDeactivated] != 1 {
		t.Errorf("counts %v, want one deactivation and no deletion", res.Run.Counts)
	}
}

// A key deleted by someone else between the plan and the action is found
// gone by the re-check under the lock: the intent is closed as gone, with
// no key store change and no error.
func TestKeyDeletedBeforeActionIsGone(t *testing.T) {
	const id = "AKIABOB0000000000001"
	f := newFake()
	f.add("bob", id, 400, 1)
	f.add("bob", "AKIABOB0000000000002", 10, 1)
	f.beforeRecheck = func(got string) {
		if got != id {
			return
		}
		f.mu.Lock()
		defer f.mu.Unlock()
		u, i := f.find(id)
		if u != nil {
			u.keys = append(u.keys[:i], u.keys[i+1:]...)
		}
	}
	j := mem.New()
	res := run(t, newEngine(f, j, base), context.Background(), enforcePolicy(7), "e1")
	if res.Run.Counts[domain.CountGone] != 1 || res.Run.Counts[domain.CountErrors] != 0 {
		t.Errorf("counts %v, want the key gone and no error", res.Run.Counts)
	}
	if len(f.acted) != 0 {
		t.Errorf("key store changes %v, want none", f.acted)
	}
	if diff := cmp.Diff([]string{"intent:deactivate", "outcome:deactivate:gone"}, kinds(t, j, id)); diff != "" {
		t.Errorf("records (-want +got):\n%s", diff)
	}
}

// A retried delivery of an event whose run failed before deciding anything
// (here IAM throttled the inventory) runs again under the same run id and
// sweeps the account, keeping the earlier error; a third delivery of the
// now finished run is a duplicate and acts on nothing.
func TestRetryOfRunThatFailedBeforeDecidingStartsOver(t *testing.T) {
	const id = "AKIABOB0000000000001"
	f := newFake()
	f.add("bob", id, 400, 1)
	f.inventoryErr = errors.New("credential report: api error Throttling: Rate exceeded")
	j := mem.New()
	p := enforcePolicy(7)
	first := run(t, newEngine(f, j, base), context.Background(), p, "e1")
	if first.Run.Outcome != domain.RunFailed || f.status(id) != "Active" {
		t.Fatalf("first delivery: outcome %s, key %s", first.Run.Outcome, f.status(id))
	}
	f.inventoryErr = nil
	second := run(t, newEngine(f, j, base.Add(time.Minute)), context.Background(), p, "e1")
	if second.Duplicate || second.Run.RunID != first.Run.RunID || second.Run.Outcome != domain.RunCompleted {
		t.Fatalf("retry: duplicate %v, run %s (first %s), outcome %s", second.Duplicate, second.Run.RunID, first.Run.RunID, second.Run.Outcome)
	}
	if f.status(id) != "Inactive" {
		t.Errorf("retry left the key %s", f.status(id))
	}
	rec, _ := j.GetRun(context.Background(), first.Run.RunID)
	if len(rec.Errors) == 0 || !strings.HasPrefix(rec.Errors[0], "earlier attempt: ") {
		t.Errorf("run errors %q, want the earlier attempt's kept", rec.Errors)
	}
	third := run(t, newEngine(f, j, base.Add(2*time.Minute)), context.Background(), p, "e1")
	if !third.Duplicate {
		t.Errorf("third delivery ran again: %+v", third.Run)
	}
	if diff := cmp.Diff([]string{"deactivate"}, f.acted[id]); diff != "" {
		t.Errorf("IAM changes (-want +got):\n%s", diff)
	}
}

// A key deleted by someone else after the live re-check and before the IAM
// call: UpdateAccessKey answers NoSuchEntity, and the outcome is "gone",
// closing the intent, not a failure.
func TestNoSuchEntityOnActionIsGone(t *testing.T) {
	const id = "AKIABOB0000000000001"
	f := newFake()
	f.add("bob", id, 400, 1)
	f.failDeactivate[id] = fmt.Errorf("update access key %s: %w", id, domain.ErrKeyNotFound)
	j := mem.New()
	res := run(t, newEngine(f, j, base), context.Background(), enforcePolicy(7), "e1")
	if res.Run.Counts[domain.CountGone] != 1 || res.Run.Counts[domain.CountErrors] != 0 {
		t.Errorf("counts %v, want the key gone and no error", res.Run.Counts)
	}
	if diff := cmp.Diff([]string{"intent:deactivate", "outcome:deactivate:gone"}, kinds(t, j, id)); diff != "" {
		t.Errorf("records (-want +got):\n%s", diff)
	}
	if ks, _ := j.KeyState(context.Background(), id); ks == nil || ks.Intent != nil {
		t.Errorf("key state %+v, want its intent closed", ks)
	}
}
