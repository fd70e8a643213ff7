package cli

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"

	"github.com/keysweep/keysweep/internal/domain"
	"github.com/keysweep/keysweep/internal/journal"
	"github.com/keysweep/keysweep/internal/journal/dynamo"
)

// verifySummary is what `keysweep audit --verify` found.
type verifySummary struct {
	Keys      int `json:"keys"`
	Records   int `json:"records"`
	Chained   int `json:"chained"`
	Unchained int `json:"unchained"` // written before the chain existed
	Broken    int `json:"broken"`    // keys whose chain does not hold
	// Problems are every way a key's history fails its chain.
	Problems []journal.Problem `json:"problems"`
}

// verifyKeys lists the keys to check: --key, every key --run's records
// touch, or every key keysweep keeps a state for.
func verifyKeys(ctx context.Context, o *auditOptions, j *dynamo.Journal) ([]string, error) {
	switch {
	case o.key != "":
		return []string{o.key}, nil
	case o.run != "":
		if _, err := j.GetRun(ctx, o.run); errors.Is(err, domain.ErrNotFound) {
			return nil, exitError{ExitNotFound, fmt.Errorf("run %s: not found", o.run)}
		} else if err != nil {
			return nil, err
		}
		recs, err := j.ByRun(ctx, o.run)
		if err != nil {
			return nil, err
		}
		var ids []string
		for _, r := range recs {
			if !slices.Contains(ids, r.AccessKeyID) {
				ids = append(ids, r.AccessKeyID)
			}
		}
		return ids, nil
	}
	return j.KeyIDs(ctx)
}

// runVerify checks each key's history against its hash chain and the head
// on its state: exit 1 when any chain is broken.
func runVerify(ctx context.Context, s *streams, o *auditOptions, j *dynamo.Journal) error {
	ids, err := verifyKeys(ctx, o, j)
	if err != nil {
		return err
	}
	sum := verifySummary{Problems: []journal.Problem{}}
	for _, id := range ids {
		recs, err := j.ByKey(ctx, id)
		if err != nil {
			return err
		}
		st, err := j.KeyState(ctx, id)
		if err != nil {
			return err
		}
		if o.key != "" && len(recs) == 0 && st == nil {
			return exitError{ExitNotFound, fmt.Errorf("key %s: no audit records and no state", id)}
		}
		v := journal.Verify(id, recs, st)
		sum.Keys++
		sum.Records += v.Records
		sum.Chained += v.Chained
		sum.Unchained += v.Unchained
		if !v.OK() {
			sum.Broken++
			sum.Problems = append(sum.Problems, v.Problems...)
		}
	}
	if err := printVerify(s, o.output, sum); err != nil {
		return err
	}
	if sum.Broken > 0 {
		return fmt.Errorf("hash chain broken for %d of %d keys: their history was changed after it was written", sum.Broken, sum.Keys)
	}
	return nil
}

func printVerify(s *streams, format string, sum verifySummary) error {
	switch format {
	case formatJSON:
		return writeJSON(s.out, sum)
	case formatCSV:
		rows := make([][]string, len(sum.Problems))
		for i, p := range sum.Problems {
			rows[i] = []string{p.AccessKeyID, strconv.FormatInt(p.Seq, 10), p.RunID, p.Message}
		}
		return writeRows(s.out, format, []string{"KEY", "SEQ", "RUN", "PROBLEM"}, rows)
	}
	for _, p := range sum.Problems {
		fmt.Fprintf(s.out, "BROKEN %s\n", p)
	}
	verdict := "every chain holds"
	if sum.Broken > 0 {
		verdict = fmt.Sprintf("%d broken", sum.Broken)
	}
	fmt.Fprintf(s.out, "verified %d keys: %d records checked, %d chained, %d written before the chain existed; %s\n",
		sum.Keys, sum.Records, sum.Chained, sum.Unchained, verdict)
	return nil
}
