package lambda_test

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	ddbtypes "github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	"github.com/google/go-cmp/cmp"

	"github.com/keysweep/keysweep/internal/domain"
	"github.com/keysweep/keysweep/internal/engine"
	"github.com/keysweep/keysweep/internal/lambda"
	"github.com/keysweep/keysweep/internal/testenv/huaweiiam"
	"github.com/keysweep/keysweep/internal/wiring"
	"github.com/keysweep/keysweep/policy"
)

// otc is one scenario's Open Telekom Cloud domain: keysweep's local
// stand-in for its IAM API (it checks every request's AK/SK signature),
// named as a target whose credentials are in a Secrets Manager secret on
// the emulator, exactly as a deployment names it.
type otc struct {
	e     *env
	srv   *huaweiiam.Server
	tc    wiring.TargetConfig
	users map[string]string // name → id
}

const otcTarget = "otc-prod"

func newOTC(e *env) *otc {
	e.t.Helper()
	srv := huaweiiam.Start(e.t, huaweiiam.Options{UsersPageSize: 3})
	c := srv.Caller()
	secret, _ := json.Marshal(map[string]string{
		"accessKeyId": c.AccessKeyID, "secretAccessKey": c.SecretAccessKey, "domainId": srv.DomainID(), "endpoint": srv.URL,
	})
	out, err := secretsmanager.NewFromConfig(e.deps.AWS).CreateSecret(e.ctx(), &secretsmanager.CreateSecretInput{
		Name: aws.String("keysweep/" + otcTarget + "/" + e.now.Format("150405.000000000")), SecretString: aws.String(string(secret)),
	})
	if err != nil {
		e.t.Fatalf("create the target's secret: %v", err)
	}
	tc := wiring.TargetConfig{Name: otcTarget, Provider: domain.ProviderHuawei, SecretARN: aws.ToString(out.ARN), PolicyID: otcTarget}
	return &otc{e: e, srv: srv, tc: tc, users: map[string]string{}}
}

func (o *otc) user(name string) {
	o.users[name] = o.srv.AddUser(name, nil)
}

// key adds a key ageDays old, last used lastUsedDays ago (-1: never).
func (o *otc) key(user string, ageDays, lastUsedDays int) string {
	var last *time.Time
	if lastUsedDays >= 0 {
		l := o.e.now.Add(-time.Duration(lastUsedDays)*24*time.Hour - time.Hour)
		last = &l
	}
	return o.srv.AddKey(o.users[user], o.e.now.Add(-time.Duration(ageDays)*24*time.Hour), last)
}

func (o *otc) status(ak string) string {
	k, ok := o.srv.Key(ak)
	if !ok {
		return "gone"
	}
	return k.Status
}

func (o *otc) putPolicy(doc string) {
	o.e.t.Helper()
	p, err := policy.Parse([]byte(doc))
	if err != nil {
		o.e.t.Fatal(err)
	}
	if err := o.e.deps.Journal.PutPolicy(o.e.ctx(), otcTarget, p, "test"); err != nil {
		o.e.t.Fatal(err)
	}
}

// handler is the sweeper with the AWS account and the OTC domain as its
// targets, the OTC one opened from its secret on first use, both on the
// scenario's clock and the one journal.
func (o *otc) handler(j engine.Journal) *lambda.Sweeper {
	e := o.e
	h := e.handler(j)
	clock := e.clock
	if j == nil {
		j = e.deps.Journal
	}
	h.Targets = append(h.Targets, engine.Target{Name: otcTarget, PolicyID: otcTarget, Open: func(ctx context.Context) (*engine.Engine, error) {
		st, err := e.deps.OpenTarget(ctx, o.tc, nil)
		if err != nil {
			return nil, err
		}
		return &engine.Engine{Store: st, Journal: j, Target: otcTarget, Now: func() time.Time { return clock }}, nil
	}})
	return h
}

func (o *otc) sweep(event []byte) (*lambda.Summary, *engine.Summary, error) {
	o.e.t.Helper()
	sum, err := o.handler(nil).Handle(o.e.ctx(), event)
	if sum == nil {
		return nil, nil, err
	}
	for _, s := range sum.Targets {
		if s.Target == otcTarget {
			return sum, s, err
		}
	}
	o.e.t.Fatalf("no summary of %s in %+v (err %v)", otcTarget, sum, err)
	return nil, nil, nil
}

