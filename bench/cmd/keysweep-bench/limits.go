package main

import (
	"context"
	"time"

	"github.com/keysweep/keysweep/bench/workload"
	"github.com/keysweep/keysweep/policy"
)

// scenario is a small hand-made account on which the same rule is asked of
// keysweep and of Cloud Custodian, where one of them cannot express it or
// cannot keep it (issue 16). Each is run like a variant: seeded, swept by
// each tool on a fresh copy, and read back.
type scenario struct {
	name  string
	about string
	users []workload.UserLayout
	// tweak changes the laid-out account before it is seeded.
	tweak func(w *workload.Workload)
	// exemptIDs lists the keys (by index in w.Keys()) keysweep's policy
	// exempts by id.
	exemptIDs []int
	// preReport takes the credential report first, then uses the
	// UsedAfterReport keys.
	preReport bool
}

// fresh is a user holding two fresh keys: every scenario's bystander.
var fresh = workload.UserLayout{Name: "bystander", Keys: []workload.Category{workload.Fresh, workload.Fresh}}

var scenarios = []scenario{
	{
		name: "exempt-key-id",
		about: "one user holds two keys stale by inactivity, and the policy exempts one of them by its id: " +
			"Cloud Custodian's report has no key ids and remove-keys refuses access-key filters beside credential ones",
		users:     []workload.UserLayout{{Name: "two-stale-keys", Keys: []workload.Category{workload.ExemptID, workload.StaleInactive}}, fresh},
		exemptIDs: []int{0},
	},
	{
		name: "no-recheck",
		about: "a key stale in the credential report is used after the report was taken: " +
			"keysweep re-reads its last use before acting, Cloud Custodian acts on the report",
		users:     []workload.UserLayout{{Name: "used-since-report", Keys: []workload.Category{workload.UsedAfterReport, workload.Fresh}}, fresh},
		preReport: true,
	},
	{
		name: "date-agreement",
		about: "a key stale by age whose creation time has a fraction of a second in ListAccessKeys (the report gives whole seconds): " +
			"remove-keys with matched: true acts only on keys whose two dates are equal",
		users: []workload.UserLayout{{Name: "sub-second-created", Keys: []workload.Category{workload.StaleAge, workload.Fresh}}, fresh},
		tweak: func(w *workload.Workload) {
			k := w.Users[0].Keys[0]
			k.Created = k.Created.Add(250 * time.Millisecond)
		},
	},
}

func scenarioNames() []string {
	var out []string
	for _, s := range scenarios {
		out = append(out, s.name)
	}
	return out
}

func findScenario(name string) (scenario, bool) {
	for _, s := range scenarios {
		if s.name == name {
			return s, true
		}
	}
	return scenario{}, false
}

// policy is keysweep's policy for the seeded account: the benchmark's, with
// the scenario's key id exemptions, and a blast-radius cap a two-user
// account does not trip.
func (sc scenario) policy(w *workload.Workload) *policy.Policy {
	keys := w.Keys()
	p := workload.Policy(len(keys))
	p.BlastRadius.MaxPercent = 100
	for _, i := range sc.exemptIDs {
		p.Exemptions.AccessKeyIDs = append(p.Exemptions.AccessKeyIDs, keys[i].ID)
	}
	return p
}

// measureScenario runs tool on a fresh copy of sc's account.
func (e *benchEnv) measureScenario(ctx context.Context, o options, bins binaries, tmp string, sc scenario, tool string) (*result, error) {
	w := workload.Layout(workload.Spec{Seed: o.seed}, sc.users)
	if sc.tweak != nil {
		sc.tweak(w)
	}
	o.preReport = o.preReport || sc.preReport
	var p *policy.Policy
	if err := e.prepare(ctx, o, w, func(w *workload.Workload) *policy.Policy { p = sc.policy(w); return p }); err != nil {
		return nil, err
	}
	r, err := e.runMeasured(ctx, o, bins, tmp, tool, w, p)
	if err != nil {
		return nil, err
	}
	r.Scenario = sc.name
	return r, nil
}
