package org

import (
	"reflect"
	"slices"
	"strconv"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/keysweep/keysweep/awsiam"
	"github.com/keysweep/keysweep/internal/cfntemplate"
)

// The templates and the code must agree; cfn-lint cannot see that.

// The member role grants exactly the IAM calls the provider can make.
func TestMemberRoleGrantsExactlyTheSweep(t *testing.T) {
	tpl := cfntemplate.Read(t, "../templates/member-role.yaml")
	role := cfntemplate.Dig(t, tpl, "Resources", "MemberRole", "Properties")
	var granted []string
	for _, st := range cfntemplate.Dig(t, role, "Policies", "0", "PolicyDocument", "Statement").([]any) {
		granted = append(granted, cfntemplate.Strs(cfntemplate.Dig(t, st, "Action"))...)
	}
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
	tpl := cfntemplate.Read(t, "../template.yaml")
	res := cfntemplate.Dig(t, tpl, "Resources").(map[string]any)
	queue := cfntemplate.Dig(t, res, "AccountQueue", "Properties", "RedrivePolicy", "maxReceiveCount")
	env := cfntemplate.Dig(t, res, "WorkerFunction", "Properties", "Environment", "Variables", EnvMaxReceives)
	want := strconv.Itoa(DefaultMaxReceives)
	if queue != want || env != want {
		t.Errorf("maxReceiveCount %v, %s %v; want both %s", queue, EnvMaxReceives, env, want)
	}
	assume := cfntemplate.Dig(t, res, "WorkerRole", "Properties", "Policies", "0", "PolicyDocument", "Statement")
	for _, st := range assume.([]any) {
		if slices.Contains(cfntemplate.Strs(cfntemplate.Dig(t, st, "Action")), "sts:AssumeRole") {
			if r := cfntemplate.Dig(t, st, "Resource"); r != "arn:${AWS::Partition}:iam::*:role/${MemberRoleName}" {
				t.Errorf("the worker may assume %v, want only the member role", r)
			}
		}
	}
}

// The worker's queue trigger reports partial batch failures (else one
// failed account would make Lambda retry, or drop, the whole batch), takes
// one account a message, and is bounded by the WorkerConcurrency
// parameter; and every resource of the fan-out exists only in organization
// mode, so a single-account install is what it was without it.
func TestTemplateOrganizationMode(t *testing.T) {
	tpl := cfntemplate.Read(t, "../template.yaml")
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
		"WorkerRole", "WorkerFunction", "AccountDLQAlarm", "DispatcherErrorsAlarm"} {
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
