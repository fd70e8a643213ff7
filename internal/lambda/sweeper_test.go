package lambda_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	ddbtypes "github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	"github.com/aws/aws-sdk-go-v2/service/iam/types"
	"github.com/google/go-cmp/cmp"

	"github.com/keysweep/keysweep/internal/domain"
	"github.com/keysweep/keysweep/internal/engine"
	"github.com/keysweep/keysweep/internal/journal/dynamo"
	"github.com/keysweep/keysweep/internal/keystore/awsiam"
	"github.com/keysweep/keysweep/internal/lambda"
	"github.com/keysweep/keysweep/internal/testenv"
	"github.com/keysweep/keysweep/internal/trigger"
	"github.com/keysweep/keysweep/internal/wiring"
	"github.com/keysweep/keysweep/policy"
)

// env is one scenario on the emulator: a fresh IAM account, fresh tables,
// and the sweeper handler wired exactly as functions/sweeper wires it.
type env struct {
	t     *testing.T
	emu   *testenv.Emu
	deps  *wiring.Deps
	now   time.Time
	clock time.Time // the engine's clock; moves on with advance
	users map[string]string
	seq   int
}

var tableSeq atomic.Int64

func newEnv(t *testing.T) *env {
	t.Helper()
	emu := testenv.Emulator(t)
	emu.Reset(t)
	cfg := emu.Config(t)
	n := tableSeq.Add(1)
	c := wiring.Config{
		PolicyTable: fmt.Sprintf("policy-%d", n), AuditTable: fmt.Sprintf("audit-%d", n),
		PolicyID: domain.DefaultPolicyID, Retention: 400 * 24 * time.Hour,
	}
	d := wiring.NewDepsFromConfig(cfg, c, awsiam.Options{PollInterval: 10 * time.Millisecond, ReportWait: 10 * time.Second})
	if err := dynamo.CreateTables(context.Background(), d.DynamoDB, c.PolicyTable, c.AuditTable); err != nil {
		t.Fatalf("create tables: %v", err)
	}
	now := time.Now().UTC()
	return &env{t: t, emu: emu, deps: d, now: now, clock: now, users: map[string]string{}}
}

func (e *env) ctx() context.Context { return context.Background() }

// user creates an IAM user.
func (e *env) user(name, path string, tags map[string]string) {
	e.t.Helper()
	in := &iam.CreateUserInput{UserName: aws.String(name), Path: aws.String(path)}
	for k, v := range tags {
		in.Tags = append(in.Tags, types.Tag{Key: aws.String(k), Value: aws.String(v)})
	}
	if _, err := e.deps.IAM.CreateUser(e.ctx(), in); err != nil {
		e.t.Fatalf("create user %s: %v", name, err)
	}
}

// key creates a key ageDays old, last used lastUsedDays ago (-1: never).
func (e *env) key(user string, ageDays, lastUsedDays int) string {
	e.t.Helper()
	out, err := e.deps.IAM.CreateAccessKey(e.ctx(), &iam.CreateAccessKeyInput{UserName: aws.String(user)})
	if err != nil {
		e.t.Fatalf("create key for %s: %v", user, err)
	}
	id := aws.ToString(out.AccessKey.AccessKeyId)
	e.setKey(id, ageDays, lastUsedDays)
	return id
}

func (e *env) setKey(id string, ageDays, lastUsedDays int) {
	e.t.Helper()
	var last *time.Time
	if lastUsedDays >= 0 {
		l := e.now.Add(-time.Duration(lastUsedDays)*24*time.Hour - time.Hour)
		last = &l
	}
	e.emu.SetKey(e.t, id, e.now.Add(-time.Duration(ageDays)*24*time.Hour), last)
}

func (e *env) deactivate(user, id string) {
	e.t.Helper()
	if _, err := e.deps.IAM.UpdateAccessKey(e.ctx(), &iam.UpdateAccessKeyInput{UserName: aws.String(user), AccessKeyId: aws.String(id), Status: types.StatusTypeInactive}); err != nil {
		e.t.Fatal(err)
	}
}

func (e *env) putPolicy(doc string) *policy.Policy {
	e.t.Helper()
	p, err := policy.Parse([]byte(doc))
	if err != nil {
		e.t.Fatalf("policy: %v", err)
	}
	if err := e.deps.Journal.PutPolicy(e.ctx(), domain.DefaultPolicyID, p, "test"); err != nil {
		e.t.Fatal(err)
	}
	return p
}

