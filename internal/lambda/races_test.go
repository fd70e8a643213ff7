package lambda_test

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	ddbtypes "github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/keysweep/keysweep/internal/awsconf"
	"github.com/keysweep/keysweep/internal/domain"
	"github.com/keysweep/keysweep/internal/journal"
	"github.com/keysweep/keysweep/internal/keystore/awsiam"
	"github.com/keysweep/keysweep/internal/wiring"
)

// Nothing happens twice, also when two actors race for the same keys: the
// write-ahead intent is the key's lock, and under it the key's live status
// and keysweep's own state decide. These run real sweeps and API calls at
// the same time, through the Lambda handlers, on the emulator.

// staleKeys makes n users with one stale key each.
func (e *env) staleKeys(n int) []string {
	var ids []string
	for i := range n {
		u := fmt.Sprintf("race%02d", i)
		e.user(u, "/", nil)
		ids = append(ids, e.key(u, 400, 1))
	}
	return ids
}

// doneOnce checks that every key was changed exactly once: one outcome
// done for action, every intent closed, the key's delete clock where the
// first change put it.
func (e *env) doneOnce(ids []string, action string) {
	e.t.Helper()
	for _, id := range ids {
		recs, err := e.deps.Journal.ByKey(e.ctx(), id)
		if err != nil {
			e.t.Fatal(err)
		}
		done, intents, outcomes := 0, 0, 0
		var doneAt time.Time
		for _, r := range recs {
			switch r.Kind {
			case domain.KindIntent:
				intents++
			case domain.KindOutcome:
				outcomes++
				if r.Action == action && r.Result == domain.ResultDone {
					done++
					doneAt = r.At
				}
			}
		}
		if done != 1 || intents != outcomes {
			e.t.Errorf("%s: %d done %s outcomes, %d intents, %d outcomes; want exactly one done and every intent closed: %v", id, done, action, intents, outcomes, records(e.t, e, id))
			continue
		}
		st, _ := e.deps.Journal.KeyState(e.ctx(), id)
		if action == domain.ActionDeactivate && (st == nil || st.DeactivatedAt == nil || !st.DeactivatedAt.Equal(doneAt)) {
			e.t.Errorf("%s: delete clock %v, want it at the one deactivation %v", id, st, doneAt)
		}
	}
}

// TestTwoSweepsAtOnce: two sweeps with different event ids, started 0.2 s
// apart, deactivate each key once between them; the second one's
// decisions on the keys the first changed are busy or already-inactive.
func TestTwoSweepsAtOnce(t *testing.T) {
	e := newEnv(t)
	ids := e.staleKeys(16)
	e.putPolicy(enforce)
	var wg sync.WaitGroup
	sums := make([]*struct{ deactivated, other int }, 2)
	for i := range 2 {
		wg.Go(func() {
			time.Sleep(time.Duration(i) * 200 * time.Millisecond)
			sum, err := e.handler(nil).Handle(e.ctx(), scheduledEvent(t, fmt.Sprintf("race-%d-%d", e.now.UnixNano(), i)))
			if err != nil || sum == nil {
				t.Errorf("sweep %d: %v", i, err)
				return
			}
			c := sum.Counts
			sums[i] = &struct{ deactivated, other int }{c[domain.CountDeactivated], c[domain.CountBusy] + c[domain.CountAlreadyInactive]}
		})
	}
	wg.Wait()
	if sums[0] == nil || sums[1] == nil {
		t.FailNow()
	}
	t.Logf("first sweep %+v, second %+v", *sums[0], *sums[1])
	if got := sums[0].deactivated + sums[1].deactivated; got != len(ids) {
		t.Errorf("the two sweeps deactivated %d keys between them (%+v, %+v), want %d: some key twice or none", got, *sums[0], *sums[1], len(ids))
	}
	e.doneOnce(ids, domain.ActionDeactivate)
	for id, s := range e.state() {
		if s != "Inactive" {
			t.Errorf("%s is %s", id, s)
		}
	}
}

