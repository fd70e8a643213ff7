package report_test

import (
	"time"

	"github.com/keysweep/keysweep/internal/domain"
	"github.com/keysweep/keysweep/internal/report"
	"github.com/keysweep/keysweep/policy"
)

// demoAt is the demo's judgement time.
var demoAt = time.Date(2026, 6, 1, 9, 0, 0, 0, time.UTC)

func ptr[T any](v T) *T { return &v }

// daysAgo is a time n days before demoAt.
func daysAgo(n int) time.Time { return demoAt.AddDate(0, 0, -n) }

func demoPolicy() *policy.Policy {
	return &policy.Policy{
		Version: "2026-05-demo", Mode: policy.ModeEnforce,
		MaxKeyAgeDays: 90, MaxInactiveDays: 45, DeleteAfterDays: 14,
		BlastRadius: policy.BlastRadius{MaxActions: 10, MaxPercent: 50},
		Exemptions:  policy.Exemptions{Users: []string{"break-glass"}, Tag: "keysweep:exempt"},
		Overrides: []policy.Override{
			{Name: "service-users", PathPrefix: "/service/", MaxInactiveDays: ptr(30), MaxKeyAgeDays: ptr(180)},
		},
	}
}

// demoKey is one key of the demo account, as the engine would know it.
type demoKey struct {
	provider domain.Provider
	account  string
	key      policy.Key
	outcome  domain.KeyOutcome
}

const (
	demoAccount = "111122223333"
	demoOrg     = "org-4711"
	demoDomain  = "d78cbac186b744899480f25bd022f468"
)

func awsKey(user, path, id string, status policy.Status, created, used int, deactivated int) demoKey {
	k := policy.Key{Account: demoAccount, UserName: user, UserPath: path, AccessKeyID: id, Status: status, CreatedAt: daysAgo(created)}
	if used >= 0 {
		k.LastUsedAt = ptr(daysAgo(used))
	}
	if deactivated >= 0 {
		k.DeactivatedAt = ptr(daysAgo(deactivated))
	}
	return demoKey{provider: domain.ProviderAWS, account: demoAccount, key: k}
}

// in moves a demo key to another store's account.
func (k demoKey) in(p domain.Provider, account string) demoKey {
	k.provider, k.account, k.key.Account = p, account, account
	return k
}

// demoKeys: fresh, stale, never used, exempt, awaiting deletion, due for
// deletion, a service user under an override, and keys that become stale
// in the coming weeks; in an AWS account, an Open Telekom Cloud domain
// and a GMI organization, the three targets of `make demo`.
func demoKeys() []demoKey {
	// GMI Cloud does not tell a key's last use.
	gmi := awsKey("ops@example.com", "", "gmi-key-7f3a", policy.StatusActive, 120, -1, -1).in(domain.ProviderGMI, demoOrg)
	gmi2 := awsKey("ml-team@example.com", "", "gmi-key-0b91", policy.StatusActive, 30, -1, -1).in(domain.ProviderGMI, demoOrg)
	// OTC users have no path and no tags.
	otc := func(user, id string, created, used int) demoKey {
		return awsKey(user, "", id, policy.StatusActive, created, used, -1).in(domain.ProviderHuawei, demoDomain)
	}
	return []demoKey{
		otc("ci-runner", "HPUADEMOCIRUNNER0001", 300, 2),
		otc("ops-anna", "HPUADEMOOPSANNA00001", 20, 1),
		otc("backup-job", "HPUADEMOBACKUPJOB001", 80, 5),
		awsKey("alice", "/", "AKIADEMOALICE0000001", policy.StatusActive, 20, 1, -1),
		awsKey("alice", "/", "AKIADEMOALICE0000002", policy.StatusActive, 80, 40, -1),
		awsKey("bob", "/", "AKIADEMOBOB000000001", policy.StatusActive, 200, 100, -1),
		awsKey("carol", "/", "AKIADEMOCAROL0000001", policy.StatusActive, 60, -1, -1),
		awsKey("break-glass", "/", "AKIADEMOBREAKGLASS01", policy.StatusActive, 400, 300, -1),
		awsKey("dave", "/", "AKIADEMODAVE00000001", policy.StatusInactive, 150, 120, 10),
		awsKey("erin", "/", "AKIADEMOERIN00000001", policy.StatusInactive, 300, 200, 20),
		awsKey("svc-build", "/service/", "AKIADEMOSVCBUILD0001", policy.StatusActive, 30, 25, -1),
		awsKey("frank", "/", "AKIADEMOFRANK0000001", policy.StatusActive, 70, 0, -1),
		awsKey("grace", "/", "AKIADEMOGRACE0000001", policy.StatusActive, 10, 3, -1),
		gmi, gmi2,
	}
}