// state returns every key's live IAM status, by id.
func (e *env) state() map[string]string {
	e.t.Helper()
	out := map[string]string{}
	users, err := e.deps.IAM.ListUsers(e.ctx(), &iam.ListUsersInput{})
	if err != nil {
		e.t.Fatal(err)
	}
	for _, u := range users.Users {
		keys, err := e.deps.IAM.ListAccessKeys(e.ctx(), &iam.ListAccessKeysInput{UserName: u.UserName})
		if err != nil {
			e.t.Fatal(err)
		}
		for _, k := range keys.AccessKeyMetadata {
			out[aws.ToString(k.AccessKeyId)] = string(k.Status)
		}
	}
	return out
}

func (e *env) handler(j engine.Journal) *lambda.Sweeper {
	if j == nil {
		j = e.deps.Journal
	}
	clock := e.clock
	return &lambda.Sweeper{
		Targets: []engine.Target{{Name: domain.DefaultTarget, PolicyID: domain.DefaultPolicyID,
			Engine: &engine.Engine{Store: e.deps.Store, Journal: j, Now: func() time.Time { return clock }}}},
		Policies: e.deps.Journal,
	}
}

func (e *env) scheduled() []byte {
	e.seq++
	return scheduledEvent(e.t, fmt.Sprintf("evt-%d-%d", e.now.UnixNano(), e.seq))
}

// scheduledEvent is events/schedule.json (made by `sam local generate-event
// cloudwatch scheduled-event`) with its id replaced.
func scheduledEvent(t *testing.T, id string) []byte {
	t.Helper()
	raw, err := os.ReadFile("../../events/schedule.json")
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(raw, &m); err != nil {
		t.Fatal(err)
	}
	m["id"] = id
	out, _ := json.Marshal(m)
	return out
}

func (e *env) sweep(event []byte) (*lambda.Summary, error) {
	e.t.Helper()
	return e.handler(nil).Handle(e.ctx(), event)
}

func (e *env) mustSweep(event []byte) *lambda.Summary {
	e.t.Helper()
	sum, err := e.sweep(event)
	if err != nil {
		e.t.Fatalf("sweep: %v", err)
	}
	return sum
}

func verdicts(sum *lambda.Summary) map[string]string {
	out := map[string]string{}
	for _, d := range sum.Decisions {
		v := string(d.Verdict)
		if d.Outcome != "" {
			v += "/" + string(d.Outcome)
		}
		out[d.UserName+":"+d.AccessKeyID] = v
	}
	return out
}

func records(t *testing.T, e *env, id string) []string {
	t.Helper()
	recs, err := e.deps.Journal.ByKey(e.ctx(), id)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, r := range recs {
		parts := []string{r.Kind}
		for _, p := range []string{r.Action, r.Result} {
			if p != "" {
				parts = append(parts, p)
			}
		}
		out = append(out, strings.Join(parts, ":"))
	}
	return out
}

const enforce = `
version: t-1
mode: enforce
maxKeyAgeDays: 90
maxInactiveDays: 45
deleteAfterDays: 7
blastRadius: {maxActions: 100, maxPercent: 100}
exemptions:
  tag: keysweep:exempt
`

