package cli

import (
	"context"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"

	"github.com/aws/aws-sdk-go-v2/service/organizations"
	"github.com/aws/aws-sdk-go-v2/service/sts"

	"github.com/keysweep/keysweep/internal/domain"
	"github.com/keysweep/keysweep/internal/engine"
	"github.com/keysweep/keysweep/internal/fanout"
	"github.com/keysweep/keysweep/internal/keystore/awsiam"
	"github.com/keysweep/keysweep/internal/trigger"
	"github.com/keysweep/keysweep/internal/wiring"
)

// maxOrgConcurrency bounds --concurrency: IAM's rate limits are per
// account, but every worker shares this process and the audit table.
const maxOrgConcurrency = 100

// member checks the --org flags and reads the member role's settings,
// before any AWS call: the external id is required (the member role of
// templates/member-role.yaml demands it), from the flag or
// MEMBER_EXTERNAL_ID, and is never printed.
func (o *orgOptions) member(ev trigger.Event, target string) (fanout.Member, error) {
	switch {
	case ev.Users != nil:
		return fanout.Member{}, usagef("--users: not with --org; an organization run sweeps whole accounts (narrow it with the policy's organization section)")
	case target != "" && target != domain.DefaultTarget:
		return fanout.Member{}, usagef("--target: not with --org; an organization run sweeps the organization's AWS accounts")
	case o.concurrency < 1 || o.concurrency > maxOrgConcurrency:
		return fanout.Member{}, usagef("--concurrency: want 1 to %d, got %d", maxOrgConcurrency, o.concurrency)
	}
	m := fanout.Member{RoleName: o.role, ExternalID: o.externalID}
	if m.RoleName == "" {
		m.RoleName = os.Getenv(fanout.EnvRoleName)
	}
	if m.RoleName == "" {
		m.RoleName = fanout.DefaultRoleName
	}
	if m.ExternalID == "" {
		m.ExternalID = os.Getenv(fanout.EnvExternalID)
	}
	if m.ExternalID == "" {
		return m, usagef("--external-id (or %s) is required with --org: the member role trusts only sessions that present its external id", fanout.EnvExternalID)
	}
	if err := m.Validate(); err != nil {
		return m, usageError{err}
	}
	return m, nil
}

// runSweepOrg runs an organization run in-process with the caller's
// credentials, which must be allowed to list the organization and to
// assume the member role (templates/member-role.yaml, OperatorRoleArn).
func runSweepOrg(ctx context.Context, s *streams, o *sweepOptions, ev trigger.Event) error {
	member, err := o.org.member(ev, o.target)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(ctx, o.timeout)
	defer cancel()
	d, err := o.deps(ctx, s, true)
	if err != nil {
		return err
	}
	member.Partition = fanout.PartitionOf(d.AWS.Region)
	local := orgLocal(d, s, o, member)
	res, err := local.Run(ctx, fanout.DispatchRequest{
		Trigger:   domain.Trigger{Kind: domain.TriggerCLI, Source: ev.Source, EventID: ev.EventID},
		AuditOnly: ev.AuditOnly,
		Enforce:   ev.Enforce,
	})
	if res != nil && res.Run != nil {
		printOrgResult(s, o.output, res)
	}
	if err != nil {
		return sweepExit(nil, err, ctx.Err() != nil, o.timeout)
	}
	return orgExit(res)
}

// orgLocal wires the in-process fan-out. The dispatcher and workers log
// nothing below what the CLI prints itself (each account's result, once),
// unless KEYSWEEP_DEBUG asks for their logs.
func orgLocal(d *wiring.Deps, s *streams, o *sweepOptions, member fanout.Member) *fanout.Local {
	quiet := s.quiet()
	m, progress := margin(o.timeout), progressFunc(s.err)
	policyID := d.Config.PolicyID
	return &fanout.Local{
		Dispatcher: fanout.Dispatcher{
			Orgs: organizations.NewFromConfig(d.AWS), Journal: d.Journal, Policies: d.Journal,
			PolicyID: policyID, AccountID: d.Store.Account, Logger: quiet,
		},
		Worker: fanout.Worker{
			Journal: d.Journal, Policies: d.Journal, PolicyID: policyID, Logger: quiet,
			Accounts: &fanout.AssumeRoleOpener{
				STS: sts.NewFromConfig(d.AWS), Config: d.AWS, Partition: member.Partition,
				RoleName: member.RoleName, ExternalID: member.ExternalID, Logger: quiet,
				Provider: awsiam.Options{NoReport: o.noReport, ReportWait: o.reportWait, BulkTags: d.Config.BulkTags},
			},
			Engine: func(st engine.KeyStore) *engine.Engine {
				return &engine.Engine{Store: st, Journal: d.Journal, Logger: quiet, Margin: m, Progress: progress}
			},
		},
		Concurrency: o.org.concurrency,
		OnAccount:   func(sw fanout.Swept) { printAccount(s.err, o.output, sw) },
	}
}

