package dynamo

import (
	"cmp"
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/expression"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/keysweep/keysweep/internal/domain"
	"github.com/keysweep/keysweep/internal/journal"
)

// Activity returns the runs begun since since (organization runs
// included) and the intent and outcome records written since then, both
// oldest first. The audit table has no index by time, so it is a table
// scan: for `keysweep report`, never for sweeps.
func (d *Journal) Activity(ctx context.Context, since time.Time) ([]domain.Run, []domain.Record, error) {
	from := expression.Value(journal.FormatTime(since))
	runs := expression.Name("sk").Equal(expression.Value(skRun)).
		And(expression.Name("startedAt").GreaterThanEqual(from))
	recs := expression.Name("sk").BeginsWith(recPrefix).
		And(expression.Name("at").GreaterThanEqual(from)).
		And(expression.Name("kind").In(expression.Value(domain.KindIntent), expression.Value(domain.KindOutcome)))
	expr, err := expression.NewBuilder().WithFilter(runs.Or(recs)).Build()
	if err != nil {
		return nil, nil, fmt.Errorf("activity since %s: %w", since.Format(time.RFC3339), err)
	}
	in := &dynamodb.ScanInput{
		TableName:                 d.table(),
		FilterExpression:          expr.Filter(),
		ExpressionAttributeNames:  expr.Names(),
		ExpressionAttributeValues: expr.Values(),
	}
	if d.pageSize > 0 {
		in.Limit = &d.pageSize
	}
	var outRuns []domain.Run
	var outRecs []domain.Record
	p := dynamodb.NewScanPaginator(d.client, in)
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			return nil, nil, fmt.Errorf("activity since %s: %w", since.Format(time.RFC3339), err)
		}
		for _, item := range page.Items {
			if err := appendActivity(item, &outRuns, &outRecs); err != nil {
				return nil, nil, err
			}
		}
	}
	journal.SortBySK(outRecs)
	slices.SortFunc(outRuns, func(a, b domain.Run) int {
		return cmp.Or(a.StartedAt.Compare(b.StartedAt), strings.Compare(a.RunID, b.RunID))
	})
	return outRuns, outRecs, nil
}

func appendActivity(item map[string]types.AttributeValue, runs *[]domain.Run, recs *[]domain.Record) error {
	sk, _ := item["sk"].(*types.AttributeValueMemberS)
	if sk == nil {
		return nil
	}
	if sk.Value == skRun {
		var run domain.Run
		if err := unmarshalItem(item, &run); err != nil {
			return fmt.Errorf("decode run: %w", err)
		}
		*runs = append(*runs, run)
		return nil
	}
	if !strings.HasPrefix(sk.Value, recPrefix) {
		return nil
	}
	var rec domain.Record
	if err := unmarshalItem(item, &rec); err != nil {
		return fmt.Errorf("decode record: %w", err)
	}
	*recs = append(*recs, rec)
	return nil
}
