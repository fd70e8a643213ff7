package dynamo

import (
	"context"
	"fmt"
	"math/rand/v2"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/expression"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/keysweep/keysweep/internal/domain"
	"github.com/keysweep/keysweep/internal/journal"
)

// maxAppendAttempts bounds the retries of an append that lost a race for
// the key's chain head to another writer.
const maxAppendAttempts = 8

// recordItem is the history item of rec: the record's attributes plus the
// keys of the table and of byRun (runId, sk) and byUser (userKey, at).
func (d *Journal) recordItem(rec domain.Record) (map[string]types.AttributeValue, error) {
	item, err := marshalItem(rec)
	if err != nil {
		return nil, fmt.Errorf("encode %s record for %s: %w", rec.Kind, rec.AccessKeyID, err)
	}
	item["pk"], item["sk"] = s(keyPK(rec.AccessKeyID)), s(journal.RecordSK(rec))
	item["userKey"] = s(userKey(rec.Account, rec.UserName))
	item["expiresAt"] = d.expiresAt(rec.At)
	return item, nil
}

func (d *Journal) withAt(rec domain.Record) domain.Record {
	if rec.At.IsZero() {
		rec.At = d.opts.Now()
	}
	rec.At = rec.At.UTC()
	return rec
}

// change is what an append does to the key's state besides moving the
// chain head, decided from the state as read.
type change struct {
	update expression.UpdateBuilder
	cond   *expression.ConditionBuilder
	extra  []types.TransactWriteItem
}

// appendRecord appends rec to its key's history: it reads the key's state,
// lets prep check it and say what else changes, seals rec after the chain
// head and writes, in one transaction, the state (head moved, on
// condition that it is where it was read) and the record (on condition
// that it does not exist: history is written once). Losing the head to a
// concurrent writer reads the state again and retries.
func (d *Journal) appendRecord(ctx context.Context, rec domain.Record, prep func(st *domain.KeyState) (change, error)) error {
	id := rec.AccessKeyID
	for attempt := 1; ; attempt++ {
		st, err := d.KeyState(ctx, id)
		if err != nil {
			return err
		}
		cur := domain.KeyState{}
		if st != nil {
			cur = *st
		}
		ch, err := prep(&cur)
		if err != nil {
			return err
		}
		r := rec
		journal.Seal(&r, cur.HeadSeq, cur.HeadHash)
		hist, err := d.recordItem(r)
		if err != nil {
			return err
		}
		tx, err := d.appendTx(r, cur.HeadSeq, ch, hist)
		if err != nil {
			return err
		}
		_, err = d.client.TransactWriteItems(ctx, tx)
		switch {
		case err == nil:
			return nil
		case conditionFailed(err, 1):
			return fmt.Errorf("%s record for %s at %s: %w: a record with its key exists", rec.Kind, id, journal.FormatTime(rec.At), domain.ErrInvalidRecord)
		case (conditionFailed(err, 0) || transactionConflict(err)) && attempt < maxAppendAttempts:
			if werr := pause(ctx, attempt); werr != nil {
				return werr
			}
			continue
		}
		return err
	}
}

func (d *Journal) appendTx(r domain.Record, prevSeq int64, ch change, hist map[string]types.AttributeValue) (*dynamodb.TransactWriteItemsInput, error) {
	upd := ch.update.
		Set(expression.Name("headSeq"), expression.Value(r.Seq)).
		Set(expression.Name("headHash"), expression.Value(r.Hash)).
		Set(expression.Name("account"), expression.Value(r.Account)).
		Set(expression.Name("accessKeyId"), expression.Value(r.AccessKeyID)).
		Set(expression.Name("userName"), expression.Value(r.UserName))
	if r.Provider != "" {
		upd = upd.Set(expression.Name("provider"), expression.Value(string(r.Provider)))
	}
	head := expression.AttributeNotExists(expression.Name("headSeq"))
	if prevSeq > 0 {
		head = expression.Name("headSeq").Equal(expression.Value(prevSeq))
	}
	cond := head
	if ch.cond != nil {
		cond = head.And(*ch.cond)
	}
	ex, err := expression.NewBuilder().WithUpdate(upd).WithCondition(cond).Build()
	if err != nil {
		return nil, fmt.Errorf("build update of %s: %w", r.AccessKeyID, err)
	}
	items := []types.TransactWriteItem{
		{Update: &types.Update{
			TableName: d.table(), Key: itemKey(statePK(r.AccessKeyID), skState),
			UpdateExpression: ex.Update(), ConditionExpression: ex.Condition(),
			ExpressionAttributeNames: ex.Names(), ExpressionAttributeValues: ex.Values(),
		}},
		{Put: &types.Put{TableName: d.table(), Item: hist, ConditionExpression: aws.String("attribute_not_exists(pk)")}},
	}
	return &dynamodb.TransactWriteItemsInput{TransactItems: append(items, ch.extra...)}, nil
}