// decide judges the demo keys at t, as the engine's plan would: without
// the inactivity rule where the store cannot tell last use (GMI).
func decide(p *policy.Policy, keys []demoKey, t time.Time) []domain.KeyDecision {
	noIdle := *p
	noIdle.MaxInactiveDays, noIdle.Overrides = 0, nil
	out := make([]domain.KeyDecision, 0, len(keys))
	for _, k := range keys {
		judge := p
		if k.provider == domain.ProviderGMI {
			judge = &noIdle
		}
		d := judge.Evaluate(k.key, t)
		out = append(out, domain.KeyDecision{
			Account: k.account, Provider: k.provider, UserName: k.key.UserName, UserPath: k.key.UserPath,
			AccessKeyID: k.key.AccessKeyID, Status: k.key.Status, CreatedAt: k.key.CreatedAt,
			LastUsedAt: k.key.LastUsedAt, Decision: d, Outcome: k.outcome,
		})
	}
	return out
}

// demoInput is the report of the demo account with a six-week forecast.
func demoInput() report.Input {
	p := demoPolicy()
	keys := demoKeys()
	in := report.Input{
		GeneratedAt: demoAt.Add(5 * time.Minute), At: demoAt,
		Targets: []domain.Target{
			{Name: "aws", Provider: domain.ProviderAWS, Account: demoAccount},
			{Name: "otc-demo", Provider: domain.ProviderHuawei, Account: demoDomain},
			{Name: "gmi-demo", Provider: domain.ProviderGMI, Account: demoOrg},
		},
		Decisions: decide(p, keys, demoAt),
		Policy:    p,
		Capabilities: map[domain.Provider]domain.Capabilities{
			domain.ProviderAWS:    {Deactivate: true, LastUsed: true, OwnerTags: true, OwnerPaths: true, BulkTags: true, Report: true},
			domain.ProviderHuawei: {Deactivate: true, LastUsed: true},
			domain.ProviderGMI:    {Expiry: true},
		},
		Notes: map[domain.Provider][]string{
			domain.ProviderAWS:    {"inventory: credential report of 2026-06-01 08:58 UTC"},
			domain.ProviderHuawei: {"owner tags unavailable: the endpoint offers no IAM v5 (Open Telekom Cloud has v3 only)"},
		},
		Records: demoRecords(),
		Runs:    demoRuns(),
	}
	for _, t := range report.ForecastDates(demoAt, 6) {
		in.Forecast = append(in.Forecast, report.Week{At: t, Decisions: decide(p, keys, t)})
	}
	return in
}

func demoRecords() []domain.Record {
	rec := func(kind, run, actor, user, id, action, result string, ago int) domain.Record {
		return domain.Record{Kind: kind, RunID: run, Account: demoAccount, UserName: user, AccessKeyID: id,
			Action: action, Result: result, Actor: actor, At: daysAgo(ago), PolicyVersion: "2026-05-demo", Mode: policy.ModeEnforce}
	}
	sched := "schedule:arn:aws:events:us-east-1:111122223333:rule/keysweep-daily"
	return []domain.Record{
		rec(domain.KindIntent, "r-20260512T0900Z", sched, "erin", "AKIADEMOERIN00000001", domain.ActionDeactivate, "", 20),
		rec(domain.KindOutcome, "r-20260512T0900Z", sched, "erin", "AKIADEMOERIN00000001", domain.ActionDeactivate, domain.ResultDone, 20),
		rec(domain.KindOutcome, "r-20260522T0900Z", sched, "dave", "AKIADEMODAVE00000001", domain.ActionDeactivate, domain.ResultDone, 10),
		rec(domain.KindOutcome, "v-20260528T141500Z-9c1e2f3a", "arn:aws:iam::111122223333:user/secops", "mallory", "AKIADEMOMALLORY00001", domain.ActionDelete, domain.ResultDone, 4),
		rec(domain.KindOutcome, "r-20260531T0900Z", sched, "trent", "AKIADEMOTRENT0000001", domain.ActionDelete, domain.ResultFailed, 1),
		rec(domain.KindIntent, "r-20260601T0900Z", sched, "bob", "AKIADEMOBOB000000001", domain.ActionDeactivate, "", 0),
	}
}

func demoRuns() []domain.Run {
	run := func(id string, ago int, outcome domain.RunOutcome, deact, del int) domain.Run {
		return domain.Run{RunID: id, Account: demoAccount, Provider: domain.ProviderAWS, StartedAt: daysAgo(ago),
			DurationMs: 8400, PolicyVersion: "2026-05-demo", Mode: policy.ModeEnforce, Outcome: outcome,
			Trigger: domain.Trigger{Kind: domain.TriggerSchedule},
			Counts:  map[string]int{domain.CountEvaluated: 10, domain.CountDeactivated: deact, domain.CountDeleted: del}}
	}
	return []domain.Run{
		run("r-20260512T0900Z", 20, domain.RunCompleted, 1, 0),
		run("r-20260522T0900Z", 10, domain.RunCompleted, 1, 0),
		run("r-20260531T0900Z", 1, domain.RunWithFailures, 0, 0),
		run("r-20260601T0900Z", 0, domain.RunRunning, 0, 0),
	}
}