// TestMixedAccount: exactly the right keys are acted on, the rest untouched,
// and every decision carries its figures.
func TestMixedAccount(t *testing.T) {
	e := newEnv(t)
	e.user("fresh", "/", nil)
	fresh := e.key("fresh", 10, 1)
	e.user("old", "/", nil)
	old := e.key("old", 400, 1)
	e.user("idle", "/", nil)
	idle := e.key("idle", 200, 61)
	e.user("never", "/", nil)
	never := e.key("never", 50, -1)
	e.user("newnever", "/", nil)
	newNever := e.key("newnever", 5, -1)
	e.user("two", "/", nil)
	twoOld := e.key("two", 300, 100)
	twoNew := e.key("two", 3, 0)
	e.putPolicy(enforce)

	sum := e.mustSweep(e.scheduled())
	if sum.Outcome != domain.RunCompleted || sum.Mode != policy.ModeEnforce {
		t.Fatalf("outcome %s mode %s, errors %v", sum.Outcome, sum.Mode, sum.Errors)
	}
	want := map[string]string{
		fresh: "Active", old: "Inactive", idle: "Inactive", never: "Inactive",
		newNever: "Active", twoOld: "Inactive", twoNew: "Active",
	}
	if diff := cmp.Diff(want, e.state()); diff != "" {
		t.Errorf("IAM after sweep (-want +got):\n%s", diff)
	}
	reasons := map[string]string{}
	for _, d := range sum.Decisions {
		reasons[d.AccessKeyID] = d.Reason
	}
	for id, frag := range map[string]string{
		old:   "created 400 days ago, limit 90",
		idle:  "last used 61 days ago, limit 45",
		never: "never used, created 50 days ago, limit 45",
	} {
		if !strings.Contains(reasons[id], frag) {
			t.Errorf("reason for %s = %q, want it to contain %q", id, reasons[id], frag)
		}
	}
	if got := sum.Counts[domain.CountDeactivated]; got != 4 {
		t.Errorf("deactivated = %d, want 4", got)
	}
	if diff := cmp.Diff([]string{"intent:deactivate", "outcome:deactivate:done"}, records(t, e, old)); diff != "" {
		t.Errorf("records of %s (-want +got):\n%s", old, diff)
	}
	if recs := records(t, e, fresh); len(recs) != 0 {
		t.Errorf("a kept key has records: %v", recs)
	}
	run, err := e.deps.Journal.GetRun(e.ctx(), sum.RunID)
	if err != nil {
		t.Fatal(err)
	}
	if run.Trigger.Kind != "schedule" || !strings.HasPrefix(run.Trigger.Source, "arn:aws:events:") || run.PolicyVersion != "t-1" {
		t.Errorf("run record trigger %+v policy %s", run.Trigger, run.PolicyVersion)
	}
}

// TestNoPolicyDefaultsToAudit: a new install reports and changes nothing.
func TestNoPolicyDefaultsToAudit(t *testing.T) {
	e := newEnv(t)
	e.user("old", "/", nil)
	old := e.key("old", 400, 200)
	before := e.state()
	sum := e.mustSweep(e.scheduled())
	if sum.PolicySource != engine.SourceDefault || sum.Mode != policy.ModeAudit {
		t.Fatalf("policy source %s mode %s", sum.PolicySource, sum.Mode)
	}
	if len(sum.Notes) == 0 || !strings.Contains(sum.Notes[0], "built-in default") {
		t.Errorf("notes %v do not say the default ran", sum.Notes)
	}
	if diff := cmp.Diff(before, e.state()); diff != "" {
		t.Errorf("audit mode changed IAM (-before +after):\n%s", diff)
	}
	if diff := cmp.Diff([]string{"decision:planned"}, records(t, e, old)); diff != "" {
		t.Errorf("records (-want +got):\n%s", diff)
	}
	run, _ := e.deps.Journal.GetRun(e.ctx(), sum.RunID)
	if run == nil || run.PolicySource != engine.SourceDefault {
		t.Errorf("run record does not say the default policy ran: %+v", run)
	}
}

// TestAuditModeChangesNothing: a stored audit policy and a manual audit
// payload both leave IAM alone.
func TestAuditModeChangesNothing(t *testing.T) {
	e := newEnv(t)
	e.user("old", "/", nil)
	e.key("old", 400, 200)
	e.user("never", "/", nil)
	e.key("never", 100, -1)
	before := e.state()
	e.putPolicy(strings.Replace(enforce, "mode: enforce", "mode: audit", 1))
	sum := e.mustSweep(e.scheduled())
	if sum.Counts[domain.CountDeactivate] != 2 || sum.Counts[domain.CountDeactivated] != 0 {
		t.Errorf("counts %v", sum.Counts)
	}
	e.putPolicy(enforce)
	sum = e.mustSweep([]byte(`{"mode":"audit"}`))
	if sum.Mode != policy.ModeAudit {
		t.Errorf("manual audit payload ran in %s", sum.Mode)
	}
	if diff := cmp.Diff(before, e.state()); diff != "" {
		t.Errorf("audit changed IAM (-before +after):\n%s", diff)
	}
}

