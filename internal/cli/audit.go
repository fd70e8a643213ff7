package cli

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/keysweep/keysweep/internal/domain"
	"github.com/keysweep/keysweep/internal/journal/dynamo"
)

// auditOptions are `keysweep audit`'s flags.
type auditOptions struct {
	common
	key     string
	run     string
	user    string
	account string
	output  string
	verify  bool
}

func newAuditCmd(s *streams) *cobra.Command {
	o := &auditOptions{}
	cmd := &cobra.Command{
		Use: "audit --key ID | --run ID | --user NAME [--account ID] [--output table|json|csv] [--target NAME]\n" +
			"  keysweep audit --verify [--key ID | --run ID]",
		Short: "read the audit trail, or check its hash chain",
		Args:  exactArgs(0, "no arguments"),
		RunE: func(cmd *cobra.Command, _ []string) error {
			return ran(runAudit(cmd.Context(), s, o))
		},
	}
	fs := cmd.Flags()
	o.register(fs)
	o.registerTarget(fs, "aws; --user reads the target's account")
	fs.StringVar(&o.key, "key", "", "records of this access key id")
	fs.StringVar(&o.run, "run", "", "the run record and its records (an organization run: its accounts)")
	fs.StringVar(&o.user, "user", "", "records of this user")
	fs.StringVar(&o.account, "account", "", "--user: the account id (default: the target's account)")
	fs.StringVar(&o.output, "output", formatTable, "table, json or csv")
	fs.BoolVar(&o.verify, "verify", false, "check the records against their hash chain: of --key, of every key --run touched, or of every key")
	return cmd
}

func runAudit(ctx context.Context, s *streams, o *auditOptions) error {
	if err := checkOutput(o.output); err != nil {
		return err
	}
	n := 0
	for _, v := range []string{o.key, o.run, o.user} {
		if v != "" {
			n++
		}
	}
	switch {
	case o.verify && (o.user != "" || n > 1):
		return usagef("audit --verify: give --key, --run or neither (every key), not --user")
	case !o.verify && n != 1:
		return usagef("audit: give exactly one of --key, --run or --user (or --verify)")
	}
	d, err := o.deps(ctx, s, true)
	if err != nil {
		return err
	}
	if o.verify {
		return runVerify(ctx, s, o, d.Journal)
	}
	switch {
	case o.key != "":
		return auditKey(ctx, s, o, d.Journal)
	case o.run != "":
		return auditRun(ctx, s, o, d.Journal)
	}
	acct := o.account
	if acct == "" {
		t, err := o.pick(o.targets(d, s))
		if err != nil {
			return err
		}
		e, err := open(ctx, t)
		if err != nil {
			return err
		}
		if acct, err = e.Store.Account(ctx); err != nil {
			return fmt.Errorf("account of target %s: %w", t.Name, err)
		}
	}
	recs, err := d.Journal.ByUser(ctx, acct, o.user)
	if err != nil {
		return err
	}
	return printAuditRecords(s, o.output, recs, true)
}

// printAuditRecords prints records; none is "not found" (exit 5) when
// notFound says so.
func printAuditRecords(s *streams, format string, recs []domain.Record, notFound bool) error {
	if len(recs) == 0 && format == formatTable {
		fmt.Fprintln(s.err, "no records")
		if notFound {
			return exitError{ExitNotFound, errors.New("no audit records found")}
		}
		return nil
	}
	return writeRecords(s.out, format, recs)
}

func auditKey(ctx context.Context, s *streams, o *auditOptions, j *dynamo.Journal) error {
	recs, err := j.ByKey(ctx, o.key)
	if err != nil {
		return err
	}
	if o.output == formatTable {
		if st, err := j.KeyState(ctx, o.key); err == nil && st != nil {
			fmt.Fprintf(s.err, "key %s of %s: stage %s", st.AccessKeyID, st.UserName, orDash(st.Stage))
			if st.DeactivatedAt != nil {
				fmt.Fprintf(s.err, ", inactive since %s", st.DeactivatedAt.Format(time.RFC3339))
			}
			if st.Intent != nil {
				fmt.Fprintf(s.err, ", UNSETTLED intent %s by run %s", st.Intent.Action, st.Intent.RunID)
			}
			fmt.Fprintln(s.err)
		}
	}
	return printAuditRecords(s, o.output, recs, true)
}

// auditRun prints a run and its records; an organization run, its
// accounts with their outcome and account run id.
func auditRun(ctx context.Context, s *streams, o *auditOptions, j *dynamo.Journal) error {
	r, err := j.GetOrgRun(ctx, o.run)
	if errors.Is(err, domain.ErrNotFound) {
		return exitError{ExitNotFound, fmt.Errorf("run %s: not found", o.run)}
	}
	if err != nil {
		return err
	}
	// An organization run has a plan of accounts, or at least its id's
	// prefix; its account runs name it as their parent.
	if r.Parent == "" && (r.Planned || r.OrganizationID != "" || strings.HasPrefix(r.RunID, "org-")) {
		return auditOrgRun(ctx, s, o, j, r)
	}
	recs, err := j.ByRun(ctx, o.run)
	if err != nil {
		return err
	}
	if o.output == formatJSON {
		if recs == nil {
			recs = []domain.Record{}
		}
		return writeJSON(s.out, map[string]any{"run": r.Run, "records": recs})
	}
	if o.output == formatTable {
		writeRun(s.err, &r.Run)
	}
	return printAuditRecords(s, o.output, recs, false)
}

func auditOrgRun(ctx context.Context, s *streams, o *auditOptions, j *dynamo.Journal, r *domain.OrgRun) error {
	accts, err := j.AccountResults(ctx, r.RunID)
	if err != nil {
		return err
	}
	if accts == nil {
		accts = []domain.AccountResult{}
	}
	if o.output == formatJSON {
		return writeJSON(s.out, map[string]any{"run": r, "accounts": accts})
	}
	if o.output == formatTable {
		writeOrgRun(s.err, r)
		if len(accts) == 0 {
			fmt.Fprintln(s.err, "no account finished yet")
			return nil
		}
		fmt.Fprintf(s.err, "each account's own run and records: keysweep audit --run RUN\n\n")
	}
	return writeAccounts(s.out, o.output, accts)
}
