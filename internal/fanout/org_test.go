package fanout_test

import (
	"fmt"
	"github.com/keysweep/keysweep/internal/fanout"
	"slices"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/organizations"
	"github.com/google/go-cmp/cmp"

	"github.com/keysweep/keysweep/internal/domain"
	"github.com/keysweep/keysweep/policy"
)

// These tests run against the emulator: Organizations, STS (AssumeRole
// into member accounts: a request signed with the assumed role's
// credentials lands in that account), IAM, SQS and DynamoDB.

const managementAccount = "123456789012" // the emulator's default account

func TestSelect(t *testing.T) {
	o := newTestOrg(t, 4, nil)
	ctx := t.Context()
	m := o.members
	eng := o.createOU(t, o.rootID, "eng")
	sub := o.createOU(t, eng, "eng-platform")
	o.move(t, m[0].id, eng)
	o.move(t, m[1].id, sub)
	if _, err := o.orgs.CloseAccount(ctx, &organizations.CloseAccountInput{AccountId: aws.String(m[3].id)}); err != nil {
		t.Fatalf("close account: %v", err)
	}

	tests := []struct {
		name        string
		sel         *policy.OrgSelection
		want        []string
		wantSkipped []string
	}{
		{
			name:        "all active accounts",
			want:        sorted(managementAccount, m[0].id, m[1].id, m[2].id),
			wantSkipped: []string{m[3].id + ": state SUSPENDED"},
		},
		{
			name:        "allow list",
			sel:         &policy.OrgSelection{Accounts: []string{m[2].id, m[0].id, "999999999999", m[3].id}},
			want:        sorted(m[0].id, m[2].id),
			wantSkipped: sortedSkips(m[3].id+": state SUSPENDED", "999999999999: allow-listed but not in the organization"),
		},
		{
			name:        "deny list",
			sel:         &policy.OrgSelection{ExcludeAccounts: []string{m[1].id, managementAccount}},
			want:        sorted(m[0].id, m[2].id),
			wantSkipped: sortedSkips(m[1].id+": excluded by the policy", managementAccount+": excluded by the policy", m[3].id+": state SUSPENDED"),
		},
		{
			name: "unit and its child units",
			sel:  &policy.OrgSelection{OrganizationalUnits: []string{eng}},
			want: sorted(m[0].id, m[1].id),
		},
		{
			name: "child unit only",
			sel:  &policy.OrgSelection{OrganizationalUnits: []string{sub}},
			want: []string{m[1].id},
		},
		{
			name:        "unit minus a denied account",
			sel:         &policy.OrgSelection{OrganizationalUnits: []string{eng}, ExcludeAccounts: []string{m[0].id}},
			want:        []string{m[1].id},
			wantSkipped: []string{m[0].id + ": excluded by the policy"},
		},
		{
			name: "unit plus allowed accounts",
			sel:  &policy.OrgSelection{OrganizationalUnits: []string{sub}, Accounts: []string{m[2].id}},
			want: sorted(m[1].id, m[2].id),
		},
		{
			name:        "the root",
			sel:         &policy.OrgSelection{OrganizationalUnits: []string{o.rootID}},
			want:        sorted(managementAccount, m[0].id, m[1].id, m[2].id),
			wantSkipped: []string{m[3].id + ": state SUSPENDED"},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if tc.sel != nil {
				if err := testPolicy(tc.sel).Validate(); err != nil {
					t.Fatalf("selection invalid: %v", err)
				}
			}
			// One result per page: every listing pages.
			got, err := (&fanout.Selector{API: o.orgs, PageSize: 1}).Select(ctx, tc.sel)
			if err != nil {
				t.Fatalf("Select: %v", err)
			}
			var skipped []string
			for _, s := range got.Skipped {
				skipped = append(skipped, s.Account+": "+s.Reason)
			}
			if diff := cmp.Diff(tc.want, got.IDs()); diff != "" {
				t.Errorf("selected (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(tc.wantSkipped, skipped); diff != "" {
				t.Errorf("skipped (-want +got):\n%s", diff)
			}
		})
	}
}