// TestOTCMixedDomain: one scheduled event sweeps the AWS account and the
// OTC domain side by side into one audit trail; in the domain exactly the
// right keys are deactivated, each judged on its own, with its figures.
func TestOTCMixedDomain(t *testing.T) {
	e := newEnv(t)
	e.user("aws-old", "/", nil)
	awsOld := e.key("aws-old", 400, 1)
	e.putPolicy(enforce)
	o := newOTC(e)
	for _, u := range []string{"fresh", "old", "idle", "never", "two", "robot"} {
		o.user(u)
	}
	fresh, old, idle := o.key("fresh", 10, 1), o.key("old", 400, 1), o.key("idle", 200, 61)
	never, twoOld, twoNew := o.key("never", 50, -1), o.key("two", 300, 100), o.key("two", 3, 0)
	robot := o.key("robot", 500, 300)
	o.putPolicy(enforce + "  users: [robot]\n")

	sum, osum, err := o.sweep(e.scheduled())
	if err != nil {
		t.Fatalf("sweep: %v", err)
	}
	if sum.Target != domain.DefaultTarget || sum.Outcome != domain.RunCompleted || e.state()[awsOld] != "Inactive" {
		t.Errorf("the AWS account's run: %s %s, key %s", sum.Target, sum.Outcome, e.state()[awsOld])
	}
	if osum.Outcome != domain.RunCompleted || osum.Provider != domain.ProviderHuawei || osum.Counts[domain.CountDeactivated] != 4 {
		t.Fatalf("the domain's run: %+v", osum)
	}
	got := map[string]string{}
	for _, id := range []string{fresh, old, idle, never, twoOld, twoNew, robot} {
		got[id] = o.status(id)
	}
	want := map[string]string{fresh: "active", old: "inactive", idle: "inactive", never: "inactive", twoOld: "inactive", twoNew: "active", robot: "active"}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("domain after the sweep (-want +got):\n%s", diff)
	}
	reasons := map[string]string{}
	for _, d := range osum.Actions {
		reasons[d.AccessKeyID] = d.Reason
	}
	for id, frag := range map[string]string{old: "created 400 days ago, limit 90", idle: "last used 61 days ago, limit 45",
		never: "never used, created 50 days ago", robot: "exempt: user robot"} {
		if !strings.Contains(reasons[id], frag) {
			t.Errorf("reason for %s = %q, want %q", id, reasons[id], frag)
		}
	}
	// One audit trail: the domain's records beside the account's, each
	// naming its provider and account.
	recs, _ := e.deps.Journal.ByKey(e.ctx(), old)
	if len(recs) != 2 || recs[0].Provider != domain.ProviderHuawei || recs[0].Account != o.srv.DomainID() {
		t.Errorf("records of an OTC key: %+v", recs)
	}
	run, err := e.deps.Journal.GetRun(e.ctx(), osum.RunID)
	if err != nil || run.Target != otcTarget || run.Provider != domain.ProviderHuawei || run.PolicyVersion != "t-1" {
		t.Errorf("the domain's run record: %+v, %v", run, err)
	}
}

