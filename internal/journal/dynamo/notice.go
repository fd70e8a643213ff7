package dynamo

import (
	"context"
	"errors"
	"fmt"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/expression"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/keysweep/keysweep/internal/domain"
	"github.com/keysweep/keysweep/internal/journal"
)

// Notice items, all under the NOTICE# prefix, which the roles may update
// and delete (history stays at KEY#, put only):
//
//	claim              NOTICE#<accessKeyId>        CLAIM#<claim>         status, claimedBy, at, settledAt, messageId
//	unsettled marker   NOTICE#PENDING#<scope>      <accessKeyId>#<claim> notice (the sending record, nested)
//	open finding       NOTICE#FINDING#<scope>      <accessKeyId>         the finding mark
func claimPK(id string) string            { return "NOTICE#" + id }
func claimSK(claim string) string         { return "CLAIM#" + claim }
func noticePendingPK(scope string) string { return "NOTICE#PENDING#" + scope }
func findingPK(scope string) string       { return "NOTICE#FINDING#" + scope }
func noticePendingSK(rec domain.Record) string {
	return rec.AccessKeyID + "#" + rec.Notice.Claim
}

// noticeExtra is the index of the claim's own item in a notice append's
// transaction (after the state update and the history record).
const noticeExtra = 2

// Claimed reports whether the key's notice claim exists (a consistent
// read).
func (d *Journal) Claimed(ctx context.Context, accessKeyID, claim string) (bool, error) {
	item, err := d.get(ctx, d.table(), itemKey(claimPK(accessKeyID), claimSK(claim)))
	if err != nil {
		return false, fmt.Errorf("read claim %s of %s: %w", claim, accessKeyID, err)
	}
	return item != nil, nil
}

// ClaimNotice appends a notice record and takes its claim, in one
// transaction with the key's chain: the claim item (on condition that it
// does not exist) and, for a notice about to be sent ("sending"), the
// unsettled marker that a later run finds if this one ends before
// SettleNotice. A notice claimed already (sent, failed, or being sent by
// another run) is domain.ErrNoticeClaimed, and nothing is written. (The
// engine asks Claimed first, so a notice sent before costs one read.)
func (d *Journal) ClaimNotice(ctx context.Context, rec domain.Record) error {
	rec = d.withAt(rec)
	if err := journal.CheckNotice(rec, false); err != nil {
		return err
	}
	n := rec.Notice
	err := d.appendRecord(ctx, rec, func(st *domain.KeyState) (change, error) {
		claim := itemKey(claimPK(rec.AccessKeyID), claimSK(n.Claim))
		claim["status"] = s(n.Status)
		claim["claimedBy"] = s(rec.RunID)
		claim["at"] = s(journal.FormatTime(rec.At))
		claim["expiresAt"] = d.expiresAt(rec.At)
		extra := []types.TransactWriteItem{{Put: &types.Put{
			TableName: d.table(), Item: claim, ConditionExpression: aws.String("attribute_not_exists(pk)"),
		}}}
		if n.Status == domain.NoticeSending {
			sealed := rec
			journal.Seal(&sealed, st.HeadSeq, st.HeadHash)
			m, err := marshalItem(sealed)
			if err != nil {
				return change{}, fmt.Errorf("encode notice: %w", err)
			}
			marker := itemKey(noticePendingPK(domain.Scope(rec.Provider, rec.Account)), noticePendingSK(rec))
			marker["notice"] = &types.AttributeValueMemberM{Value: m}
			extra = append(extra, types.TransactWriteItem{Put: &types.Put{TableName: d.table(), Item: marker}})
		}
		return change{update: expression.UpdateBuilder{}, extra: extra}, nil
	})
	if conditionFailed(err, noticeExtra) {
		return fmt.Errorf("claim notice %s of %s: %w", n.Claim, rec.AccessKeyID, domain.ErrNoticeClaimed)
	}
	if err != nil {
		return fmt.Errorf("claim notice %s of %s: %w", n.Claim, rec.AccessKeyID, err)
	}
	return nil
}

