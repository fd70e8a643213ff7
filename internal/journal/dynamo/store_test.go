package dynamo

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/keysweep/keysweep/internal/domain"
	"github.com/keysweep/keysweep/internal/journal"
	"github.com/keysweep/keysweep/internal/journal/mem"
	"github.com/keysweep/keysweep/policy"
)

// Contract is what both journals offer to the engine, the entry points and
// the CLI.
type Contract interface {
	BeginRun(ctx context.Context, run *domain.Run) error
	FinishRun(ctx context.Context, run *domain.Run) error
	GetRun(ctx context.Context, runID string) (*domain.Run, error)
	QueueRun(ctx context.Context, run *domain.Run) error
	RecordDecision(ctx context.Context, rec domain.Record) error
	WriteIntent(ctx context.Context, rec domain.Record) error
	WriteOutcome(ctx context.Context, rec domain.Record) error
	ObserveInactive(ctx context.Context, key domain.KeyState, at time.Time) error
	KeyState(ctx context.Context, id string) (*domain.KeyState, error)
	PendingIntents(ctx context.Context, scope string) ([]domain.Record, error)
	ByKey(ctx context.Context, id string) ([]domain.Record, error)
	ByRun(ctx context.Context, runID string) ([]domain.Record, error)
	ByUser(ctx context.Context, account, user string) ([]domain.Record, error)
	Resume(ctx context.Context, scope string) (string, error)
	SetResume(ctx context.Context, scope, runID, after string) error
	GetOrgRun(ctx context.Context, runID string) (*domain.OrgRun, error)
	PlanOrgRun(ctx context.Context, runID string, plan domain.OrgPlan) error
	MarkDispatched(ctx context.Context, runID string, notes []string) (*domain.OrgRun, error)
	RecordAccount(ctx context.Context, orgRunID string, res domain.AccountResult) (*domain.OrgRun, error)
	AccountResults(ctx context.Context, orgRunID string) ([]domain.AccountResult, error)
}

var (
	_ Contract = (*Journal)(nil)
	_ Contract = (*mem.Journal)(nil)
)

// contract is what both stores offer, policies included.
type contract interface {
	Contract
	GetPolicy(ctx context.Context, id string) (*policy.Policy, time.Time, error)
	PutPolicy(ctx context.Context, id string, p *policy.Policy, by string) error
}

// impl builds a fresh, empty store of one kind for one test.
type impl struct {
	name string
	new  func(t *testing.T, now func() time.Time) (contract, rawPolicyFunc)
}

// rawPolicyFunc stores a policy item as is, bypassing validation.
type rawPolicyFunc func(t *testing.T, id string, item map[string]any)

// impls lists the stores the contract suite runs against; store_dynamo_test.go
// adds the DynamoDB one.
var impls = []impl{{name: "mem", new: newMemImpl}}

func newMemImpl(t *testing.T, now func() time.Time) (contract, rawPolicyFunc) {
	m := mem.New()
	m.Now = now
	return m, func(t *testing.T, id string, item map[string]any) {
		t.Helper()
		m.PutRawPolicy(id, item)
	}
}

// t0 is in a zone other than UTC, with nanoseconds, to check both survive.
var t0 = time.Date(2025, 3, 4, 5, 6, 7, 123456789, time.FixedZone("CET", 3600))

func at(minutes int) time.Time { return t0.Add(time.Duration(minutes) * time.Minute) }

func utc(minutes int) *time.Time { t := at(minutes).UTC(); return &t }

func rec(kind, run, key string, minutes int) domain.Record {
	r := domain.Record{
		Kind: kind, RunID: run, Account: "111122223333", UserName: "alice", AccessKeyID: key,
		Decision: policy.Deactivate, Reason: "last used 91 days ago, limit 90", Rule: "default",
		PolicyVersion: "v1", Mode: policy.ModeEnforce, At: at(minutes), Actor: "keysweep",
	}
	if kind != domain.KindDecision {
		r.Action = domain.ActionDeactivate
	}
	return r
}

func outcome(run, key, action, result string, minutes int) domain.Record {
	r := rec(domain.KindOutcome, run, key, minutes)
	r.Action, r.Result = action, result
	return r
}

func intent(run, key, action string, minutes int) domain.Record {
	r := rec(domain.KindIntent, run, key, minutes)
	r.Action = action
	return r
}

// stored is rec as the store hands it back.
func stored(r domain.Record) domain.Record { r.At = r.At.UTC(); return r }