// TestOTCStagedAndRechecked: deactivate, then delete deleteAfterDays
// later; a key used since the inventory is kept by the re-check under the
// lock; a key deleted meanwhile is recorded gone.
func TestOTCStagedAndRechecked(t *testing.T) {
	e := newEnv(t)
	o := newOTC(e)
	o.user("old")
	o.user("busy")
	o.user("vanish")
	old, busy, vanish := o.key("old", 400, 1), o.key("busy", 60, 50), o.key("vanish", 400, 200)
	o.putPolicy(enforce)
	h := o.handler(nil)
	h.Targets[1].Open = wrapOpen(h.Targets[1].Open, func(eng *engine.Engine) {
		eng.Progress = func(stage string, done, total int) {
			if stage == "judge" && done == total {
				now := time.Now()
				o.srv.SetKey(busy, func(k *huaweiiam.Key) { k.LastUsed = &now })
				o.srv.DeleteUser(o.users["vanish"])
			}
		}
	})
	sum, err := h.Handle(e.ctx(), e.scheduled())
	if err != nil {
		t.Fatalf("first sweep: %v", err)
	}
	osum := sum.Targets[0]
	if o.status(old) != "inactive" || o.status(busy) != "active" || osum.Counts[domain.CountKept] != 1 {
		t.Errorf("first sweep: old %s busy %s counts %v", o.status(old), o.status(busy), osum.Counts)
	}
	if diff := cmp.Diff([]string{"intent:deactivate", "outcome:deactivate:kept"}, records(t, e, busy)); diff != "" {
		t.Errorf("records of the key used since (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]string{"intent:deactivate", "outcome:deactivate:gone"}, records(t, e, vanish)); diff != "" {
		t.Errorf("records of the key deleted meanwhile (-want +got):\n%s", diff)
	}
	e.clock = e.now.Add(8 * 24 * time.Hour)
	_, osum2, err := o.sweep(e.scheduled())
	if err != nil || o.status(old) != "gone" || osum2.Counts[domain.CountDeleted] < 1 {
		t.Errorf("eight days later: %s, counts %v, %v", o.status(old), osum2.Counts, err)
	}
	if diff := cmp.Diff([]string{"intent:deactivate", "outcome:deactivate:done", "intent:delete", "outcome:delete:done"}, records(t, e, old)); diff != "" {
		t.Errorf("records of the staged key (-want +got):\n%s", diff)
	}
}

// wrapOpen runs tune on a target's engine once it is opened.
func wrapOpen(open func(context.Context) (*engine.Engine, error), tune func(*engine.Engine)) func(context.Context) (*engine.Engine, error) {
	return func(ctx context.Context) (*engine.Engine, error) {
		eng, err := open(ctx)
		if err == nil {
			tune(eng)
		}
		return eng, err
	}
}

// TestOTCDuplicateCapAndInvalidPolicy: the same event acts once; the cap
// blocks a run that would act on too many keys, changing nothing; an
// invalid stored policy fails the target's run, changing nothing, and the
// AWS account's run is not held back by either.
func TestOTCDuplicateCapAndInvalidPolicy(t *testing.T) {
	e := newEnv(t)
	e.putPolicy(enforce)
	o := newOTC(e)
	o.user("a")
	o.user("b")
	a1, a2, b1 := o.key("a", 400, 1), o.key("a", 300, 1), o.key("b", 500, 1)
	o.putPolicy(strings.Replace(enforce, "maxActions: 100", "maxActions: 2", 1))
	_, osum, err := o.sweep(e.scheduled())
	if !errors.Is(err, engine.ErrBlocked) || osum.Outcome != domain.RunBlocked || o.status(a1) != "active" {
		t.Fatalf("over the cap: %v, %s, %s", err, osum.Outcome, o.status(a1))
	}
	o.putPolicy(enforce)
	ev := e.scheduled()
	if _, _, err := o.sweep(ev); err != nil {
		t.Fatal(err)
	}
	_, again, err := o.sweep(ev)
	if err != nil || !again.Duplicate || o.status(b1) != "inactive" || o.status(a2) != "inactive" {
		t.Errorf("duplicate delivery: %+v, %v", again, err)
	}
	if n := o.srv.Calls()["PUT /v3.0/OS-CREDENTIAL/credentials/{access_key}"]; n != 3 {
		t.Errorf("%d deactivations, want 3: the duplicate acted again", n)
	}
	// A policy item edited by hand into an invalid document.
	bad := putRawPolicy(e.deps.Config.PolicyTable)
	bad.Item["id"] = &ddbtypes.AttributeValueMemberS{Value: otcTarget}
	if _, err := e.deps.DynamoDB.PutItem(e.ctx(), bad); err != nil {
		t.Fatal(err)
	}
	o.user("c")
	c1 := o.key("c", 400, 1)
	sum, osum3, err := o.sweep(e.scheduled())
	if !errors.Is(err, engine.ErrPolicy) || !strings.Contains(err.Error(), "maxInactiveDays") {
		t.Errorf("an invalid stored policy: %v, want a policy error naming the field", err)
	}
	if sum.Outcome != domain.RunCompleted || osum3.Outcome != domain.RunFailed || o.status(c1) != "active" {
		t.Errorf("aws %s, domain %s, key %s: want the domain's run failed, nothing changed", sum.Outcome, osum3.Outcome, o.status(c1))
	}
}

// TestOTCUnreachableFailsLoudly: a domain that cannot be reached (its
// credentials refused) fails its run with an error naming it; nothing
// changes, and the AWS account is swept all the same.
func TestOTCUnreachableFailsLoudly(t *testing.T) {
	e := newEnv(t)
	e.user("old", "/", nil)
	old := e.key("old", 400, 1)
	e.putPolicy(enforce)
	o := newOTC(e)
	o.user("x")
	x := o.key("x", 400, 1)
	o.putPolicy(enforce)
	o.srv.AddCredential(huaweiiam.Credential{AccessKeyID: o.srv.Caller().AccessKeyID, SecretAccessKey: "rotated-elsewhere"})
	sum, err := o.handler(nil).Handle(e.ctx(), e.scheduled())
	if err == nil || !strings.Contains(err.Error(), otcTarget) {
		t.Fatalf("err = %v, want the target named", err)
	}
	if e.state()[old] != "Inactive" || o.status(x) != "active" || sum == nil || sum.Outcome != domain.RunCompleted {
		t.Errorf("aws %s, otc %s, summary %+v", e.state()[old], o.status(x), sum)
	}
	if len(sum.Targets) != 1 || sum.Targets[0].Outcome != domain.RunFailed {
		t.Errorf("the domain's summary: %+v", sum.Targets)
	}
}

// TestOTCCrashBetweenIntentAndOutcome: a run killed between the call and
// its outcome leaves the intent; a run after the settle delay finds the key
// inactive in the domain and settles it.
func TestOTCCrashBetweenIntentAndOutcome(t *testing.T) {
	e := newEnv(t)
	o := newOTC(e)
	o.user("old")
	old := o.key("old", 400, 200)
	o.putPolicy(enforce)
	if _, err := o.handler(crashingJournal{e.deps.Journal}).Handle(e.ctx(), e.scheduled()); err == nil {
		t.Fatal("crashed run reported success")
	}
	if o.status(old) != "inactive" {
		t.Fatalf("the call did not happen: %s", o.status(old))
	}
	e.clock = e.now.Add(20 * time.Minute)
	_, osum, err := o.sweep(e.scheduled())
	if err != nil || osum.Counts[domain.CountSettled] != 1 {
		t.Errorf("settling run: %v, counts %v", err, osum.Counts)
	}
	if diff := cmp.Diff([]string{"intent:deactivate", "outcome:deactivate:settled"}, records(t, e, old)); diff != "" {
		t.Errorf("records (-want +got):\n%s", diff)
	}
}