// TestAPIDeactivatesDuringASweep: keys deactivated through the API while a
// sweep acts on them are changed once; the sweep records them
// already-inactive (or leaves them, busy), never deactivates them again.
func TestAPIDeactivatesDuringASweep(t *testing.T) {
	e := newEnv(t)
	ids := e.staleKeys(20)
	e.putPolicy(enforce)
	a, _ := e.api()
	var wg sync.WaitGroup
	wg.Go(func() {
		if _, err := e.handler(nil).Handle(e.ctx(), e.scheduled()); err != nil {
			t.Errorf("sweep: %v", err)
		}
	})
	for _, id := range ids[5:15] {
		wg.Go(func() {
			an := call(t, a, withBody(fixture(t, "api-revoke-key.json", id), `{"action": "deactivate"}`))
			if an.status != http.StatusOK && an.status != http.StatusConflict {
				t.Errorf("revoke %s: %d %s", id, an.status, an.raw)
			}
		})
	}
	wg.Wait()
	e.doneOnce(ids, domain.ActionDeactivate)
}

// TestManyRevocationsOfOneKey: 50 deactivations of one key at once: one
// is done, the others find the key locked (409) or already inactive.
func TestManyRevocationsOfOneKey(t *testing.T) {
	e := newEnv(t)
	e.user("alice", "/", nil)
	id := e.key("alice", 10, 0)
	e.putPolicy(enforce)
	a, _ := e.api()
	var mu sync.Mutex
	outcomes := map[string]int{}
	var wg sync.WaitGroup
	for range 50 {
		wg.Go(func() {
			an := call(t, a, withBody(fixture(t, "api-revoke-key.json", id), `{"action": "deactivate"}`))
			key := fmt.Sprint(an.status, " ", an.str("outcome"), an.str("error", "code"))
			mu.Lock()
			outcomes[key]++
			mu.Unlock()
		})
	}
	wg.Wait()
	if outcomes["200 done"] != 1 {
		t.Errorf("answers %v, want exactly one done", outcomes)
	}
	for k := range outcomes {
		if k != "200 done" && k != "200 already-inactive" && k != "409 conflict" {
			t.Errorf("answer %q: want done, already-inactive or conflict", k)
		}
	}
	e.doneOnce([]string{id}, domain.ActionDeactivate)
}

// TestManySweepRequestsAtOnce: 10 POST /sweeps at once start 10 sweeps;
// between them each key is deactivated once.
func TestManySweepRequestsAtOnce(t *testing.T) {
	e := newEnv(t)
	ids := e.staleKeys(12)
	e.putPolicy(enforce)
	a, starter := e.api()
	var wg sync.WaitGroup
	for range 10 {
		wg.Go(func() {
			an := call(t, a, withBody(fixture(t, "api-start-sweep.json", ""), `{}`))
			if an.status != http.StatusAccepted {
				t.Errorf("POST /sweeps: %d %s", an.status, an.raw)
			}
		})
	}
	wg.Wait()
	starter.Wait()
	e.doneOnce(ids, domain.ActionDeactivate)
}

