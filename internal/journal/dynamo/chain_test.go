package dynamo

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/keysweep/keysweep/internal/domain"
	"github.com/keysweep/keysweep/internal/journal"
)

// history writes a decision, an intent and its outcome for key, and
// returns the key's records as stored.
func history(t *testing.T, s contract, key string) []domain.Record {
	t.Helper()
	ctx := t.Context()
	must(t, s.RecordDecision(ctx, rec(domain.KindDecision, "r0", key, 0)))
	must(t, s.WriteIntent(ctx, intent("r1", key, domain.ActionDeactivate, 1)))
	must(t, s.WriteOutcome(ctx, outcome("r1", key, domain.ActionDeactivate, domain.ResultDone, 2)))
	return byKey(t, s, key)
}

func verify(t *testing.T, s contract, key string) journal.Verification {
	t.Helper()
	return journal.Verify(key, byKey(t, s, key), keyState(t, s, key))
}

func TestChainHoldsOverAppends(t *testing.T) {
	for _, im := range impls {
		t.Run(im.name, func(t *testing.T) {
			s, _ := im.new(t, clock)
			recs := history(t, s, "AKIA1")
			for i, r := range recs {
				if r.Seq != int64(i+1) || r.Hash == "" || (i > 0 && r.PrevHash != recs[i-1].Hash) {
					t.Errorf("record %d: seq %d, prevHash %q, hash %q: not chained", i, r.Seq, r.PrevHash, r.Hash)
				}
			}
			if v := verify(t, s, "AKIA1"); !v.OK() || v.Chained != 3 {
				t.Errorf("verification of an untouched history = %+v, want 3 chained records and no problem", v)
			}
		})
	}
}

// TestChainShowsTampering rewrites the table as someone with write access
// to it could, with the SDK, and expects Verify to say what happened.
func TestChainShowsTampering(t *testing.T) {
	ctx := t.Context()
	client, opts := newDynamoTables(t)
	d := New(client, opts)
	recs := history(t, d, "AKIA1")
	sk := func(r domain.Record) types.AttributeValue { return s(journal.RecordSK(r)) }
	key := func(r domain.Record) map[string]types.AttributeValue {
		return map[string]types.AttributeValue{"pk": s("KEY#AKIA1"), "sk": sk(r)}
	}

	// The intent's actor changed.
	_, err := client.UpdateItem(ctx, &dynamodb.UpdateItemInput{
		TableName: &opts.AuditTable, Key: key(recs[1]),
		UpdateExpression:          aws.String("SET actor = :a"),
		ExpressionAttributeValues: map[string]types.AttributeValue{":a": s("someone-else")},
	})
	must(t, err)
	v := verify(t, d, "AKIA1")
	if v.OK() || !strings.Contains(v.Problems[0].Message, "does not match its hash") {
		t.Errorf("after changing an intent's actor: %+v, want a hash mismatch", v.Problems)
	}

	// The outcome deleted.
	_, err = client.DeleteItem(ctx, &dynamodb.DeleteItemInput{TableName: &opts.AuditTable, Key: key(recs[2])})
	must(t, err)
	v = verify(t, d, "AKIA1")
	found := false
	for _, p := range v.Problems {
		found = found || strings.Contains(p.Message, "last records were removed")
	}
	if !found {
		t.Errorf("after deleting the outcome: %+v, want the removal named", v.Problems)
	}
}

func TestMemChainShowsTampering(t *testing.T) {
	for _, im := range impls {
		if im.name != "mem" {
			continue
		}
		s, _ := im.new(t, clock)
		m := s.(interface {
			Tamper(string, func(map[string]*domain.Record))
		})
		history(t, s, "AKIA1")
		m.Tamper("AKIA1", func(recs map[string]*domain.Record) {
			for k, r := range recs {
				if r.Seq == 2 {
					delete(recs, k) // a record in the middle removed
				}
			}
		})
		v := verify(t, s, "AKIA1")
		if v.OK() {
			t.Fatal("a record removed from the middle went unnoticed")
		}
	}
}