func storedAll(rs ...domain.Record) []domain.Record {
	out := make([]domain.Record, len(rs))
	for i, r := range rs {
		out[i] = stored(r)
	}
	return out
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// noChain leaves the hash chain out of a comparison; chain_test.go checks it.
var noChain = cmp.Options{
	cmpopts.IgnoreFields(domain.Record{}, "Seq", "PrevHash", "Hash"),
	cmpopts.IgnoreFields(domain.KeyState{}, "HeadSeq", "HeadHash"),
}

func diff(t *testing.T, what string, want, got any) {
	t.Helper()
	if d := cmp.Diff(want, got, noChain); d != "" {
		t.Errorf("%s mismatch (-want +got):\n%s", what, d)
	}
}

func keyState(t *testing.T, s contract, key string) *domain.KeyState {
	t.Helper()
	st, err := s.KeyState(context.Background(), key)
	must(t, err)
	return st
}

func byKey(t *testing.T, s contract, key string) []domain.Record {
	t.Helper()
	rs, err := s.ByKey(context.Background(), key)
	must(t, err)
	return rs
}

func pending(t *testing.T, s contract) []domain.Record {
	t.Helper()
	rs, err := s.PendingIntents(context.Background(), "111122223333")
	must(t, err)
	return rs
}

func TestContract(t *testing.T) {
	ctx := context.Background()
	const acct = "111122223333"
	cases := []struct {
		name string
		run  func(t *testing.T, s contract, rawPolicy rawPolicyFunc)
	}{
		{"run round trip and not found", func(t *testing.T, s contract, _ rawPolicyFunc) {
			run := &domain.Run{
				RunID: "r1", Account: acct, Trigger: domain.Trigger{Kind: "manual", Source: "arn:aws:iam::111122223333:user/ops"},
				StartedAt: at(0), PolicyVersion: "v1", PolicySource: "stored", Mode: policy.ModeAudit,
				Counts: map[string]int{"keys": 3}, Outcome: "ignored",
			}
			must(t, s.BeginRun(ctx, run))
			got, err := s.GetRun(ctx, "r1")
			must(t, err)
			want := *run
			want.StartedAt, want.Outcome = at(0).UTC(), domain.RunRunning
			diff(t, "begun run", &want, got)

			want.FinishedAt, want.DurationMs, want.Outcome = utc(2), 120000, domain.RunPartial
			want.Errors, want.ResumeAfter = []string{"throttled"}, "bob"
			must(t, s.FinishRun(ctx, &want))
			got, err = s.GetRun(ctx, "r1")
			must(t, err)
			diff(t, "finished run", &want, got)

			if _, err := s.GetRun(ctx, "nope"); !errors.Is(err, domain.ErrNotFound) {
				t.Errorf("GetRun(nope) = %v, want domain.ErrNotFound", err)
			}
		}},
		{"duplicate event writes nothing", func(t *testing.T, s contract, _ rawPolicyFunc) {
			trig := domain.Trigger{Kind: "schedule", EventID: "ev-1"}
			must(t, s.BeginRun(ctx, &domain.Run{RunID: "r1", Account: acct, Trigger: trig, StartedAt: at(0)}))
			err := s.BeginRun(ctx, &domain.Run{RunID: "r2", Account: acct, Trigger: trig, StartedAt: at(1)})
			var dup *domain.DuplicateEventError
			if !errors.As(err, &dup) {
				t.Fatalf("second BeginRun = %v, want *domain.DuplicateEventError", err)
			}
			diff(t, "duplicate", &domain.DuplicateEventError{EventID: "ev-1", RunID: "r1"}, dup)
			if _, err := s.GetRun(ctx, "r2"); !errors.Is(err, domain.ErrNotFound) {
				t.Errorf("GetRun(r2) after duplicate = %v, want domain.ErrNotFound", err)
			}
			// Another event id is a new run.
			trig.EventID = "ev-2"
			must(t, s.BeginRun(ctx, &domain.Run{RunID: "r3", Account: acct, Trigger: trig, StartedAt: at(2)}))
		}},
		{"intent then outcome moves the stage", func(t *testing.T, s contract, _ rawPolicyFunc) {
			in := intent("r1", "AKIA1", domain.ActionDeactivate, 0)
			must(t, s.WriteIntent(ctx, in))
			diff(t, "state with intent", &domain.KeyState{
				Account: acct, AccessKeyID: "AKIA1", UserName: "alice", Intent: ptr(stored(in)),
			}, keyState(t, s, "AKIA1"))
			diff(t, "pending", storedAll(in), pending(t, s))

			out := outcome("r1", "AKIA1", domain.ActionDeactivate, domain.ResultDone, 1)
			must(t, s.WriteOutcome(ctx, out))
			diff(t, "state after deactivate", &domain.KeyState{
				Account: acct, AccessKeyID: "AKIA1", UserName: "alice", Stage: domain.StageDeactivated, DeactivatedAt: utc(1),
			}, keyState(t, s, "AKIA1"))
			diff(t, "pending after outcome", []domain.Record(nil), pending(t, s))

			must(t, s.WriteIntent(ctx, intent("r2", "AKIA1", domain.ActionDelete, 10)))
			must(t, s.WriteOutcome(ctx, outcome("r2", "AKIA1", domain.ActionDelete, domain.ResultDone, 11)))
			diff(t, "state after delete", &domain.KeyState{
				Account: acct, AccessKeyID: "AKIA1", UserName: "alice", Stage: domain.StageDeleted,
				DeactivatedAt: utc(1), DeletedAt: utc(11),
			}, keyState(t, s, "AKIA1"))
			diff(t, "history", storedAll(in, out, intent("r2", "AKIA1", domain.ActionDelete, 10),
				outcome("r2", "AKIA1", domain.ActionDelete, domain.ResultDone, 11)), byKey(t, s, "AKIA1"))
		}},
		{"second intent while one is pending", func(t *testing.T, s contract, _ rawPolicyFunc) {
			first := intent("r1", "AKIA1", domain.ActionDeactivate, 0)
			must(t, s.WriteIntent(ctx, first))
			err := s.WriteIntent(ctx, intent("r2", "AKIA1", domain.ActionDelete, 1))
			if !errors.Is(err, domain.ErrIntentPending) {
				t.Fatalf("second WriteIntent = %v, want domain.ErrIntentPending", err)
			}
			diff(t, "history", storedAll(first), byKey(t, s, "AKIA1"))
			diff(t, "pending", storedAll(first), pending(t, s))
			diff(t, "intent", ptr(stored(first)), keyState(t, s, "AKIA1").Intent)
		}},
		{"outcome without matching intent", func(t *testing.T, s contract, _ rawPolicyFunc) {
			err := s.WriteOutcome(ctx, outcome("r1", "AKIA1", domain.ActionDeactivate, domain.ResultDone, 0))
			if !errors.Is(err, domain.ErrNoIntent) {
				t.Fatalf("WriteOutcome without intent = %v, want domain.ErrNoIntent", err)
			}
			if st := keyState(t, s, "AKIA1"); st != nil {
				t.Errorf("domain.KeyState after refused outcome = %+v, want nil", st)
			}
			in := intent("r1", "AKIA1", domain.ActionDeactivate, 1)
			must(t, s.WriteIntent(ctx, in))
			for _, wrong := range []domain.Record{
				outcome("r2", "AKIA1", domain.ActionDeactivate, domain.ResultDone, 2), // other run
				outcome("r1", "AKIA1", domain.ActionDelete, domain.ResultDone, 2),     // other action
			} {
				if err := s.WriteOutcome(ctx, wrong); !errors.Is(err, domain.ErrNoIntent) {
					t.Errorf("WriteOutcome(run %s, %s) = %v, want domain.ErrNoIntent", wrong.RunID, wrong.Action, err)
				}
			}
			diff(t, "history", storedAll(in), byKey(t, s, "AKIA1"))
			diff(t, "pending", storedAll(in), pending(t, s))
		}},
		{"crashed intent settles", func(t *testing.T, s contract, _ rawPolicyFunc) {
			a := intent("r1", "AKIA1", domain.ActionDelete, 0)
			b := intent("r1", "AKIA2", domain.ActionDeactivate, 1)
			b.UserName = "bob"
			must(t, s.WriteIntent(ctx, b))
			must(t, s.WriteIntent(ctx, a))
			// r1 crashed here. The next run finds both, oldest first.
			diff(t, "pending", storedAll(a, b), pending(t, s))
			must(t, s.WriteOutcome(ctx, outcome("r1", "AKIA1", domain.ActionDelete, domain.ResultSettled, 5)))
			nb := outcome("r1", "AKIA2", domain.ActionDeactivate, domain.ResultNotApplied, 6)
			nb.UserName = "bob"
			must(t, s.WriteOutcome(ctx, nb))
			diff(t, "pending after settling", []domain.Record(nil), pending(t, s))
			diff(t, "settled state", &domain.KeyState{
				Account: acct, AccessKeyID: "AKIA1", UserName: "alice", Stage: domain.StageDeleted, DeletedAt: utc(5),
			}, keyState(t, s, "AKIA1"))
			diff(t, "not applied state", &domain.KeyState{Account: acct, AccessKeyID: "AKIA2", UserName: "bob"},
				keyState(t, s, "AKIA2"))
		}},
		{"results and stages", func(t *testing.T, s contract, _ rawPolicyFunc) {
			for i, tc := range []struct {
				action, result string
				want           domain.KeyState
			}{
				{domain.ActionDeactivate, domain.ResultGone, domain.KeyState{Stage: domain.StageDeleted, DeletedAt: utc(1)}},
				{domain.ActionDelete, domain.ResultGone, domain.KeyState{Stage: domain.StageDeleted, DeletedAt: utc(1)}},
				{domain.ActionDeactivate, domain.ResultSettled, domain.KeyState{Stage: domain.StageDeactivated, DeactivatedAt: utc(1)}},
				{domain.ActionDeactivate, domain.ResultFailed, domain.KeyState{}},
				{domain.ActionDelete, domain.ResultKept, domain.KeyState{}},
				{domain.ActionDelete, domain.ResultNotApplied, domain.KeyState{}},
			} {
				key := fmt.Sprintf("AKIAR%d", i)
				must(t, s.WriteIntent(ctx, intent("r1", key, tc.action, 0)))
				out := outcome("r1", key, tc.action, tc.result, 1)
				if tc.result == domain.ResultFailed {
					out.Error = "AccessDenied"
				}
				must(t, s.WriteOutcome(ctx, out))
				want := tc.want
				want.Account, want.AccessKeyID, want.UserName = acct, key, "alice"
				diff(t, tc.action+" "+tc.result, &want, keyState(t, s, key))
			}
		}},
		{"observe inactive does not overwrite", func(t *testing.T, s contract, _ rawPolicyFunc) {
			if st := keyState(t, s, "AKIA1"); st != nil {
				t.Fatalf("domain.KeyState of unknown key = %+v, want nil", st)
			}
			must(t, s.ObserveInactive(ctx, domain.KeyState{Account: acct, UserName: "alice", AccessKeyID: "AKIA1"}, at(0)))
			must(t, s.ObserveInactive(ctx, domain.KeyState{Account: acct, UserName: "alice", AccessKeyID: "AKIA1"}, at(5)))
			diff(t, "observed", &domain.KeyState{
				Account: acct, AccessKeyID: "AKIA1", UserName: "alice", Stage: domain.StageInactive, DeactivatedAt: utc(0),
			}, keyState(t, s, "AKIA1"))

			must(t, s.WriteIntent(ctx, intent("r1", "AKIA2", domain.ActionDeactivate, 0)))
			must(t, s.WriteOutcome(ctx, outcome("r1", "AKIA2", domain.ActionDeactivate, domain.ResultDone, 1)))
			must(t, s.ObserveInactive(ctx, domain.KeyState{Account: acct, UserName: "alice", AccessKeyID: "AKIA2"}, at(5)))
			diff(t, "deactivated, then observed", &domain.KeyState{
				Account: acct, AccessKeyID: "AKIA2", UserName: "alice", Stage: domain.StageDeactivated, DeactivatedAt: utc(1),
			}, keyState(t, s, "AKIA2"))
		}},
		{"queries by key, run and user", func(t *testing.T, s contract, _ rawPolicyFunc) {
			must(t, s.BeginRun(ctx, &domain.Run{RunID: "r1", Account: acct, StartedAt: at(0)}))
			must(t, s.SetResume(ctx, acct, "r1", "alice"))
			var r1, r2, alice, bob, key1 []domain.Record
			// Written out of time order, more than one page of each (Dynamo
			// pages by 2 in these tests).
			for i := 6; i >= 0; i-- {
				r := rec(domain.KindDecision, "r1", "AKIA1", i)
				run, user, key := "r1", "alice", "AKIA1"
				if i%2 == 1 {
					run = "r2"
				}
				if i%3 == 0 {
					user, key = "bob", "AKIA2"
				}
				r.RunID, r.UserName, r.AccessKeyID = run, user, key
				r.Exempt = i == 4
				must(t, s.RecordDecision(ctx, r))
				prepend := func(list *[]domain.Record) { *list = append([]domain.Record{stored(r)}, *list...) }
				if run == "r1" {
					prepend(&r1)
				} else {
					prepend(&r2)
				}
				if user == "alice" {
					prepend(&alice)
					prepend(&key1)
				} else {
					prepend(&bob)
				}
			}
			// Another account's alice is someone else.
			other := rec(domain.KindDecision, "r3", "AKIA9", 3)
			other.Account = "444455556666"
			must(t, s.RecordDecision(ctx, other))

			get := func(f func() ([]domain.Record, error)) []domain.Record {
				t.Helper()
				rs, err := f()
				must(t, err)
				return rs
			}
			diff(t, "by run r1", r1, get(func() ([]domain.Record, error) { return s.ByRun(ctx, "r1") }))
			diff(t, "by run r2", r2, get(func() ([]domain.Record, error) { return s.ByRun(ctx, "r2") }))
			diff(t, "by user alice", alice, get(func() ([]domain.Record, error) { return s.ByUser(ctx, acct, "alice") }))
			diff(t, "by user bob", bob, get(func() ([]domain.Record, error) { return s.ByUser(ctx, acct, "bob") }))
			diff(t, "by key", key1, byKey(t, s, "AKIA1"))
			diff(t, "by unknown run", []domain.Record(nil), get(func() ([]domain.Record, error) { return s.ByRun(ctx, "none") }))
		}},
		{"resume set, get and clear", func(t *testing.T, s contract, _ rawPolicyFunc) {
			for _, step := range []struct{ set, want string }{
				{"", ""}, {"alice", "alice"}, {"bob", "bob"}, {"", ""},
			} {
				if step.set != "" || step.want == "" {
					must(t, s.SetResume(ctx, acct, "r1", step.set))
				}
				got, err := s.Resume(ctx, acct)
				must(t, err)
				if got != step.want {
					t.Errorf("after SetResume(%q): Resume = %q, want %q", step.set, got, step.want)
				}
			}
			got, err := s.Resume(ctx, "444455556666")
			must(t, err)
			if got != "" {
				t.Errorf("Resume of other account = %q, want empty", got)
			}
		}},
		{"policy", func(t *testing.T, s contract, rawPolicy rawPolicyFunc) {
			if _, _, err := s.GetPolicy(ctx, domain.DefaultPolicyID); !errors.Is(err, domain.ErrNotFound) {
				t.Errorf("GetPolicy of none = %v, want domain.ErrNotFound", err)
			}
			p := policy.Default()
			p.Version, p.Mode = "2025-03", policy.ModeEnforce
			p.Exemptions.Users = []string{"breakglass"}
			must(t, s.PutPolicy(ctx, domain.DefaultPolicyID, p, "arn:aws:iam::111122223333:user/ops"))
			got, updated, err := s.GetPolicy(ctx, domain.DefaultPolicyID)
			must(t, err)
			diff(t, "policy", p, got)
			if want := clock().UTC(); !updated.Equal(want) {
				t.Errorf("updatedAt = %v, want %v", updated, want)
			}

			bad := *p
			bad.Mode = "bogus"
			if err := s.PutPolicy(ctx, "bad", &bad, "ops"); !errors.Is(err, policy.ErrInvalid) {
				t.Errorf("PutPolicy of invalid = %v, want policy.ErrInvalid", err)
			}
			item := p.Item()
			item["mode"] = "bogus"
			rawPolicy(t, "edited", item)
			if _, _, err := s.GetPolicy(ctx, "edited"); !errors.Is(err, policy.ErrInvalid) {
				t.Errorf("GetPolicy of invalid item = %v, want policy.ErrInvalid", err)
			}
		}},
	}
	for _, im := range impls {
		t.Run(im.name, func(t *testing.T) {
			for _, tc := range cases {
				t.Run(tc.name, func(t *testing.T) {
					s, raw := im.new(t, clock)
					tc.run(t, s, raw)
				})
			}
		})
	}
}

// clock is the stores' clock in tests: fixed, so updatedAt can be checked.
func clock() time.Time { return at(60) }

func ptr[T any](v T) *T { return &v }

func TestTimeFormat(t *testing.T) {
	for _, tc := range []struct {
		in   time.Time
		want string
	}{
		{time.Date(2006, 1, 2, 15, 4, 5, 0, time.UTC), "2006-01-02T15:04:05.000000000Z"},
		{t0, "2025-03-04T04:06:07.123456789Z"},
		{time.Date(2025, 1, 1, 0, 0, 0, 1, time.UTC), "2025-01-01T00:00:00.000000001Z"},
	} {
		got := journal.FormatTime(tc.in)
		if got != tc.want {
			t.Errorf("formatTime(%v) = %q, want %q", tc.in, got, tc.want)
		}
		back, err := parseTime(got)
		must(t, err)
		if !back.Equal(tc.in) || back.Location() != time.UTC {
			t.Errorf("parseTime(%q) = %v, want %v in UTC", got, back, tc.in)
		}
	}
}