// TestManualPayloadCannotWiden: enforce on an audit policy is refused and
// changes nothing; narrowing to users works.
func TestManualPayloadCannotWiden(t *testing.T) {
	e := newEnv(t)
	e.user("a", "/", nil)
	a := e.key("a", 400, 200)
	e.user("b", "/", nil)
	b := e.key("b", 400, 200)
	e.putPolicy(strings.Replace(enforce, "mode: enforce", "mode: audit", 1))
	before := e.state()
	_, err := e.sweep([]byte(`{"mode":"enforce"}`))
	if err == nil || !strings.Contains(err.Error(), "cannot widen") {
		t.Fatalf("err = %v, want a refusal to widen", err)
	}
	if diff := cmp.Diff(before, e.state()); diff != "" {
		t.Errorf("refused payload changed IAM:\n%s", diff)
	}
	e.putPolicy(enforce)
	e.mustSweep([]byte(`{"users":["a"]}`))
	if got := e.state(); got[a] != "Inactive" || got[b] != "Active" {
		t.Errorf("narrowed run: %v (want only %s acted on)", got, a)
	}
	for _, bad := range []string{`{"users":[]}`, `{"mode":"yolo"}`, `{"userz":["a"]}`, `[1]`, `{"users":["bad name!"]}`} {
		if _, err := e.sweep([]byte(bad)); !errors.Is(err, trigger.ErrBadEvent) {
			t.Errorf("payload %s: err = %v, want ErrBadEvent", bad, err)
		}
	}
}

// TestExemptionsAndOverrides covers every kind of exemption and override.
func TestExemptionsAndOverrides(t *testing.T) {
	e := newEnv(t)
	e.user("byname", "/", nil)
	byName := e.key("byname", 400, 200)
	e.user("bykey", "/", nil)
	byKey := e.key("bykey", 400, 200)
	e.user("bypath", "/break-glass/", nil)
	byPath := e.key("bypath", 400, 200)
	e.user("tagtrue", "/", map[string]string{"keysweep:exempt": "true"})
	tagTrue := e.key("tagtrue", 400, 200)
	e.user("taguntil", "/", map[string]string{"keysweep:exempt": e.now.Add(30 * 24 * time.Hour).Format(time.RFC3339)})
	tagUntil := e.key("taguntil", 400, 200)
	e.user("tagpast", "/", map[string]string{"keysweep:exempt": e.now.Add(-24 * time.Hour).Format(time.RFC3339)})
	tagPast := e.key("tagpast", 400, 200)
	e.user("svc", "/service/", nil)
	svcOld := e.key("svc", 400, 1) // old but used: kept, the override drops the age rule
	e.user("svcidle", "/service/", nil)
	svcIdle := e.key("svcidle", 60, 35) // 35 days unused: over the override's 30
	e.user("ops", "/", map[string]string{"team": "ops"})
	ops := e.key("ops", 200, 1) // 200 days: within ops' 365
	e.user("plain", "/", nil)
	plain := e.key("plain", 200, 1) // 200 days: over the default 90
	p := e.putPolicy(fmt.Sprintf(`
version: t-2
mode: enforce
maxKeyAgeDays: 90
maxInactiveDays: 45
deleteAfterDays: 0
blastRadius: {maxActions: 100, maxPercent: 100}
exemptions:
  users: [byname]
  accessKeyIds: [%s]
  pathPrefixes: [/break-glass/]
  tag: keysweep:exempt
overrides:
  - {name: service-users, pathPrefix: /service/, maxKeyAgeDays: 0, maxInactiveDays: 30}
  - {name: ops-yearly, tag: {key: team, value: ops}, maxKeyAgeDays: 365}
`, byKey))
	_ = p
	sum := e.mustSweep(e.scheduled())
	got := e.state()
	want := map[string]string{
		byName: "Active", byKey: "Active", byPath: "Active", tagTrue: "Active", tagUntil: "Active",
		svcOld: "Active", ops: "Active",
		// deleteAfterDays 0 deletes at once:
	}
	for id, st := range want {
		if got[id] != st {
			t.Errorf("%s: status %q, want %q", id, got[id], st)
		}
	}
	for _, id := range []string{tagPast, svcIdle, plain} {
		if _, ok := got[id]; ok {
			t.Errorf("%s still exists, want deleted", id)
		}
	}
	byID := map[string]domain.KeyDecision{}
	for _, d := range sum.Decisions {
		byID[d.AccessKeyID] = d
	}
	if d := byID[svcIdle]; !strings.Contains(d.Reason, "override service-users") {
		t.Errorf("svcidle reason %q does not name the override", d.Reason)
	}
	if d := byID[tagUntil]; d.Verdict != policy.Exempt || d.ExemptUntil == nil {
		t.Errorf("taguntil decision %+v, want exempt with an end", d.Decision)
	}
	for _, id := range []string{byName, byKey, byPath, tagTrue, tagUntil} {
		if byID[id].Verdict != policy.Exempt {
			t.Errorf("%s verdict %s, want exempt", id, byID[id].Verdict)
		}
		if diff := cmp.Diff([]string{"decision"}, records(t, e, id)); diff != "" {
			t.Errorf("records of exempt %s (-want +got):\n%s", id, diff)
		}
	}
}

