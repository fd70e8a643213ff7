package cfntemplate

import (
	"path"
	"slices"
	"testing"
)

// auditActions are the DynamoDB actions a role may have on the audit table:
// reads (Scan for the posture report's recent activity), PutItem to
// append, and UpdateItem and DeleteItem on mutable items only.
// BatchWriteItem and the PartiQL writes are other ways to write, and stay
// out.
var auditActions = []string{
	"dynamodb:GetItem", "dynamodb:Query", "dynamodb:Scan", "dynamodb:ConditionCheckItem",
	"dynamodb:PutItem", "dynamodb:UpdateItem", "dynamodb:DeleteItem",
}

// AppendOnly checks that a role's statements keep the audit table (a
// resource whose name starts with table: "AuditTable.Arn",
// "${AuditTable.Arn}/index/*") append-only for it: it may put items, it
// may update or delete them only where the partition key starts with one
// of mutable (dynamodb:LeadingKeys, each a StringLike pattern such as
// "STATE#*"), and never where it starts with "KEY#", where the history is.
func AppendOnly(t testing.TB, role string, sts []Statement, table string, mutable []string) {
	t.Helper()
	var canPut bool
	var leading [][]string
	for _, st := range sts {
		if st.Effect != "Allow" || !onTable(st.Resources, table) {
			continue
		}
		for _, a := range st.Actions {
			if !slices.Contains(auditActions, a) {
				t.Errorf("%s: %s may %s on the audit table; want only %v", role, st.Sid, a, auditActions)
			}
		}
		canPut = canPut || slices.Contains(st.Actions, "dynamodb:PutItem")
		if !slices.Contains(st.Actions, "dynamodb:UpdateItem") && !slices.Contains(st.Actions, "dynamodb:DeleteItem") {
			continue
		}
		keys := st.ConditionValues("ForAllValues:StringLike", "dynamodb:LeadingKeys")
		if len(keys) == 0 || len(st.Condition) != 1 {
			t.Errorf("%s: %s may update or delete any audit item; want it bound by ForAllValues:StringLike dynamodb:LeadingKeys alone, have %v",
				role, st.Sid, st.Condition)
			continue
		}
		if st.If != "" {
			t.Errorf("%s: %s exists only under %s", role, st.Sid, st.If)
		}
		leading = append(leading, keys)
		for _, k := range keys {
			if m, _ := path.Match(k, "KEY#AKIAIOSFODNN7EXAMPLE"); m || k == "*" {
				t.Errorf("%s: %s may update or delete history (pk KEY#<id>) through %q", role, st.Sid, k)
			}
		}
	}
	if !canPut {
		t.Errorf("%s may not put items in the audit table", role)
	}
	if len(leading) != 1 || !slices.Equal(leading[0], mutable) {
		t.Errorf("%s may update and delete audit items with partition keys %v; want one statement with %v", role, leading, mutable)
	}
}

// onTable: one of the resources is the table or one of its indexes.
func onTable(resources []string, table string) bool {
	return slices.ContainsFunc(resources, func(r string) bool {
		return r == table+".Arn" || r == "${"+table+".Arn}/index/*"
	})
}

// ProtectedPathsDeny checks that a role's statements hold exactly one Deny,
// of deactivating and deleting keys (iam:UpdateAccessKey,
// iam:DeleteAccessKey), under the template condition cond, for the users
// under each path of the ProtectedPaths parameter.
func ProtectedPathsDeny(t testing.TB, role string, sts []Statement, cond string) {
	t.Helper()
	var denies []Statement
	for _, st := range sts {
		if st.Effect == "Deny" {
			denies = append(denies, st)
		}
	}
	if len(denies) != 1 {
		t.Errorf("%s: %d Deny statements, want one for ProtectedPaths", role, len(denies))
		return
	}
	st := denies[0]
	if st.If != cond || !slices.Equal(st.Actions, []string{"iam:UpdateAccessKey", "iam:DeleteAccessKey"}) {
		t.Errorf("%s: %s denies %v under %q; want UpdateAccessKey and DeleteAccessKey under %s", role, st.Sid, st.Actions, st.If, cond)
	}
	// The resources are built from the parameter, not written out.
	resource, built := st.Raw["Resource"].(map[string]any)
	if !built {
		t.Errorf("%s: %s denies %v, not resources built from ProtectedPaths", role, st.Sid, st.Raw["Resource"])
		return
	}
	r := &Resolver{Params: map[string]any{"ProtectedPaths": []string{"/breakglass/", "/svc/ci/"}}, PlainRefs: true}
	got, err := r.Resolve(t.Context(), resource)
	if err != nil {
		t.Errorf("%s: %s: %v", role, st.Sid, err)
		return
	}
	// A Deny in an identity policy limits only this role, in its own
	// account: wildcards for partition and account deny nothing more.
	want := []string{"arn:*:iam::*:user/breakglass/*", "arn:*:iam::*:user/svc/ci/*"}
	if gl, _ := got.([]any); len(gl) != len(want) || !slices.Equal(Strs(gl), want) {
		t.Errorf("%s: %s denies %v for ProtectedPaths /breakglass/,/svc/ci/; want %v", role, st.Sid, got, want)
	}
}

// CountAlarm checks that the resource name is an alarm on a count the
// functions emit (metric in namespace, no dimensions) that fires on the
// first one (Sum >= 1 over one period), is quiet without data, notifies
// the alarm topic, and exists under the template condition cond (empty for
// always).
func CountAlarm(t testing.TB, resources map[string]any, name, namespace, metric, cond string) {
	t.Helper()
	res, ok := resources[name].(map[string]any)
	if !ok {
		t.Errorf("no alarm %s", name)
		return
	}
	if got, _ := res["Condition"].(string); res["Type"] != "AWS::CloudWatch::Alarm" || got != cond {
		t.Errorf("%s: %v under condition %q, want an AWS::CloudWatch::Alarm under %q", name, res["Type"], got, cond)
	}
	p, _ := res["Properties"].(map[string]any)
	want := map[string]any{
		"Namespace": namespace, "MetricName": metric, "Statistic": "Sum", "EvaluationPeriods": "1",
		"Threshold": "1", "ComparisonOperator": "GreaterThanOrEqualToThreshold", "TreatMissingData": "notBreaching",
	}
	for k, v := range want {
		if p[k] != v {
			t.Errorf("%s: %s %v, want %v", name, k, p[k], v)
		}
	}
	if p["Dimensions"] != nil {
		t.Errorf("%s: dimensions %v; the alarm watches the metric without dimensions", name, p["Dimensions"])
	}
	if got := Strs(p["AlarmActions"]); !slices.Equal(got, []string{"AlarmTopic"}) {
		t.Errorf("%s: AlarmActions %v, want the alarm topic", name, got)
	}
}
