package org

import (
	"os"
	"reflect"
	"slices"
	"strconv"
	"testing"

	"github.com/google/go-cmp/cmp"
	"gopkg.in/yaml.v3"

	"github.com/keysweep/keysweep/awsiam"
)

// The templates and the code must agree; cfn-lint cannot see that.

// plain turns a YAML node into maps, lists and strings, ignoring
// CloudFormation's short tags (!Sub, !If, ...): a tagged node reads as its
// content.
func plain(n *yaml.Node) any {
	switch n.Kind {
	case yaml.DocumentNode:
		return plain(n.Content[0])
	case yaml.MappingNode:
		m := map[string]any{}
		for i := 0; i+1 < len(n.Content); i += 2 {
			m[n.Content[i].Value] = plain(n.Content[i+1])
		}
		return m
	case yaml.SequenceNode:
		l := make([]any, len(n.Content))
		for i, c := range n.Content {
			l[i] = plain(c)
		}
		return l
	case yaml.AliasNode:
		return plain(n.Alias)
	}
	return n.Value
}

func readTemplate(t *testing.T, path string) map[string]any {
	t.Helper()
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var doc yaml.Node
	if err := yaml.Unmarshal(raw, &doc); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	return plain(&doc).(map[string]any)
}

// dig follows keys (map keys, or list indexes as numbers) into v.
func dig(t *testing.T, v any, path ...string) any {
	t.Helper()
	for _, k := range path {
		switch x := v.(type) {
		case map[string]any:
			v = x[k]
		case []any:
			i, err := strconv.Atoi(k)
			if err != nil || i >= len(x) {
				t.Fatalf("no %s in list of %d", k, len(x))
			}
			v = x[i]
		default:
			t.Fatalf("cannot look up %q in %T", k, v)
		}
	}
	return v
}

func strs(v any) []string {
	var out []string
	switch x := v.(type) {
	case string:
		out = append(out, x)
	case []any:
		for _, e := range x {
			if s, ok := e.(string); ok {
				out = append(out, s)
			}
		}
	}
	return out
}

// The member role grants exactly the IAM calls the provider can make.
func TestMemberRoleGrantsExactlyTheSweep(t *testing.T) {
	tpl := readTemplate(t, "../templates/member-role.yaml")
	role := dig(t, tpl, "Resources", "MemberRole", "Properties")
	var granted []string
	for _, st := range dig(t, role, "Policies", "0", "PolicyDocument", "Statement").([]any) {
		granted = append(granted, strs(dig(t, st, "Action"))...)
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

	trust := dig(t, role, "AssumeRolePolicyDocument", "Statement", "0")
	cond := dig(t, trust, "Condition").(map[string]any)
	if dig(t, cond, "StringEquals", "sts:ExternalId") != "ExternalId" || dig(t, cond, "ArnEquals", "aws:PrincipalArn") != "WorkerRoleArn" {
		t.Errorf("the worker's trust statement is not limited to WorkerRoleArn and ExternalId: %v", cond)
	}
}

// The queue's maxReceiveCount, the worker's MAX_RECEIVES and the code's
// default agree: the worker records a failure on the last delivery.
func TestTemplateReceiveCountsAgree(t *testing.T) {
	tpl := readTemplate(t, "../template.yaml")
	res := dig(t, tpl, "Resources").(map[string]any)
	queue := dig(t, res, "AccountQueue", "Properties", "RedrivePolicy", "maxReceiveCount")
	env := dig(t, res, "WorkerFunction", "Properties", "Environment", "Variables", EnvMaxReceives)
	want := strconv.Itoa(DefaultMaxReceives)
	if queue != want || env != want {
		t.Errorf("maxReceiveCount %v, %s %v; want both %s", queue, EnvMaxReceives, env, want)
	}
	assume := dig(t, res, "WorkerRole", "Properties", "Policies", "0", "PolicyDocument", "Statement")
	for _, st := range assume.([]any) {
		if slices.Contains(strs(dig(t, st, "Action")), "sts:AssumeRole") {
			if r := dig(t, st, "Resource"); r != "arn:${AWS::Partition}:iam::*:role/${MemberRoleName}" {
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
	tpl := readTemplate(t, "../template.yaml")
	res := dig(t, tpl, "Resources").(map[string]any)
	src := dig(t, res, "WorkerFunction", "Properties", "Events", "Accounts", "Properties")
	if got := strs(dig(t, src, "FunctionResponseTypes")); !slices.Equal(got, []string{"ReportBatchItemFailures"}) {
		t.Errorf("FunctionResponseTypes %v, want [ReportBatchItemFailures]", got)
	}
	if got := dig(t, src, "BatchSize"); got != "1" {
		t.Errorf("BatchSize %v, want 1", got)
	}
	if got := dig(t, src, "ScalingConfig", "MaximumConcurrency"); got != "WorkerConcurrency" {
		t.Errorf("MaximumConcurrency %v, want !Ref WorkerConcurrency", got)
	}
	for _, name := range []string{"AccountDLQ", "AccountQueue", "DispatcherLogGroup", "WorkerLogGroup", "DispatcherFunction",
		"WorkerRole", "WorkerFunction", "AccountDLQAlarm", "DispatcherErrorsAlarm"} {
		if got := dig(t, res, name, "Condition"); got != "IsOrganizationMode" {
			t.Errorf("%s: Condition %v, want IsOrganizationMode", name, got)
		}
	}
	for _, name := range []string{"PolicyTable", "AuditTable", "SweeperFunction", "ApiFunction", "KeysweepApi"} {
		if got := dig(t, res, name, "Condition"); got != nil {
			t.Errorf("%s: Condition %v, want none (single-account installs have it)", name, got)
		}
	}
	if got := dig(t, tpl, "Parameters", "OrganizationMode", "Default"); got != "false" {
		t.Errorf("OrganizationMode defaults to %v, want false", got)
	}
}