// TestDeactivateThenDelete: deactivated in one run, deleted in a later run
// once the clock has moved past deleteAfterDays; not before.
func TestDeactivateThenDelete(t *testing.T) {
	e := newEnv(t)
	e.user("old", "/", nil)
	old := e.key("old", 400, 100)
	e.user("other", "/", nil)
	other := e.key("other", 300, 100)
	e.deactivate("other", other) // deactivated by someone else: the clock starts when keysweep sees it
	e.putPolicy(enforce)

	e.mustSweep(e.scheduled())
	if got := e.state()[old]; got != "Inactive" {
		t.Fatalf("after run 1: %s", got)
	}
	e.clock = e.now.Add(3 * 24 * time.Hour)
	sum := e.mustSweep(e.scheduled())
	if got := e.state(); got[old] != "Inactive" || got[other] != "Inactive" {
		t.Fatalf("after 3 days: %v (nothing is due yet)", got)
	}
	if sum.Counts[domain.CountDeleted] != 0 {
		t.Errorf("deleted %d keys before they were due", sum.Counts[domain.CountDeleted])
	}
	e.clock = e.now.Add(8 * 24 * time.Hour)
	sum = e.mustSweep(e.scheduled())
	if got := e.state(); len(got) != 0 {
		t.Errorf("after 8 days keys remain: %v", got)
	}
	if sum.Counts[domain.CountDeleted] != 2 {
		t.Errorf("deleted = %d, want 2 (%v)", sum.Counts[domain.CountDeleted], sum.Errors)
	}
	want := []string{"intent:deactivate", "outcome:deactivate:done", "intent:delete", "outcome:delete:done"}
	if diff := cmp.Diff(want, records(t, e, old)); diff != "" {
		t.Errorf("records of %s (-want +got):\n%s", old, diff)
	}
	st, err := e.deps.Journal.KeyState(e.ctx(), old)
	if err != nil || st == nil || st.Stage != domain.StageDeleted {
		t.Errorf("state %+v, %v", st, err)
	}
}

// TestBlastRadiusCap: a run over the cap changes nothing and says why.
func TestBlastRadiusCap(t *testing.T) {
	e := newEnv(t)
	for i := 0; i < 4; i++ {
		name := fmt.Sprintf("u%d", i)
		e.user(name, "/", nil)
		e.key(name, 400, 200)
	}
	e.user("fresh", "/", nil)
	e.key("fresh", 1, 0)
	e.putPolicy(strings.Replace(enforce, "maxActions: 100", "maxActions: 3", 1))
	before := e.state()
	sum, err := e.sweep(e.scheduled())
	if !errors.Is(err, engine.ErrBlocked) {
		t.Fatalf("err = %v, want ErrBlocked", err)
	}
	if sum.Outcome != domain.RunBlocked || !strings.Contains(strings.Join(sum.Errors, " "), "4 actions, cap 3") {
		t.Errorf("outcome %s errors %v", sum.Outcome, sum.Errors)
	}
	if diff := cmp.Diff(before, e.state()); diff != "" {
		t.Errorf("blocked run changed IAM:\n%s", diff)
	}
	run, _ := e.deps.Journal.GetRun(e.ctx(), sum.RunID)
	if run == nil || run.Outcome != domain.RunBlocked {
		t.Errorf("run record %+v", run)
	}
	// The share cap too: 4 of 5 keys is 80%.
	e.putPolicy(strings.Replace(enforce, "maxPercent: 100", "maxPercent: 50", 1))
	if _, err := e.sweep(e.scheduled()); !errors.Is(err, engine.ErrBlocked) {
		t.Errorf("share cap: err = %v", err)
	}
}

// TestDuplicateEventActsOnce: EventBridge delivering the same event twice.
func TestDuplicateEventActsOnce(t *testing.T) {
	e := newEnv(t)
	e.user("old", "/", nil)
	old := e.key("old", 400, 200)
	e.putPolicy(strings.Replace(enforce, "deleteAfterDays: 7", "deleteAfterDays: 0", 1))
	ev := e.scheduled()
	first := e.mustSweep(ev)
	second := e.mustSweep(ev)
	if !second.Duplicate || second.RunID != first.RunID {
		t.Errorf("second delivery: duplicate=%v run %s (first %s)", second.Duplicate, second.RunID, first.RunID)
	}
	if diff := cmp.Diff([]string{"intent:delete", "outcome:delete:done"}, records(t, e, old)); diff != "" {
		t.Errorf("records (-want +got):\n%s", diff)
	}
	recs, _ := e.deps.Journal.ByRun(e.ctx(), first.RunID)
	if len(recs) != 2 {
		t.Errorf("run has %d records, want 2", len(recs))
	}
}

