package cfntemplate

import (
	"fmt"
	"testing"

	"github.com/google/go-cmp/cmp"
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

func TestEval(t *testing.T) {
	// The shape of the protected-paths Deny in the templates.
	deny := map[string]any{"Fn::Split": []any{",", map[string]any{"Fn::Sub": []any{
		"arn:*:iam::*:user${Paths}*",
		map[string]any{"Paths": map[string]any{"Fn::Join": []any{"*,arn:*:iam::*:user", "ProtectedPaths"}}},
	}}}}
	for _, tc := range []struct {
		paths []string
		want  []string
	}{
		{[]string{"/breakglass/"}, []string{"arn:*:iam::*:user/breakglass/*"}},
		{[]string{"/a/", "/b/c/"}, []string{"arn:*:iam::*:user/a/*", "arn:*:iam::*:user/b/c/*"}},
	} {
		got, err := Eval(deny, map[string]any{"ProtectedPaths": tc.paths})
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(tc.want, got); diff != "" {
			t.Errorf("%v (-want +got):\n%s", tc.paths, diff)
		}
	}
	got, err := Eval(map[string]any{"Fn::Sub": "arn:${AWS::Partition}:x"}, map[string]any{"AWS::Partition": "aws-cn"})
	if err != nil || got != "arn:aws-cn:x" {
		t.Errorf("Fn::Sub: %v, %v", got, err)
	}
	if _, err := Eval(map[string]any{"Fn::Sub": "${Missing}"}, nil); err == nil {
		t.Error("Fn::Sub of an unknown name: no error")
	}
}