// TestDeadlineHoldsUnderThrottling: with IAM throttling every re-check, a
// run stops calling IAM Margin before its deadline and uses the rest to
// write down what it did: it ends before the deadline, as partial, with its
// resume cursor and its run record, and no key is left locked.
func TestDeadlineHoldsUnderThrottling(t *testing.T) {
	e := newEnv(t)
	// The deployed retryer: 10 attempts, backing off up to 20 s, longer
	// than the run has.
	cfg := e.emu.Config(t)
	cfg.Retryer = func() aws.Retryer { return awsconf.Retryer() }
	e.deps = wiring.NewDepsFromConfig(cfg, e.deps.Config, awsiam.Options{PollInterval: 10 * time.Millisecond})
	ids := e.staleKeys(6)
	e.putPolicy(enforce)
	h := e.handler(nil)
	h.Targets[0].Engine.Margin = 4 * time.Second
	e.emu.Fault(t, "IAM.GetAccessKeyLastUsed", "Throttling", 400, 0)
	defer e.emu.ClearFaults(t)
	ctx, cancel := context.WithTimeout(e.ctx(), 10*time.Second)
	defer cancel()
	start := time.Now()
	sum, err := h.Handle(ctx, e.scheduled())
	took := time.Since(start)
	if took >= 10*time.Second {
		t.Errorf("the run took %v, past its 10 s deadline", took)
	}
	if sum == nil {
		t.Fatalf("no summary: %v", err)
	}
	if sum.Outcome != domain.RunPartial {
		t.Errorf("outcome %s (%v), want partial", sum.Outcome, err)
	}
	run, rerr := e.deps.Journal.GetRun(e.ctx(), sum.RunID)
	if rerr != nil || run.Outcome != domain.RunPartial {
		t.Errorf("run record %+v, %v: want it written, partial", run, rerr)
	}
	pending, _ := e.deps.Journal.PendingIntents(e.ctx(), "123456789012")
	if len(pending) != 0 {
		t.Errorf("%d intents left unsettled: every lock the run took must be released", len(pending))
	}
	for _, id := range ids {
		if s := e.state()[id]; s != "Active" {
			t.Errorf("%s is %s: no re-check passed, nothing may change", id, s)
		}
	}
	t.Logf("run took %v: %+v", took, sum.Counts)
}

// TestNextSweepNoticesATamperedTrail: history records are chained per key;
// an outcome deleted and an intent's actor rewritten in the table (as the
// roles' Put rights, or an administrator, could) are found by the next
// sweep, which says so on its run and in the ChainBroken metric.
func TestNextSweepNoticesATamperedTrail(t *testing.T) {
	e := newEnv(t)
	ids := e.staleKeys(2)
	e.putPolicy(enforce)
	e.mustSweep(e.scheduled())
	recs, _ := e.deps.Journal.ByKey(e.ctx(), ids[0])
	if len(recs) != 2 {
		t.Fatalf("records %v", recs)
	}
	key := func(r domain.Record) map[string]ddbtypes.AttributeValue {
		return map[string]ddbtypes.AttributeValue{
			"pk": &ddbtypes.AttributeValueMemberS{Value: "KEY#" + r.AccessKeyID},
			"sk": &ddbtypes.AttributeValueMemberS{Value: journal.RecordSK(r)},
		}
	}
	if _, err := e.deps.DynamoDB.UpdateItem(e.ctx(), &dynamodb.UpdateItemInput{
		TableName: aws.String(e.deps.Config.AuditTable), Key: key(recs[0]),
		UpdateExpression:          aws.String("SET actor = :a"),
		ExpressionAttributeValues: map[string]ddbtypes.AttributeValue{":a": &ddbtypes.AttributeValueMemberS{Value: "someone-else"}},
	}); err != nil {
		t.Fatal(err)
	}
	other, _ := e.deps.Journal.ByKey(e.ctx(), ids[1])
	if _, err := e.deps.DynamoDB.DeleteItem(e.ctx(), &dynamodb.DeleteItemInput{TableName: aws.String(e.deps.Config.AuditTable), Key: key(other[1])}); err != nil {
		t.Fatal(err)
	}
	var metrics strings.Builder
	h := e.handler(nil)
	h.Metrics = &metrics
	sum, err := h.Handle(e.ctx(), e.scheduled())
	if err == nil || sum.Counts[domain.CountChainBroken] < 2 {
		t.Fatalf("the next sweep: %v, counts %v; want both changes found", err, sum.Counts)
	}
	joined := strings.Join(sum.Errors, "\n")
	for _, id := range ids {
		if !strings.Contains(joined, id) {
			t.Errorf("errors do not name %s:\n%s", id, joined)
		}
	}
	if !strings.Contains(metrics.String(), `"ChainBroken":`) || strings.Contains(metrics.String(), `"ChainBroken":0`) {
		t.Errorf("metrics %s: want ChainBroken counted", metrics.String())
	}
}