// TestRetryAfterFailureBeforeDecidingRunsAgain: Lambda's retry of an event
// whose run failed before deciding anything (here the stored policy was
// invalid, and was fixed before the retry) runs it again under the same
// run id instead of answering "duplicate"; a further delivery is then a
// duplicate.
func TestRetryAfterFailureBeforeDecidingRunsAgain(t *testing.T) {
	e := newEnv(t)
	e.user("old", "/", nil)
	old := e.key("old", 400, 200)
	if _, err := e.deps.DynamoDB.PutItem(e.ctx(), putRawPolicy(e.deps.Config.PolicyTable)); err != nil {
		t.Fatal(err)
	}
	ev := e.scheduled()
	first, err := e.sweep(ev)
	if !errors.Is(err, policy.ErrInvalid) || first == nil || first.Outcome != domain.RunFailed {
		t.Fatalf("first delivery: %+v, %v", first, err)
	}
	e.putPolicy(enforce)
	second := e.mustSweep(ev)
	if second.Duplicate || second.RunID != first.RunID || second.Outcome != domain.RunCompleted {
		t.Fatalf("retry: duplicate %v, run %s (first %s), outcome %s", second.Duplicate, second.RunID, first.RunID, second.Outcome)
	}
	if diff := cmp.Diff([]string{"intent:deactivate", "outcome:deactivate:done"}, records(t, e, old)); diff != "" {
		t.Errorf("records (-want +got):\n%s", diff)
	}
	run, _ := e.deps.Journal.GetRun(e.ctx(), first.RunID)
	if run == nil || len(run.Errors) == 0 || !strings.Contains(run.Errors[0], "earlier attempt: ") {
		t.Errorf("run record %+v, want the earlier failure kept", run)
	}
	if third := e.mustSweep(ev); !third.Duplicate {
		t.Errorf("third delivery ran again: %+v", third)
	}
}

// TestManualRunIDCannotReplaceARun: runId is how the API hands its queued
// run to the sweeper; a payload naming a run that already began, or no run
// at all, is refused and changes nothing, so no record can be overwritten.
func TestManualRunIDCannotReplaceARun(t *testing.T) {
	e := newEnv(t)
	e.user("old", "/", nil)
	e.key("old", 400, 200)
	e.putPolicy(enforce)
	first := e.mustSweep(e.scheduled())
	before, _ := e.deps.Journal.GetRun(e.ctx(), first.RunID)
	state := e.state()
	for _, payload := range []string{
		fmt.Sprintf(`{"runId": %q}`, first.RunID),
		fmt.Sprintf(`{"runId": %q, "eventId": "other-event"}`, first.RunID),
		`{"runId": "r-never-queued"}`,
	} {
		sum, err := e.sweep([]byte(payload))
		if !errors.Is(err, trigger.ErrBadEvent) || sum != nil || !strings.Contains(err.Error(), "runId") {
			t.Errorf("%s: summary %v, err %v; want a bad event naming runId", payload, sum, err)
		}
	}
	after, _ := e.deps.Journal.GetRun(e.ctx(), first.RunID)
	if diff := cmp.Diff(before, after); diff != "" {
		t.Errorf("run record changed (-before +after):\n%s", diff)
	}
	if diff := cmp.Diff(state, e.state()); diff != "" {
		t.Errorf("IAM changed (-before +after):\n%s", diff)
	}
	if _, err := e.deps.Journal.GetRun(e.ctx(), "r-never-queued"); !errors.Is(err, domain.ErrNotFound) {
		t.Errorf("a run was invented: %v", err)
	}
}

