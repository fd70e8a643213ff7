package fanout_test

import (
	"github.com/keysweep/keysweep/internal/fanout"
	"reflect"
	"slices"
	"strconv"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/keysweep/keysweep/internal/cfntemplate"
	"github.com/keysweep/keysweep/internal/keystore/awsiam"
)

// The templates and the code must agree; cfn-lint cannot see that.

// The member role grants exactly the IAM calls the provider can make,
// GetAccountAuthorizationDetails only with BulkTagReads (off by default),
// and denies key changes under ProtectedPaths.
func TestMemberRoleGrantsExactlyTheSweep(t *testing.T) {
	tpl := cfntemplate.Read(t, "../../templates/member-role.yaml")
	res := cfntemplate.Dig(t, tpl, "Resources").(map[string]any)
	role := cfntemplate.Dig(t, res, "MemberRole", "Properties")
	sts := append(cfntemplate.Statements(t, cfntemplate.Dig(t, role, "Policies")),
		cfntemplate.AttachedStatements(t, res, "MemberRole")...)
	var granted []string
	for _, st := range sts {
		if st.Effect != "Allow" {
			continue
		}
		granted = append(granted, st.Actions...)
		want := ""
		if slices.Contains(st.Actions, "iam:GetAccountAuthorizationDetails") {
			want = "AllowsBulkTagReads"
		}
		if st.If != want || (want != "" && len(st.Actions) != 1) {
			t.Errorf("%s grants %v under %q, want under %q", st.Sid, st.Actions, st.If, want)
		}
	}
	if got := cfntemplate.Dig(t, tpl, "Parameters", "BulkTagReads", "Default"); got != "false" {
		t.Errorf("BulkTagReads defaults to %v, want false", got)
	}
	cfntemplate.ProtectedPathsDeny(t, "MemberRole", sts, "HasProtectedPaths")
	var needed []string
	api := reflect.TypeFor[awsiam.API]()
	for i := range api.NumMethod() {
		needed = append(needed, "iam:"+api.Method(i).Name)
	}
	slices.Sort(granted)
	slices.Sort(needed)
	if diff := cmp.Diff(needed, granted); diff != "" {
		t.Errorf("member role actions (-awsiam.API +template):\n%s", diff)
	}

	trust := cfntemplate.Dig(t, role, "AssumeRolePolicyDocument", "Statement", "0")
	cond := cfntemplate.Dig(t, trust, "Condition").(map[string]any)
	if cfntemplate.Dig(t, cond, "StringEquals", "sts:ExternalId") != "ExternalId" || cfntemplate.Dig(t, cond, "ArnEquals", "aws:PrincipalArn") != "WorkerRoleArn" {
		t.Errorf("the worker's trust statement is not limited to WorkerRoleArn and ExternalId: %v", cond)
	}
}

// The queue's maxReceiveCount, the worker's MAX_RECEIVES and the code's
// default agree: the worker records a failure on the last delivery.
func TestTemplateReceiveCountsAgree(t *testing.T) {
	tpl := cfntemplate.Read(t, "../../template.yaml")
	res := cfntemplate.Dig(t, tpl, "Resources").(map[string]any)
	queue := cfntemplate.Dig(t, res, "AccountQueue", "Properties", "RedrivePolicy", "maxReceiveCount")
	env := cfntemplate.Dig(t, res, "WorkerFunction", "Properties", "Environment", "Variables", fanout.EnvMaxReceives)
	want := strconv.Itoa(fanout.DefaultMaxReceives)
	if queue != want || env != want {
		t.Errorf("maxReceiveCount %v, %s %v; want both %s", queue, fanout.EnvMaxReceives, env, want)
	}
}