func TestHistoryIsWrittenOnce(t *testing.T) {
	for _, im := range impls {
		t.Run(im.name, func(t *testing.T) {
			s, _ := im.new(t, clock)
			r := rec(domain.KindDecision, "r0", "AKIA1", 0)
			must(t, s.RecordDecision(t.Context(), r))
			err := s.RecordDecision(t.Context(), r)
			if err == nil {
				t.Fatal("a second record with the same key was written over the first")
			}
			if got := len(byKey(t, s, "AKIA1")); got != 1 {
				t.Errorf("%d records, want 1", got)
			}
		})
	}
}

// TestLegacyStateIsMoved: a key state written at KEY#<id>/STATE by an
// earlier version is read, and moved to STATE#<id>, on first use.
func TestLegacyStateIsMoved(t *testing.T) {
	ctx := t.Context()
	client, opts := newDynamoTables(t)
	d := New(client, opts)
	_, err := client.PutItem(ctx, &dynamodb.PutItemInput{TableName: &opts.AuditTable, Item: map[string]types.AttributeValue{
		"pk": s("KEY#AKIAOLD"), "sk": s("STATE"), "account": s("111122223333"), "accessKeyId": s("AKIAOLD"),
		"userName": s("bob"), "stage": s("deactivated"), "deactivatedAt": s("2025-01-02T03:04:05.000000000Z"),
	}})
	must(t, err)
	st := keyState(t, d, "AKIAOLD")
	if st == nil || st.Stage != domain.StageDeactivated || st.DeactivatedAt == nil ||
		!st.DeactivatedAt.Equal(time.Date(2025, 1, 2, 3, 4, 5, 0, time.UTC)) {
		t.Fatalf("legacy state read as %+v", st)
	}
	if rawItem(t, client, opts.AuditTable, "STATE#AKIAOLD", "STATE") == nil {
		t.Error("the legacy state was not moved to its own partition")
	}
	must(t, d.WriteIntent(ctx, intent("r1", "AKIAOLD", domain.ActionDelete, 0)))
	if st := keyState(t, d, "AKIAOLD"); st.DeactivatedAt == nil || st.Intent == nil {
		t.Errorf("state after an intent lost the legacy delete clock: %+v", st)
	}
}

func TestRunningRunsAndCrashes(t *testing.T) {
	ctx := context.Background()
	for _, im := range impls {
		t.Run(im.name, func(t *testing.T) {
			s, _ := im.new(t, clock)
			j := s.(interface {
				RunningRuns(context.Context, string) ([]domain.Run, error)
				MarkCrashed(context.Context, *domain.Run, string) (bool, error)
				RetryEvent(context.Context, *domain.Run, string) error
			})
			dl := at(15)
			trig := domain.Trigger{Kind: domain.TriggerSchedule, EventID: "ev1"}
			r1 := &domain.Run{RunID: "r1", Account: "111122223333", Trigger: trig, StartedAt: at(0), Deadline: &dl}
			must(t, s.BeginRun(ctx, r1))
			runs, err := j.RunningRuns(ctx, "111122223333")
			must(t, err)
			if len(runs) != 1 || runs[0].RunID != "r1" {
				t.Fatalf("running runs = %+v, want r1", runs)
			}
			marked, err := j.MarkCrashed(ctx, r1, "crashed: no progress past its deadline")
			must(t, err)
			if !marked {
				t.Fatal("MarkCrashed of a running run = false")
			}
			if again, _ := j.MarkCrashed(ctx, r1, "again"); again {
				t.Error("a crashed run was marked twice")
			}
			got, err := s.GetRun(ctx, "r1")
			must(t, err)
			if got.Outcome != domain.RunCrashed {
				t.Errorf("outcome %s, want crashed", got.Outcome)
			}
			r2 := &domain.Run{RunID: "r2", Account: "111122223333", Trigger: trig, StartedAt: at(20), Deadline: &dl}
			must(t, j.RetryEvent(ctx, r2, "r1"))
			r3 := &domain.Run{RunID: "r3", Account: "111122223333", Trigger: trig, StartedAt: at(21)}
			if err := j.RetryEvent(ctx, r3, "r1"); err == nil {
				t.Error("a second retry took the event from r2")
			}
			r2.Outcome = domain.RunCompleted
			must(t, s.FinishRun(ctx, r2))
			if runs, _ := j.RunningRuns(ctx, "111122223333"); len(runs) != 0 {
				t.Errorf("running after finishing: %+v", runs)
			}
		})
	}
}