// TestInvalidPolicyChangesNothing: a broken stored policy fails the run
// with the field named, and records the failure.
func TestInvalidPolicyChangesNothing(t *testing.T) {
	e := newEnv(t)
	e.user("old", "/", nil)
	e.key("old", 400, 200)
	before := e.state()
	_, err := e.deps.DynamoDB.PutItem(e.ctx(), putRawPolicy(e.deps.Config.PolicyTable))
	if err != nil {
		t.Fatal(err)
	}
	sum, err := e.sweep(e.scheduled())
	if !errors.Is(err, policy.ErrInvalid) || !strings.Contains(err.Error(), "maxInactiveDays") {
		t.Fatalf("err = %v, want an invalid policy error naming maxInactiveDays", err)
	}
	if sum == nil || sum.Outcome != domain.RunFailed {
		t.Fatalf("summary %+v", sum)
	}
	run, _ := e.deps.Journal.GetRun(e.ctx(), sum.RunID)
	if run == nil || run.Outcome != domain.RunFailed || len(run.Errors) == 0 {
		t.Errorf("run record %+v", run)
	}
	if diff := cmp.Diff(before, e.state()); diff != "" {
		t.Errorf("invalid policy changed IAM:\n%s", diff)
	}
}

// TestKeyDeletedBetweenReportAndAction: someone deletes the key after
// keysweep read it and before it acts: recorded as gone, not a failure.
func TestKeyDeletedBetweenReportAndAction(t *testing.T) {
	e := newEnv(t)
	e.user("old", "/", nil)
	old := e.key("old", 400, 200)
	e.putPolicy(enforce)
	h := e.handler(nil)
	h.Targets[0].Engine.Progress = func(stage string, done, total int) {
		if stage == "judge" && done == total {
			if _, err := e.deps.IAM.DeleteAccessKey(e.ctx(), &iam.DeleteAccessKeyInput{UserName: aws.String("old"), AccessKeyId: aws.String(old)}); err != nil {
				t.Errorf("delete behind keysweep's back: %v", err)
			}
		}
	}
	sum, _ := h.Handle(e.ctx(), e.scheduled())
	if sum.Counts[domain.CountGone] != 1 || sum.Counts[domain.CountErrors] != 0 {
		t.Errorf("counts %v", sum.Counts)
	}
	// The lock's re-check finds the key gone: the intent is closed as gone.
	if diff := cmp.Diff([]string{"intent:deactivate", "outcome:deactivate:gone"}, records(t, e, old)); diff != "" {
		t.Errorf("records (-want +got):\n%s", diff)
	}
	recs, _ := e.deps.Journal.ByKey(e.ctx(), old)
	if n := len(recs); n > 0 && recs[n-1].Error != "" {
		t.Errorf("error %s", recs[n-1].Error)
	}
}

// TestKeyUsedAfterReportIsKept: the report (a snapshot) says stale, the
// live re-check says it was used since: kept.
func TestKeyUsedAfterReportIsKept(t *testing.T) {
	e := newEnv(t)
	e.emu.ReportMode(t, "snapshot", true)
	e.user("busy", "/", nil)
	busy := e.key("busy", 60, 50)
	e.putPolicy(enforce)
	// Take the report now, while the key looks idle.
	if _, err := e.deps.Store.Inventory(e.ctx()); err != nil {
		t.Fatal(err)
	}
	e.setKey(busy, 60, 0) // used just now
	sum := e.mustSweep(e.scheduled())
	if got := e.state()[busy]; got != "Active" {
		t.Errorf("key used after the report is %s, want Active", got)
	}
	if sum.Counts[domain.CountKept] != 1 {
		t.Errorf("counts %v", sum.Counts)
	}
	// Re-checked under the lock: the intent is closed as kept, no IAM call.
	if diff := cmp.Diff([]string{"intent:deactivate", "outcome:deactivate:kept"}, records(t, e, busy)); diff != "" {
		t.Errorf("records (-want +got):\n%s", diff)
	}
	recs, _ := e.deps.Journal.ByKey(e.ctx(), busy)
	if n := len(recs); n == 0 || !strings.Contains(recs[n-1].Reason, "live re-check kept the key") {
		t.Errorf("records %+v", recs)
	}
}

// crashingJournal loses the process between the IAM call and the outcome.
type crashingJournal struct {
	engine.Journal
}

func (crashingJournal) WriteOutcome(context.Context, domain.Record) error {
	return fmt.Errorf("lambda killed before the outcome was written: %w", context.Canceled)
}

