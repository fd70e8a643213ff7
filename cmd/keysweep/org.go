package main

import (
	"context"
	"encoding/csv"
	"flag"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"sync"
	"text/tabwriter"

	"github.com/aws/aws-sdk-go-v2/service/organizations"
	"github.com/aws/aws-sdk-go-v2/service/sts"

	"github.com/keysweep/keysweep/app"
	"github.com/keysweep/keysweep/awsiam"
	"github.com/keysweep/keysweep/org"
	"github.com/keysweep/keysweep/store"
)

// orgFlags are the flags of `keysweep sweep --org`.
type orgFlags struct {
	enabled     bool
	role        string
	externalID  string
	concurrency int
}

func registerOrgFlags(fs *flag.FlagSet) *orgFlags {
	o := &orgFlags{}
	role := os.Getenv(org.EnvRoleName)
	if role == "" {
		role = org.DefaultRoleName
	}
	fs.BoolVar(&o.enabled, "org", false, "sweep every account the policy's organization section selects, in-process: the organization mode's dispatcher and workers, without SQS")
	fs.StringVar(&o.role, "role", role, "--org: the member role's name (env "+org.EnvRoleName+")")
	fs.StringVar(&o.externalID, "external-id", os.Getenv(org.EnvExternalID), "--org: the member role's external id (env "+org.EnvExternalID+")")
	fs.IntVar(&o.concurrency, "concurrency", org.DefaultLocalConcurrency, "--org: member accounts swept at once (1-100)")
	return o
}

// maxOrgConcurrency bounds --concurrency: IAM's rate limits are per account,
// but every worker shares this process and the audit table.
const maxOrgConcurrency = 100

// sweepOrg runs an organization run in-process with the caller's
// credentials, which must be allowed to list the organization and to
// assume the member role (templates/member-role.yaml, OperatorRoleArn).
func sweepOrg(ctx context.Context, c *common, of *orgFlags, ev app.SweepEvent, output string, stdout, stderr io.Writer) error {
	if ev.Users != nil {
		return usagef("--users: not with --org; an organization run sweeps whole accounts (narrow it with the policy's organization section)")
	}
	if of.concurrency < 1 || of.concurrency > maxOrgConcurrency {
		return usagef("--concurrency: want 1 to %d, got %d", maxOrgConcurrency, of.concurrency)
	}
	d, err := c.deps(ctx, true)
	if err != nil {
		return err
	}
	member := org.Member{RoleName: of.role, ExternalID: of.externalID, Partition: org.PartitionOf(d.AWS.Region)}
	if err := member.Validate(); err != nil {
		return usageError{err}
	}
	var mu sync.Mutex
	local := &org.Local{
		Dispatcher: org.Dispatcher{
			Orgs: organizations.NewFromConfig(d.AWS), Journal: d.Store, Policies: d.Store,
			PolicyID: c.policyID, AccountID: d.Provider.AccountID,
		},
		Worker: org.Worker{
			Journal: d.Store, Policies: d.Store, PolicyID: c.policyID,
			Accounts: &org.AssumeRoleOpener{
				STS: sts.NewFromConfig(d.AWS), Config: d.AWS, Partition: member.Partition,
				RoleName: member.RoleName, ExternalID: member.ExternalID,
				Provider: awsiam.Options{NoReport: c.noReport, ReportWait: c.reportWait},
			},
		},
		Concurrency: of.concurrency,
		OnAccount: func(s org.Swept) {
			if output != "table" {
				return
			}
			mu.Lock()
			defer mu.Unlock()
			switch {
			case s.Recorded == nil:
				fmt.Fprintf(stderr, "account %s: not swept: %v\n", s.Message.AccountID, s.Err)
			case s.Recorded.Status == store.AccountFailed:
				fmt.Fprintf(stderr, "account %s: failed: %s\n", s.Message.AccountID, s.Recorded.Error)
			default:
				fmt.Fprintf(stderr, "account %s: %s, %s\n", s.Message.AccountID, s.Recorded.Outcome, countsLine(s.Recorded.Counts))
			}
		},
	}
	res, err := local.Run(ctx, org.DispatchRequest{
		Trigger:   store.Trigger{Kind: "cli", Source: ev.Source, EventID: ev.EventID},
		AuditOnly: ev.AuditOnly,
		Enforce:   ev.Enforce,
	})
	if res != nil {
		printOrgResult(stdout, stderr, output, res)
	}
	if err != nil {
		return runExit(nil, err)
	}
	if r := res.Run; !res.Duplicate && r.Outcome == store.OutcomeRunning {
		// Some account's result could not be counted: the run is not over,
		// and a script must not take it for a success.
		return exitError{exitFailure, fmt.Errorf("organization run %s is unfinished: %d of %d accounts recorded",
			r.RunID, r.AccountsDone+r.AccountsFailed, r.AccountsPlanned)}
	}
	if n := res.Run.AccountsFailed; n > 0 {
		return exitError{exitFailure, fmt.Errorf("organization run %s: %d of %d accounts failed", res.Run.RunID, n, res.Run.AccountsPlanned)}
	}
	return nil
}

var orgHeader = []string{"ACCOUNT", "STATUS", "OUTCOME", "EVALUATED", "DEACTIVATED", "DELETED", "ERRORS", "RUN", "ERROR"}

func orgRow(a store.AccountResult) []string {
	n := func(k string) string { return strconv.Itoa(a.Counts[k]) }
	return []string{a.Account, a.Status, a.Outcome, n("evaluated"), n("deactivated"), n("deleted"), n("errors"), a.RunID, a.Error}
}

func printOrgResult(stdout, stderr io.Writer, format string, res *org.LocalResult) {
	if format == "json" {
		if res.Accounts == nil {
			res.Accounts = []store.AccountResult{}
		}
		_ = writeJSON(stdout, res)
		return
	}
	if format == "csv" {
		cw := csv.NewWriter(stdout)
		_ = cw.Write(orgHeader)
		for _, a := range res.Accounts {
			_ = cw.Write(orgRow(a))
		}
		cw.Flush()
		return
	}
	tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
	writeTabRow(tw, orgHeader)
	for _, a := range res.Accounts {
		writeTabRow(tw, orgRow(a))
	}
	_ = tw.Flush()
	r := res.Run
	fmt.Fprintf(stderr, "\norganization run %s: %s, mode %s, policy %s (%s); accounts: %d planned, %d done, %d failed; %s\n",
		r.RunID, r.Outcome, r.Mode, r.PolicyVersion, r.PolicySource, r.AccountsPlanned, r.AccountsDone, r.AccountsFailed, countsLine(r.Counts))
	if res.Duplicate {
		fmt.Fprintf(stderr, "note: event already handled by organization run %s\n", r.RunID)
	}
	for _, e := range r.Errors {
		prefix := "note"
		if !strings.HasPrefix(e, "skipped ") {
			prefix = "error"
		}
		fmt.Fprintf(stderr, "%s: %s\n", prefix, e)
	}
}