// SettleNotice appends the notice's settlement (sent, failed or unknown)
// and settles its claim, in one transaction with the key's chain: the
// claim moves from "sending" to the settlement (on that condition, so a
// notice is settled once) and the unsettled marker goes. A claim that is
// not "sending" any more is domain.ErrNoticeSettled, and nothing is
// written.
func (d *Journal) SettleNotice(ctx context.Context, rec domain.Record) error {
	rec = d.withAt(rec)
	if err := journal.CheckNotice(rec, true); err != nil {
		return err
	}
	n := rec.Notice
	err := d.appendRecord(ctx, rec, func(*domain.KeyState) (change, error) {
		upd := expression.Set(expression.Name("status"), expression.Value(n.Status)).
			Set(expression.Name("settledAt"), expression.Value(journal.FormatTime(rec.At))).
			Set(expression.Name("settledBy"), expression.Value(rec.RunID))
		if n.MessageID != "" {
			upd = upd.Set(expression.Name("messageId"), expression.Value(n.MessageID))
		}
		ex, err := expression.NewBuilder().WithUpdate(upd).
			WithCondition(expression.Name("status").Equal(expression.Value(domain.NoticeSending))).Build()
		if err != nil {
			return change{}, fmt.Errorf("build settlement of %s: %w", n.Claim, err)
		}
		return change{update: expression.UpdateBuilder{}, extra: []types.TransactWriteItem{
			{Update: &types.Update{
				TableName: d.table(), Key: itemKey(claimPK(rec.AccessKeyID), claimSK(n.Claim)),
				UpdateExpression: ex.Update(), ConditionExpression: ex.Condition(),
				ExpressionAttributeNames: ex.Names(), ExpressionAttributeValues: ex.Values(),
			}},
			{Delete: &types.Delete{TableName: d.table(), Key: itemKey(noticePendingPK(domain.Scope(rec.Provider, rec.Account)), noticePendingSK(rec))}},
		}}, nil
	})
	if conditionFailed(err, noticeExtra) {
		return fmt.Errorf("settle notice %s of %s: %w", n.Claim, rec.AccessKeyID, domain.ErrNoticeSettled)
	}
	if err != nil {
		return fmt.Errorf("settle notice %s of %s: %w", n.Claim, rec.AccessKeyID, err)
	}
	return nil
}

// PendingNotices lists the scope's claimed notices that no run settled
// (their "sending" records), oldest first.
func (d *Journal) PendingNotices(ctx context.Context, scope string) ([]domain.Record, error) {
	recs, err := d.markedRecords(ctx, noticePendingPK(scope), "notice")
	if err != nil {
		return nil, fmt.Errorf("unsettled notices of %s: %w", scope, err)
	}
	return recs, nil
}

// OpenFindings lists the scope's keys whose Security Hub finding keysweep
// left open.
func (d *Journal) OpenFindings(ctx context.Context, scope string) ([]domain.FindingMark, error) {
	var out []domain.FindingMark
	err := d.partition(ctx, findingPK(scope), func(item map[string]types.AttributeValue) error {
		var f domain.FindingMark
		if err := unmarshalItem(item, &f); err != nil {
			return err
		}
		out = append(out, f)
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("open findings of %s: %w", scope, err)
	}
	return out, nil
}

// MarkFinding records that the key's finding is open, unless it is
// already (its first opening is kept).
func (d *Journal) MarkFinding(ctx context.Context, scope string, f domain.FindingMark) error {
	item, err := marshalItem(f)
	if err != nil {
		return fmt.Errorf("encode finding mark of %s: %w", f.AccessKeyID, err)
	}
	for k, v := range itemKey(findingPK(scope), f.AccessKeyID) {
		item[k] = v
	}
	_, err = d.client.PutItem(ctx, &dynamodb.PutItemInput{
		TableName: d.table(), Item: item, ConditionExpression: aws.String("attribute_not_exists(pk)"),
	})
	var ccf *types.ConditionalCheckFailedException
	if err != nil && !errors.As(err, &ccf) {
		return fmt.Errorf("mark finding of %s open: %w", f.AccessKeyID, err)
	}
	return nil
}

// ClearFinding records that the key's finding is resolved.
func (d *Journal) ClearFinding(ctx context.Context, scope, accessKeyID string) error {
	_, err := d.client.DeleteItem(ctx, &dynamodb.DeleteItemInput{TableName: d.table(), Key: itemKey(findingPK(scope), accessKeyID)})
	if err != nil {
		return fmt.Errorf("clear finding of %s: %w", accessKeyID, err)
	}
	return nil
}