// TestCrashBetweenIntentAndOutcome: the next run finds the intent and
// settles it against live IAM.
func TestCrashBetweenIntentAndOutcome(t *testing.T) {
	e := newEnv(t)
	e.user("old", "/", nil)
	old := e.key("old", 400, 200)
	e.putPolicy(enforce)
	if _, err := e.handler(crashingJournal{e.deps.Journal}).Handle(e.ctx(), e.scheduled()); err == nil {
		t.Fatal("crashed run reported success")
	}
	if got := e.state()[old]; got != "Inactive" {
		t.Fatalf("IAM call did not happen: %s", got)
	}
	pending, _ := e.deps.Journal.PendingIntents(e.ctx(), "123456789012")
	if len(pending) != 1 {
		t.Fatalf("pending intents %d, want 1", len(pending))
	}
	// A run soon after leaves the intent alone: its run may still be alive.
	e.clock = e.now.Add(time.Minute)
	if sum := e.mustSweep(e.scheduled()); sum.Counts[domain.CountSettled] != 0 || sum.Counts[domain.CountBusy] != 0 {
		t.Errorf("a young intent was touched: %v", sum.Counts)
	}
	e.clock = e.now.Add(20 * time.Minute)
	sum := e.mustSweep(e.scheduled())
	if sum.Counts[domain.CountSettled] != 1 {
		t.Errorf("counts %v", sum.Counts)
	}
	pending, _ = e.deps.Journal.PendingIntents(e.ctx(), "123456789012")
	if len(pending) != 0 {
		t.Errorf("still pending: %+v", pending)
	}
	if diff := cmp.Diff([]string{"intent:deactivate", "outcome:deactivate:settled"}, records(t, e, old)); diff != "" {
		t.Errorf("records (-want +got):\n%s", diff)
	}
	st, _ := e.deps.Journal.KeyState(e.ctx(), old)
	if st == nil || st.Stage != domain.StageDeactivated || st.DeactivatedAt == nil {
		t.Errorf("state %+v", st)
	}
}

// TestFallbackWhenReportDenied: the same decisions when the credential
// report is refused and keysweep lists users instead.
func TestFallbackWhenReportDenied(t *testing.T) {
	e := newEnv(t)
	e.user("old", "/", nil)
	old := e.key("old", 400, 200)
	e.user("fresh", "/", nil)
	e.key("fresh", 1, 0)
	e.putPolicy(enforce)
	e.emu.Fault(t, "IAM.GenerateCredentialReport", "AccessDenied", 403, 0)
	defer e.emu.ClearFaults(t)
	sum := e.mustSweep(e.scheduled())
	if sum.Inventory != "list" {
		t.Errorf("inventory %s, want list", sum.Inventory)
	}
	if got := e.state()[old]; got != "Inactive" {
		t.Errorf("old key %s", got)
	}
	joined := strings.Join(sum.Errors, " ")
	if !strings.Contains(joined, "AccessDenied") {
		t.Errorf("run does not say why it fell back: %v", sum.Errors)
	}
}

// TestEventFixturesDecode: the generated and hand-written payloads in
// events/ parse as the sweeper expects.
func TestEventFixturesDecode(t *testing.T) {
	for _, tc := range []struct {
		file, kind string
		audit      bool
		users      []string
	}{
		{"schedule.json", "schedule", false, nil},
		{"manual-audit.json", "manual", true, nil},
		{"manual-users.json", "manual", false, []string{"alice", "bob"}},
		{"manual-enforce.json", "manual", false, nil},
	} {
		t.Run(tc.file, func(t *testing.T) {
			raw, err := os.ReadFile("../../events/" + tc.file)
			if err != nil {
				t.Fatal(err)
			}
			ev, err := trigger.Parse(raw)
			if err != nil {
				t.Fatal(err)
			}
			if ev.Kind != tc.kind || ev.AuditOnly != tc.audit || !cmp.Equal(ev.Users, tc.users) {
				t.Errorf("got %+v", ev)
			}
			if tc.kind == "schedule" && (ev.EventID == "" || ev.Source == "") {
				t.Errorf("scheduled event without id or rule: %+v", ev)
			}
		})
	}
}

// putRawPolicy writes a policy item the way a console edit could: with a
// negative limit that validation must refuse.
func putRawPolicy(table string) *dynamodb.PutItemInput {
	return &dynamodb.PutItemInput{
		TableName: aws.String(table),
		Item: map[string]ddbtypes.AttributeValue{
			"id":              &ddbtypes.AttributeValueMemberS{Value: domain.DefaultPolicyID},
			"version":         &ddbtypes.AttributeValueMemberS{Value: "broken-1"},
			"mode":            &ddbtypes.AttributeValueMemberS{Value: "enforce"},
			"maxKeyAgeDays":   &ddbtypes.AttributeValueMemberN{Value: "90"},
			"maxInactiveDays": &ddbtypes.AttributeValueMemberN{Value: "-5"},
		},
	}
}