// printAccount says what became of one account as it finishes. A failed
// account's error is printed once, in the table at the end.
func printAccount(w io.Writer, format string, sw fanout.Swept) {
	r := sw.Recorded
	switch {
	case r == nil:
		fmt.Fprintf(w, "account %s: not swept: %v\n", sw.Message.AccountID, sw.Err)
	case format != formatTable:
	case r.Status == domain.AccountFailed:
		fmt.Fprintf(w, "account %s: failed (the table says why)\n", r.Account)
	case r.Outcome == domain.RunBlocked:
		why := "the blast-radius cap stopped the run; nothing changed"
		if sw.Summary != nil && len(sw.Summary.Errors) > 0 {
			why = strings.Join(sw.Summary.Errors, "; ")
		}
		fmt.Fprintf(w, "account %s: blocked: %s\n", r.Account, why)
	default:
		fmt.Fprintf(w, "account %s: %s, %s\n", r.Account, r.Outcome, countsLine(r.Counts))
	}
}

// orgExit maps an organization run's outcome to an exit code: blocked 3,
// completed-with-failures or failed 1, an account stopped at its deadline
// 4, and a run some account's result could not be counted in 1.
func orgExit(res *fanout.LocalResult) error {
	r := res.Run
	blocked := r.Outcomes[string(domain.RunBlocked)]
	switch {
	case !res.Duplicate && r.Outcome == domain.RunRunning:
		// Some account's result could not be counted: the run is not
		// over, and a script must not take it for a success.
		return fmt.Errorf("organization run %s is unfinished: %d of %d accounts recorded",
			r.RunID, r.AccountsDone+r.AccountsFailed, r.AccountsPlanned)
	case r.Outcome == domain.RunFailed || r.Outcome == domain.RunWithFailures:
		return fmt.Errorf("organization run %s: %s: %d of %d accounts failed", r.RunID, r.Outcome, r.AccountsFailed, r.AccountsPlanned)
	case r.Outcome == domain.RunBlocked:
		return exitError{ExitBlocked, fmt.Errorf("organization run %s: blocked: %d of %d accounts stopped by the blast-radius cap; nothing changed in them",
			r.RunID, blocked, r.AccountsPlanned)}
	case r.Outcomes[string(domain.RunPartial)] > 0:
		return exitError{ExitPartial, fmt.Errorf("organization run %s: %d accounts stopped at their deadline; the next run continues",
			r.RunID, r.Outcomes[string(domain.RunPartial)])}
	}
	return nil
}

var orgHeader = []string{"ACCOUNT", "STATUS", "OUTCOME", "EVALUATED", "DEACTIVATED", "DELETED", "ERRORS", "RUN", "ERROR"}

func orgRow(a domain.AccountResult) []string {
	n := func(k string) string { return strconv.Itoa(a.Counts[k]) }
	return []string{a.Account, a.Status, string(a.Outcome), n(domain.CountEvaluated), n(domain.CountDeactivated),
		n(domain.CountDeleted), n(domain.CountErrors), a.RunID, a.Error}
}

func writeAccounts(w io.Writer, format string, accts []domain.AccountResult) error {
	rows := make([][]string, len(accts))
	for i, a := range accts {
		rows[i] = orgRow(a)
	}
	return writeRows(w, format, orgHeader, rows)
}

func printOrgResult(s *streams, format string, res *fanout.LocalResult) {
	if res.Accounts == nil {
		res.Accounts = []domain.AccountResult{}
	}
	if format == formatJSON {
		_ = writeJSON(s.out, res)
		return
	}
	_ = writeAccounts(s.out, format, res.Accounts)
	if format != formatTable {
		return
	}
	fmt.Fprintln(s.err)
	writeOrgRun(s.err, res.Run)
	if res.Duplicate {
		fmt.Fprintf(s.err, "note: event already handled by organization run %s\n", res.Run.RunID)
	}
}

// writeOrgRun says what an organization run did, and what to look at.
func writeOrgRun(w io.Writer, r *domain.OrgRun) {
	fmt.Fprintf(w, "organization run %s: %s, mode %s, policy %s (%s); accounts: %d planned, %d done, %d failed; %s\n",
		r.RunID, r.Outcome, r.Mode, r.PolicyVersion, r.PolicySource, r.AccountsPlanned, r.AccountsDone, r.AccountsFailed, countsLine(r.Counts))
	if r.OrganizationID != "" || r.Selection != "" {
		fmt.Fprintf(w, "  organization %s, selection: %s\n", orDash(r.OrganizationID), orDash(r.Selection))
	}
	if n := r.Outcomes[string(domain.RunBlocked)]; n > 0 {
		fmt.Fprintf(w, "note: %d account(s) blocked by the blast-radius cap: nothing changed in them; "+
			"look at why so many keys are stale there, or raise the policy's blastRadius\n", n)
	}
	for _, e := range r.Errors {
		prefix := "note"
		if !strings.HasPrefix(e, "skipped ") {
			prefix = "error"
		}
		fmt.Fprintf(w, "%s: %s\n", prefix, e)
	}
}