// pause waits a little before the attempt-th retry, with jitter.
func pause(ctx context.Context, attempt int) error {
	d := time.Duration(10*(1<<min(attempt, 6))) * time.Millisecond
	d = d/2 + time.Duration(rand.Int64N(int64(d)))
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

// RecordDecision appends a decision or notice record.
func (d *Journal) RecordDecision(ctx context.Context, rec domain.Record) error {
	rec = d.withAt(rec)
	kind := domain.KindDecision
	if rec.Kind == domain.KindNotice {
		kind = domain.KindNotice
	}
	if err := journal.CheckRecord(rec, kind); err != nil {
		return err
	}
	err := d.appendRecord(ctx, rec, func(*domain.KeyState) (change, error) {
		return change{update: expression.UpdateBuilder{}}, nil
	})
	if err != nil {
		return fmt.Errorf("record %s for %s: %w", rec.Kind, rec.AccessKeyID, err)
	}
	return nil
}

// WriteIntent takes the key's lock: in one transaction it sets the key
// state's intent (on condition that it has none), appends the intent
// record and puts the pending marker. A key with an unsettled intent gets
// domain.ErrIntentPending and nothing is written.
func (d *Journal) WriteIntent(ctx context.Context, rec domain.Record) error {
	rec = d.withAt(rec)
	if err := journal.CheckRecord(rec, domain.KindIntent); err != nil {
		return err
	}
	scope := domain.Scope(rec.Provider, rec.Account)
	err := d.appendRecord(ctx, rec, func(st *domain.KeyState) (change, error) {
		if st.Intent != nil {
			return change{}, domain.ErrIntentPending
		}
		sealed := rec
		journal.Seal(&sealed, st.HeadSeq, st.HeadHash)
		intent, err := marshalItem(sealed)
		if err != nil {
			return change{}, fmt.Errorf("encode intent: %w", err)
		}
		pending := itemKey(pendingPK(scope), rec.AccessKeyID)
		pending["intent"] = &types.AttributeValueMemberM{Value: intent}
		cond := expression.AttributeNotExists(expression.Name("intent"))
		return change{
			update: expression.Set(expression.Name("intent"), expression.Value(&types.AttributeValueMemberM{Value: intent})),
			cond:   &cond,
			extra:  []types.TransactWriteItem{{Put: &types.Put{TableName: d.table(), Item: pending}}},
		}, nil
	})
	if err != nil {
		return fmt.Errorf("write intent to %s %s: %w", rec.Action, rec.AccessKeyID, err)
	}
	return nil
}

// WriteOutcome settles the key's intent of the same run and action: in
// one transaction it removes the intent, moves the stage, appends the
// outcome record and deletes the pending marker. Without such an intent it
// returns domain.ErrNoIntent and writes nothing.
func (d *Journal) WriteOutcome(ctx context.Context, rec domain.Record) error {
	rec = d.withAt(rec)
	if err := journal.CheckRecord(rec, domain.KindOutcome); err != nil {
		return err
	}
	scope := domain.Scope(rec.Provider, rec.Account)
	err := d.appendRecord(ctx, rec, func(st *domain.KeyState) (change, error) {
		if st.Intent == nil || st.Intent.RunID != rec.RunID || st.Intent.Action != rec.Action {
			return change{}, domain.ErrNoIntent
		}
		next := *st
		journal.ApplyOutcome(&next, rec)
		upd := expression.Remove(expression.Name("intent"))
		upd = setOrRemove(upd, "stage", next.Stage)
		upd = setTime(upd, "deactivatedAt", next.DeactivatedAt)
		upd = setTime(upd, "deletedAt", next.DeletedAt)
		cond := expression.Name("intent.runId").Equal(expression.Value(rec.RunID)).
			And(expression.Name("intent.action").Equal(expression.Value(rec.Action)))
		return change{
			update: upd,
			cond:   &cond,
			extra: []types.TransactWriteItem{{Delete: &types.Delete{
				TableName: d.table(), Key: itemKey(pendingPK(scope), rec.AccessKeyID),
			}}},
		}, nil
	})
	if err != nil {
		return fmt.Errorf("write outcome %s of %s %s in run %s: %w", rec.Result, rec.Action, rec.AccessKeyID, rec.RunID, err)
	}
	return nil
}

func setOrRemove(u expression.UpdateBuilder, name, v string) expression.UpdateBuilder {
	if v == "" {
		return u.Remove(expression.Name(name))
	}
	return u.Set(expression.Name(name), expression.Value(v))
}

func setTime(u expression.UpdateBuilder, name string, t *time.Time) expression.UpdateBuilder {
	if t == nil {
		return u.Remove(expression.Name(name))
	}
	return u.Set(expression.Name(name), expression.Value(journal.FormatTime(*t)))
}

// markedRecords reads the records that the marker items of partition pk
// keep under attr (pending intents, unsettled notices), oldest first.
func (d *Journal) markedRecords(ctx context.Context, pk, attr string) ([]domain.Record, error) {
	var recs []domain.Record
	err := d.partition(ctx, pk, func(item map[string]types.AttributeValue) error {
		m, ok := item[attr].(*types.AttributeValueMemberM)
		if !ok {
			return fmt.Errorf("marker %v has no %s", item["sk"], attr)
		}
		var rec domain.Record
		if err := unmarshalItem(m.Value, &rec); err != nil {
			return err
		}
		recs = append(recs, rec)
		return nil
	})
	journal.SortByAt(recs)
	return recs, err
}

// PendingIntents returns the scope's unsettled intents, oldest first.
func (d *Journal) PendingIntents(ctx context.Context, scope string) ([]domain.Record, error) {
	recs, err := d.markedRecords(ctx, pendingPK(scope), "intent")
	if err != nil {
		return nil, fmt.Errorf("pending intents of %s: %w", scope, err)
	}
	return recs, nil
}

// ByKey returns the key's history, oldest first.
func (d *Journal) ByKey(ctx context.Context, id string) ([]domain.Record, error) {
	recs, err := d.records(ctx, &dynamodb.QueryInput{
		TableName:              d.table(),
		KeyConditionExpression: aws.String("pk = :pk AND begins_with(sk, :rec)"),
		ExpressionAttributeValues: map[string]types.AttributeValue{
			":pk": s(keyPK(id)), ":rec": s(recPrefix),
		},
		ConsistentRead: aws.Bool(true),
	})
	if err != nil {
		return nil, fmt.Errorf("records of key %s: %w", id, err)
	}
	return recs, nil
}

// ByRun returns the run's records, oldest first; the run item itself (and
// the event claim and resume cursor, which carry a runId too) are left out
// by the key condition on sk.
func (d *Journal) ByRun(ctx context.Context, runID string) ([]domain.Record, error) {
	recs, err := d.records(ctx, &dynamodb.QueryInput{
		TableName:              d.table(),
		IndexName:              aws.String("byRun"),
		KeyConditionExpression: aws.String("runId = :run AND begins_with(sk, :rec)"),
		ExpressionAttributeValues: map[string]types.AttributeValue{
			":run": s(runID), ":rec": s(recPrefix),
		},
	})
	if err != nil {
		return nil, fmt.Errorf("records of run %s: %w", runID, err)
	}
	return recs, nil
}

// ByUser returns the records of the user's keys, oldest first.
func (d *Journal) ByUser(ctx context.Context, account, user string) ([]domain.Record, error) {
	recs, err := d.records(ctx, &dynamodb.QueryInput{
		TableName:                 d.table(),
		IndexName:                 aws.String("byUser"),
		KeyConditionExpression:    aws.String("userKey = :u"),
		ExpressionAttributeValues: map[string]types.AttributeValue{":u": s(userKey(account, user))},
	})
	if err != nil {
		return nil, fmt.Errorf("records of user %s in %s: %w", user, account, err)
	}
	return recs, nil
}

func (d *Journal) records(ctx context.Context, in *dynamodb.QueryInput) ([]domain.Record, error) {
	var recs []domain.Record
	err := d.query(ctx, in, func(item map[string]types.AttributeValue) error {
		if sk, ok := item["sk"].(*types.AttributeValueMemberS); !ok || !strings.HasPrefix(sk.Value, recPrefix) {
			return nil
		}
		var rec domain.Record
		if err := unmarshalItem(item, &rec); err != nil {
			return err
		}
		recs = append(recs, rec)
		return nil
	})
	return recs, err
}

// RecentByUser returns the user's latest n records, newest first.
func (d *Journal) RecentByUser(ctx context.Context, account, user string, n int) ([]domain.Record, error) {
	out, err := d.client.Query(ctx, &dynamodb.QueryInput{
		TableName:                 d.table(),
		IndexName:                 aws.String("byUser"),
		KeyConditionExpression:    aws.String("userKey = :u"),
		ExpressionAttributeValues: map[string]types.AttributeValue{":u": s(userKey(account, user))},
		ScanIndexForward:          aws.Bool(false),
		Limit:                     aws.Int32(int32(n)),
	})
	if err != nil {
		return nil, fmt.Errorf("latest records of user %s in %s: %w", user, account, err)
	}
	recs := make([]domain.Record, 0, len(out.Items))
	for _, item := range out.Items {
		var rec domain.Record
		if err := unmarshalItem(item, &rec); err != nil {
			return nil, fmt.Errorf("decode record of user %s: %w", user, err)
		}
		recs = append(recs, rec)
	}
	return recs, nil
}