// A sweep acts on the right keys in each account and on none in a denied
// account; every record names its account.
func TestOrganizationSweep(t *testing.T) {
	o := newTestOrg(t, 3, nil)
	ctx := t.Context()
	m := o.members
	denied := m[2]
	o.putPolicy(t, testPolicy(&policy.OrgSelection{ExcludeAccounts: []string{denied.id}}))

	res, err := o.local(2).Run(ctx, fanout.DispatchRequest{Trigger: domain.Trigger{Kind: "cli", EventID: "cli:org-sweep"}})
	if err != nil {
		t.Fatalf("organization run: %v", err)
	}

	wantStatuses := []string{
		m[0].id + " alice Active bob Inactive",
		m[1].id + " alice Active bob Inactive",
		denied.id + " alice Active bob Active",
	}
	slices.Sort(wantStatuses)
	if diff := cmp.Diff(wantStatuses, o.statuses(t)); diff != "" {
		t.Errorf("keys after the sweep (-want +got):\n%s", diff)
	}

	run := res.Run
	got := orgSummary{
		Outcome: run.Outcome, Planned: run.AccountsPlanned, Done: run.AccountsDone, Failed: run.AccountsFailed,
		Accounts: run.Accounts, Deactivated: run.Counts["deactivated"], Evaluated: run.Counts["evaluated"],
		Outcomes: run.Outcomes, Mode: run.Mode, PolicyVersion: run.PolicyVersion,
	}
	want := orgSummary{
		Outcome: domain.RunCompleted, Planned: 3, Done: 3, Failed: 0,
		Accounts: sorted(managementAccount, m[0].id, m[1].id), Deactivated: 2, Evaluated: 4,
		Outcomes: map[string]int{string(domain.RunCompleted): 3}, Mode: policy.ModeEnforce, PolicyVersion: "org-test-1",
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("organization run (-want +got):\n%s", diff)
	}
	if !slices.Contains(run.Errors, "skipped account "+denied.id+": excluded by the policy") {
		t.Errorf("organization run notes %q do not name the denied account", run.Errors)
	}
	if run.FinishedAt == nil || run.DispatchedAt == nil || run.OrganizationID == "" {
		t.Errorf("finishedAt %v, dispatchedAt %v, organizationId %q: want all set", run.FinishedAt, run.DispatchedAt, run.OrganizationID)
	}

	// Each account run is its own record, child of the organization run,
	// and its records carry the member account's id.
	for _, mb := range m[:2] {
		ar, err := o.journal.GetRun(ctx, fanout.AccountRunID(run.RunID, mb.id))
		if err != nil {
			t.Fatalf("account run of %s: %v", mb.id, err)
		}
		gotRun := []string{ar.Account, ar.Parent, ar.Trigger.Kind, ar.Trigger.Source, ar.Trigger.EventID, string(ar.Outcome)}
		wantRun := []string{mb.id, run.RunID, "org", run.RunID, fanout.EventID(run.RunID, mb.id), string(domain.RunCompleted)}
		if diff := cmp.Diff(wantRun, gotRun); diff != "" {
			t.Errorf("account run of %s (-want +got):\n%s", mb.id, diff)
		}
		recs, err := o.journal.ByKey(ctx, mb.stale)
		if err != nil {
			t.Fatal(err)
		}
		var kinds []string
		for _, r := range recs {
			kinds = append(kinds, fmt.Sprintf("%s %s %s %s", r.Kind, r.Account, r.UserName, r.Action))
		}
		wantKinds := []string{"intent " + mb.id + " bob deactivate", "outcome " + mb.id + " bob deactivate"}
		if diff := cmp.Diff(wantKinds, kinds); diff != "" {
			t.Errorf("records of %s's stale key (-want +got):\n%s", mb.id, diff)
		}
	}
	if _, err := o.journal.GetRun(ctx, fanout.AccountRunID(run.RunID, denied.id)); err == nil {
		t.Errorf("the denied account %s has a run", denied.id)
	}
	if recs, _ := o.journal.ByKey(ctx, denied.stale); len(recs) != 0 {
		t.Errorf("the denied account's key has records: %+v", recs)
	}
	var accounts []string
	for _, a := range res.Accounts {
		accounts = append(accounts, a.Account+" "+a.Status)
	}
	if diff := cmp.Diff(sorted(managementAccount+" done", m[0].id+" done", m[1].id+" done"), accounts); diff != "" {
		t.Errorf("account results (-want +got):\n%s", diff)
	}
}