// The worker may assume the member role only, and only in accounts of its
// own organization; it and the dispatcher keep the audit table
// append-only.
func TestTemplateWorkerLeastPrivilege(t *testing.T) {
	res := cfntemplate.Dig(t, cfntemplate.Read(t, "../../template.yaml"), "Resources").(map[string]any)
	worker := append(cfntemplate.Statements(t, cfntemplate.Dig(t, res, "WorkerRole", "Properties", "Policies")),
		cfntemplate.AttachedStatements(t, res, "WorkerRole")...)
	var assume int
	for _, st := range worker {
		if !slices.Contains(st.Actions, "sts:AssumeRole") {
			continue
		}
		assume++
		want := []string{"arn:${AWS::Partition}:iam::*:role/${MemberRoleName}"}
		if !slices.Equal(st.Resources, want) || len(st.Actions) != 1 {
			t.Errorf("the worker may %v on %v, want sts:AssumeRole on %v", st.Actions, st.Resources, want)
		}
		if got := st.ConditionValues("StringEquals", "aws:ResourceOrgID"); !slices.Equal(got, []string{"${aws:PrincipalOrgID}"}) || len(st.Condition) != 1 {
			t.Errorf("%s: condition %v, want StringEquals aws:ResourceOrgID ${aws:PrincipalOrgID}", st.Sid, st.Condition)
		}
	}
	if assume != 1 {
		t.Errorf("%d statements let the worker assume roles, want 1", assume)
	}
	var traces bool
	for _, st := range worker {
		traces = traces || slices.Contains(st.Actions, "xray:PutTraceSegments")
	}
	if !traces {
		t.Error("the worker is traced (Tracing: Active) but may not write traces")
	}
	cfntemplate.AppendOnly(t, "WorkerRole", worker, "AuditTable",
		[]string{"STATE#*", "PENDING#*", "RESUME#*", "RUN#*", "EVENT#*", "RUNNING#*"})
	dispatcher := cfntemplate.Statements(t, cfntemplate.Dig(t, res, "DispatcherFunction", "Properties", "Policies"))
	cfntemplate.AppendOnly(t, "DispatcherFunction", dispatcher, "AuditTable", []string{"RUN#*", "EVENT#*", "RUNNING#*"})
}

// An account run that fails or is blocked raises an alarm (the worker
// emits the counts), as organization mode's other troubles do.
func TestTemplateOrganizationAlarms(t *testing.T) {
	res := cfntemplate.Dig(t, cfntemplate.Read(t, "../../template.yaml"), "Resources").(map[string]any)
	cfntemplate.CountAlarm(t, res, "AccountRunsFailedAlarm", "keysweep", "AccountRunsFailed", "IsOrganizationMode")
	cfntemplate.CountAlarm(t, res, "AccountRunsBlockedAlarm", "keysweep", "AccountRunsBlocked", "IsOrganizationMode")
}

// The worker's queue trigger reports partial batch failures (else one
// failed account would make Lambda retry, or drop, the whole batch), takes
// one account a message, and is bounded by the WorkerConcurrency
// parameter; and every resource of the fan-out exists only in organization
// mode, so a single-account install is what it was without it.
func TestTemplateOrganizationMode(t *testing.T) {
	tpl := cfntemplate.Read(t, "../../template.yaml")
	res := cfntemplate.Dig(t, tpl, "Resources").(map[string]any)
	src := cfntemplate.Dig(t, res, "WorkerFunction", "Properties", "Events", "Accounts", "Properties")
	if got := cfntemplate.Strs(cfntemplate.Dig(t, src, "FunctionResponseTypes")); !slices.Equal(got, []string{"ReportBatchItemFailures"}) {
		t.Errorf("FunctionResponseTypes %v, want [ReportBatchItemFailures]", got)
	}
	if got := cfntemplate.Dig(t, src, "BatchSize"); got != "1" {
		t.Errorf("BatchSize %v, want 1", got)
	}
	if got := cfntemplate.Dig(t, src, "ScalingConfig", "MaximumConcurrency"); got != "WorkerConcurrency" {
		t.Errorf("MaximumConcurrency %v, want !Ref WorkerConcurrency", got)
	}
	// Lambda throttles SQS deliveries beyond the reserved concurrency, and
	// throttled deliveries count towards maxReceiveCount.
	if got := cfntemplate.Dig(t, res, "WorkerFunction", "Properties", "ReservedConcurrentExecutions"); got != "WorkerConcurrency" {
		t.Errorf("worker ReservedConcurrentExecutions %v, want !Ref WorkerConcurrency (the event source's maximum)", got)
	}
	for _, name := range []string{"AccountDLQ", "AccountQueue", "DispatcherLogGroup", "WorkerLogGroup", "DispatcherFunction",
		"WorkerRole", "WorkerFunction", "AccountDLQAlarm", "DispatcherErrorsAlarm", "AccountRunsFailedAlarm", "AccountRunsBlockedAlarm"} {
		if got := cfntemplate.Dig(t, res, name, "Condition"); got != "IsOrganizationMode" {
			t.Errorf("%s: Condition %v, want IsOrganizationMode", name, got)
		}
	}
	for _, name := range []string{"PolicyTable", "AuditTable", "SweeperFunction", "ApiFunction", "KeysweepApi"} {
		if got := cfntemplate.Dig(t, res, name, "Condition"); got != nil {
			t.Errorf("%s: Condition %v, want none (single-account installs have it)", name, got)
		}
	}
	if got := cfntemplate.Dig(t, tpl, "Parameters", "OrganizationMode", "Default"); got != "false" {
		t.Errorf("OrganizationMode defaults to %v, want false", got)
	}
}
