package cfntemplate

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// fakeResources names every resource of the template after itself.
type fakeResources map[string]any

var _ Resources = fakeResources{}

func (f fakeResources) Ref(_ context.Context, id string) (string, error) {
	if _, ok := f[id]; !ok {
		return "", fmt.Errorf("no resource %s in the template", id)
	}
	return "phys-" + id, nil
}

func (f fakeResources) GetAtt(_ context.Context, id, attr string) (string, error) {
	if _, ok := f[id]; !ok {
		return "", fmt.Errorf("no resource %s in the template", id)
	}
	return fmt.Sprintf("%s-of-%s", attr, id), nil
}

const intrinsicTemplate = `
Conditions:
  IsOn: !Equals [!Ref Mode, "true"]
  IsOff: !Not [!Condition IsOn]
  Both: !And [!Condition IsOn, !Equals [!Ref Name, keysweep]]
  Either: !Or [!Condition IsOn, !Equals [!Ref Name, keysweep]]
Resources:
  Table: {Type: AWS::DynamoDB::Table}
`

// newTestResolver resolves intrinsicTemplate with its parameters Mode
// ("false"), Name ("keysweep") and Empty (""), as overridden.
func newTestResolver(t *testing.T, overrides map[string]any) *Resolver {
	t.Helper()
	tmpl, err := Parse([]byte(intrinsicTemplate))
	if err != nil {
		t.Fatal(err)
	}
	params := map[string]any{"Mode": "false", "Name": "keysweep", "Empty": "", "AWS::Region": "us-east-1"}
	maps.Copy(params, overrides)
	return &Resolver{Params: params, Conditions: asMap(tmpl["Conditions"]), Resources: fakeResources(asMap(tmpl["Resources"]))}
}

// parseExpr parses one YAML value with the template's tags.
func parseExpr(t *testing.T, expr string) any {
	t.Helper()
	top, err := Parse([]byte("V: " + expr + "\n"))
	if err != nil {
		t.Fatalf("%s: %v", expr, err)
	}
	return top["V"]
}

func TestResolve(t *testing.T) {
	tests := []struct {
		name   string
		expr   string
		params map[string]any
		want   any
	}{
		{"plain", `plain`, nil, "plain"},
		{"number stays text", `42`, nil, "42"},
		{"ref parameter", `!Ref Name`, nil, "keysweep"},
		{"ref empty default", `!Ref Empty`, nil, ""},
		{"ref parameter override", `!Ref Name`, map[string]any{"Name": "other"}, "other"},
		{"ref resource", `!Ref Table`, nil, "phys-Table"},
		{"ref pseudo", `!Ref AWS::Region`, nil, "us-east-1"},
		{"getatt", `!GetAtt Table.Arn`, nil, "Arn-of-Table"},
		{"getatt long form", `{"Fn::GetAtt": [Table, StreamArn]}`, nil, "StreamArn-of-Table"},
		{"sub", `!Sub "arn:${AWS::Region}:${Table}/${Table.Arn}/index/*"`, nil, "arn:us-east-1:phys-Table/Arn-of-Table/index/*"},
		{"sub literal", `!Sub "${!Literal}-${Name}"`, nil, "${Literal}-keysweep"},
		{"sub variables", `!Sub ["${A}-${Name}", {A: !Ref Table}]`, nil, "phys-Table-keysweep"},
		{"join", `!Join ["/", [a, !Ref Name]]`, nil, "a/keysweep"},
		{"join a list parameter", `!Join [",", !Ref Paths]`, map[string]any{"Paths": []string{"/a/", "/b/"}}, "/a/,/b/"},
		{"split", `!Split [",", !Sub "a,${Name}"]`, nil, []any{"a", "keysweep"}},
		{"select", `!Select [1, [a, b]]`, nil, "b"},
		{"if false", `!If [IsOn, yes, no]`, nil, "no"},
		{"if true", `!If [IsOn, yes, no]`, map[string]any{"Mode": "true"}, "yes"},
		{"if not", `!If [IsOff, yes, no]`, nil, "yes"},
		{"and", `!If [Both, yes, no]`, map[string]any{"Mode": "true"}, "yes"},
		{"or", `!If [Either, yes, no]`, nil, "yes"},
		{"no value drops the key", `{a: x, b: !Ref AWS::NoValue}`, nil, map[string]any{"a": "x"}},
		{"no value drops the item", `[x, !If [IsOn, y, !Ref AWS::NoValue]]`, nil, []any{"x"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := newTestResolver(t, tc.params)
			got, err := r.Resolve(t.Context(), parseExpr(t, tc.expr))
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
		})
	}
}

func TestResolveRefuses(t *testing.T) {
	for _, expr := range []string{`!Ref Nothing`, `!FindInMap [M, a, b]`, `!Sub "${Unclosed"`, `!GetAtt NoDot`, `!If [NoSuchCondition, a, b]`} {
		t.Run(expr, func(t *testing.T) {
			r := newTestResolver(t, nil)
			if got, err := r.Resolve(t.Context(), parseExpr(t, expr)); err == nil {
				t.Errorf("resolved to %v; want an error", got)
			}
		})
	}
	r := newTestResolver(t, nil)
	if _, err := r.Resolve(t.Context(), parseExpr(t, `!Base64 x`)); !errors.Is(err, ErrUnsupported) {
		t.Errorf("!Base64: %v; want ErrUnsupported", err)
	}
}

// TestResolvePlainRefs resolves values as Read reads them, where !Ref P is
// "P": the shape of the protected-paths Deny in the templates.
func TestResolvePlainRefs(t *testing.T) {
	deny := map[string]any{"Fn::Split": []any{",", map[string]any{"Fn::Sub": []any{
		"arn:*:iam::*:user${Paths}*",
		map[string]any{"Paths": map[string]any{"Fn::Join": []any{"*,arn:*:iam::*:user", "ProtectedPaths"}}},
	}}}}
	for _, tc := range []struct {
		paths []string
		want  []any
	}{
		{[]string{"/breakglass/"}, []any{"arn:*:iam::*:user/breakglass/*"}},
		{[]string{"/a/", "/b/c/"}, []any{"arn:*:iam::*:user/a/*", "arn:*:iam::*:user/b/c/*"}},
	} {
		r := &Resolver{Params: map[string]any{"ProtectedPaths": tc.paths}, PlainRefs: true}
		got, err := r.Resolve(t.Context(), deny)
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(tc.want, got); diff != "" {
			t.Errorf("%v (-want +got):\n%s", tc.paths, diff)
		}
	}
	r := &Resolver{Params: map[string]any{"AWS::Partition": "aws-cn"}, PlainRefs: true}
	got, err := r.Resolve(t.Context(), map[string]any{"Fn::Sub": "arn:${AWS::Partition}:x"})
	if err != nil || got != "arn:aws-cn:x" {
		t.Errorf("Fn::Sub: %v, %v", got, err)
	}
	r = &Resolver{PlainRefs: true}
	if _, err := r.Resolve(t.Context(), map[string]any{"Fn::Sub": "${Missing}"}); err == nil {
		t.Error("Fn::Sub of an unknown name: no error")
	}
}