// An account whose role cannot be assumed is recorded as failed, with the
// error, while the others finish.
func TestRoleCannotBeAssumed(t *testing.T) {
	o := newTestOrg(t, 3, nil)
	ctx := t.Context()
	m := o.members
	broken := m[1]
	o.putPolicy(t, testPolicy(&policy.OrgSelection{Accounts: ids(m...)}))
	// The emulator lets any role be assumed: refuse this account's.
	o.emu.FaultMatching(t, "STS.AssumeRole", "AccessDenied", 403, 0, fanout.RoleARN("aws", broken.id, testRole))

	res, err := o.local(3).Run(ctx, fanout.DispatchRequest{Trigger: domain.Trigger{Kind: "cli"}})
	if err != nil {
		t.Fatalf("organization run: %v", err)
	}
	o.emu.ClearFaults(t)

	wantStatuses := []string{
		m[0].id + " alice Active bob Inactive",
		broken.id + " alice Active bob Active",
		m[2].id + " alice Active bob Inactive",
	}
	if diff := cmp.Diff(wantStatuses, o.statuses(t)); diff != "" {
		t.Errorf("keys after the sweep (-want +got):\n%s", diff)
	}
	run := res.Run
	if got := [3]int{run.AccountsPlanned, run.AccountsDone, run.AccountsFailed}; got != [3]int{3, 2, 1} || run.Outcome != domain.RunWithFailures {
		t.Errorf("planned, done, failed = %v, outcome %s; want [3 2 1], %s", got, run.Outcome, domain.RunWithFailures)
	}
	if run.Counts["deactivated"] != 2 {
		t.Errorf("deactivated = %d, want 2", run.Counts["deactivated"])
	}
	var failed domain.AccountResult
	for _, a := range res.Accounts {
		if a.Account == broken.id {
			failed = a
		}
	}
	if failed.Status != domain.AccountFailed || !strings.Contains(failed.Error, "AccessDenied") || !strings.Contains(failed.Error, "assume role") {
		t.Errorf("account result of %s = %+v, want failed with the AssumeRole error", broken.id, failed)
	}
	ar, err := o.journal.GetRun(ctx, fanout.AccountRunID(run.RunID, broken.id))
	if err != nil {
		t.Fatalf("the failed account has no run record: %v", err)
	}
	if ar.Outcome != domain.RunFailed || ar.Parent != run.RunID || ar.Account != broken.id || len(ar.Errors) != 1 || !strings.Contains(ar.Errors[0], "AccessDenied") {
		t.Errorf("failed account run = %+v", ar)
	}
}

// An audit-only organization run changes nothing anywhere, whatever the
// policy's mode.
func TestOrganizationAuditOnly(t *testing.T) {
	o := newTestOrg(t, 2, nil)
	ctx := t.Context()
	o.putPolicy(t, testPolicy(&policy.OrgSelection{Accounts: ids(o.members...)}))
	res, err := o.local(2).Run(ctx, fanout.DispatchRequest{Trigger: domain.Trigger{Kind: "cli"}, AuditOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range o.statuses(t) {
		if strings.Contains(s, "Inactive") {
			t.Errorf("an audit-only run changed a key: %s", s)
		}
	}
	if res.Run.Mode != policy.ModeAudit || res.Run.Counts["deactivate"] != 2 || res.Run.Counts["deactivated"] != 0 {
		t.Errorf("mode %s, counts %v: want audit, 2 planned deactivations, none done", res.Run.Mode, res.Run.Counts)
	}
}

type orgSummary struct {
	Outcome                domain.RunOutcome
	Planned, Done, Failed  int
	Accounts               []string
	Deactivated, Evaluated int
	Outcomes               map[string]int
	Mode                   policy.Mode
	PolicyVersion          string
}

func (o *testOrg) createOU(t *testing.T, parent, name string) string {
	t.Helper()
	out, err := o.orgs.CreateOrganizationalUnit(t.Context(), &organizations.CreateOrganizationalUnitInput{ParentId: aws.String(parent), Name: aws.String(name)})
	if err != nil {
		t.Fatalf("create unit %s: %v", name, err)
	}
	return aws.ToString(out.OrganizationalUnit.Id)
}

func (o *testOrg) move(t *testing.T, account, to string) {
	t.Helper()
	_, err := o.orgs.MoveAccount(t.Context(), &organizations.MoveAccountInput{
		AccountId: aws.String(account), SourceParentId: aws.String(o.rootID), DestinationParentId: aws.String(to),
	})
	if err != nil {
		t.Fatalf("move %s to %s: %v", account, to, err)
	}
}

func sorted(ids ...string) []string { return slices.Sorted(slices.Values(ids)) }

func sortedSkips(s ...string) []string { return slices.Sorted(slices.Values(s)) }
