package cfntemplate

import (
	"fmt"
	"testing"
)

// recorder keeps the errors a check reports instead of failing the test.
type recorder struct {
	testing.TB
	errs []string
}

func (r *recorder) Errorf(format string, args ...any) {
	r.errs = append(r.errs, fmt.Sprintf(format, args...))
}
func (r *recorder) Helper() {}

func TestAppendOnly(t *testing.T) {
	reads := Statement{Sid: "Read", Effect: "Allow", Actions: []string{"dynamodb:GetItem", "dynamodb:Query"},
		Resources: []string{"AuditTable.Arn", "${AuditTable.Arn}/index/*"}}
	put := Statement{Sid: "Append", Effect: "Allow", Actions: []string{"dynamodb:PutItem"}, Resources: []string{"AuditTable.Arn"}}
	update := func(keys ...any) Statement {
		return Statement{Sid: "Update", Effect: "Allow", Actions: []string{"dynamodb:UpdateItem", "dynamodb:DeleteItem"},
			Resources: []string{"AuditTable.Arn"},
			Condition: map[string]any{"ForAllValues:StringLike": map[string]any{"dynamodb:LeadingKeys": keys}}}
	}
	mutable := []string{"STATE#*", "RUN#*"}
	for _, tc := range []struct {
		name string
		sts  []Statement
		errs int
	}{
		{"append-only", []Statement{reads, put, update("STATE#*", "RUN#*")}, 0},
		{"no put", []Statement{reads, update("STATE#*", "RUN#*")}, 1},
		{"update anything", []Statement{reads, put, {Sid: "All", Effect: "Allow",
			Actions: []string{"dynamodb:UpdateItem"}, Resources: []string{"AuditTable.Arn"}}}, 2},
		{"history by prefix", []Statement{reads, put, update("STATE#*", "KEY#*")}, 2},
		{"everything by wildcard", []Statement{reads, put, update("*")}, 2},
		{"batch writes", []Statement{reads, put, update("STATE#*", "RUN#*"), {Sid: "Batch", Effect: "Allow",
			Actions: []string{"dynamodb:BatchWriteItem"}, Resources: []string{"AuditTable.Arn"}}}, 1},
		{"all of dynamodb", []Statement{reads, put, update("STATE#*", "RUN#*"), {Sid: "Star", Effect: "Allow",
			Actions: []string{"dynamodb:*"}, Resources: []string{"AuditTable.Arn"}}}, 1},
		{"other tables are not the audit table", []Statement{reads, put, update("STATE#*", "RUN#*"), {Sid: "Policy",
			Effect: "Allow", Actions: []string{"dynamodb:*"}, Resources: []string{"PolicyTable.Arn"}}}, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := &recorder{TB: t}
			AppendOnly(r, "role", tc.sts, "AuditTable", mutable)
			if len(r.errs) != tc.errs {
				t.Errorf("%d errors, want %d: %q", len(r.errs), tc.errs, r.errs)
			}
		})
	}
}

func TestProtectedPathsDeny(t *testing.T) {
	actions := []string{"iam:UpdateAccessKey", "iam:DeleteAccessKey"}
	deny := func(resource any) Statement {
		return Statement{Sid: "Never", Effect: "Deny", Actions: actions, If: "HasProtectedPaths",
			Raw: map[string]any{"Resource": resource}}
	}
	built := func(delim string) map[string]any {
		return map[string]any{"Fn::Split": []any{",", map[string]any{"Fn::Sub": []any{
			"arn:*:iam::*:user${Paths}*",
			map[string]any{"Paths": map[string]any{"Fn::Join": []any{delim, "ProtectedPaths"}}},
		}}}}
	}
	for _, tc := range []struct {
		name string
		sts  []Statement
		errs int
	}{
		{"built from the parameter", []Statement{deny(built("*,arn:*:iam::*:user"))}, 0},
		{"wrong delimiter", []Statement{deny(built(","))}, 1},
		{"written out", []Statement{deny([]any{"arn:*:iam::*:user/breakglass/*", "arn:*:iam::*:user/svc/ci/*"})}, 1},
		{"no deny", nil, 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := &recorder{TB: t}
			ProtectedPathsDeny(r, "role", tc.sts, "HasProtectedPaths")
			if len(r.errs) != tc.errs {
				t.Errorf("%d errors, want %d: %q", len(r.errs), tc.errs, r.errs)
			}
		})
	}
}
