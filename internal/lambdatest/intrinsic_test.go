package lambdatest

import (
	"context"
	"errors"
	"fmt"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// fakeResources names every resource after itself.
type fakeResources struct{}

var _ resources = fakeResources{}

func (fakeResources) ref(_ context.Context, id string) (string, error) { return "phys-" + id, nil }

func (fakeResources) getAtt(_ context.Context, id, attr string) (string, error) {
	return fmt.Sprintf("%s-of-%s", attr, id), nil
}

const intrinsicTemplate = `
Parameters:
  Mode: {Type: String, Default: "false"}
  Name: {Type: String, Default: keysweep}
  Empty: {Type: String, Default: ""}
Conditions:
  IsOn: !Equals [!Ref Mode, "true"]
  IsOff: !Not [!Condition IsOn]
  Both: !And [!Condition IsOn, !Equals [!Ref Name, keysweep]]
  Either: !Or [!Condition IsOn, !Equals [!Ref Name, keysweep]]
Resources:
  Table: {Type: AWS::DynamoDB::Table}
`

func TestResolve(t *testing.T) {
	tmpl, err := ParseTemplate([]byte(intrinsicTemplate))
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name   string
		expr   string
		params map[string]string
		want   any
	}{
		{"plain", `plain`, nil, "plain"},
		{"number stays text", `42`, nil, "42"},
		{"ref parameter", `!Ref Name`, nil, "keysweep"},
		{"ref empty default", `!Ref Empty`, nil, ""},
		{"ref parameter override", `!Ref Name`, map[string]string{"Name": "other"}, "other"},
		{"ref resource", `!Ref Table`, nil, "phys-Table"},
		{"ref pseudo", `!Ref AWS::Region`, nil, "us-east-1"},
		{"getatt", `!GetAtt Table.Arn`, nil, "Arn-of-Table"},
		{"getatt long form", `{"Fn::GetAtt": [Table, StreamArn]}`, nil, "StreamArn-of-Table"},
		{"sub", `!Sub "arn:${AWS::Region}:${Table}/${Table.Arn}/index/*"`, nil, "arn:us-east-1:phys-Table/Arn-of-Table/index/*"},
		{"sub literal", `!Sub "${!Literal}-${Name}"`, nil, "${Literal}-keysweep"},
		{"sub variables", `!Sub ["${A}-${Name}", {A: !Ref Table}]`, nil, "phys-Table-keysweep"},
		{"join", `!Join ["/", [a, !Ref Name]]`, nil, "a/keysweep"},
		{"select", `!Select [1, [a, b]]`, nil, "b"},
		{"if false", `!If [IsOn, yes, no]`, nil, "no"},
		{"if true", `!If [IsOn, yes, no]`, map[string]string{"Mode": "true"}, "yes"},
		{"if not", `!If [IsOff, yes, no]`, nil, "yes"},
		{"and", `!If [Both, yes, no]`, map[string]string{"Mode": "true"}, "yes"},
		{"or", `!If [Either, yes, no]`, nil, "yes"},
		{"no value drops the key", `{a: x, b: !Ref AWS::NoValue}`, nil, map[string]any{"a": "x"}},
		{"no value drops the item", `[x, !If [IsOn, y, !Ref AWS::NoValue]]`, nil, []any{"x"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := newTestResolver(t, tmpl, tc.params)
			got, err := r.resolve(t.Context(), parseExpr(t, tc.expr))
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
	tmpl, err := ParseTemplate([]byte(intrinsicTemplate))
	if err != nil {
		t.Fatal(err)
	}
	for _, expr := range []string{`!Ref Nothing`, `!FindInMap [M, a, b]`, `!Sub "${Unclosed"`, `!GetAtt NoDot`, `!If [NoSuchCondition, a, b]`} {
		t.Run(expr, func(t *testing.T) {
			r := newTestResolver(t, tmpl, nil)
			if got, err := r.resolve(t.Context(), parseExpr(t, expr)); err == nil {
				t.Errorf("resolved to %v; want an error", got)
			}
		})
	}
	r := newTestResolver(t, tmpl, nil)
	if _, err := r.resolve(t.Context(), parseExpr(t, `!Base64 x`)); !errors.Is(err, ErrUnsupported) {
		t.Errorf("!Base64: %v; want ErrUnsupported", err)
	}
	if _, err := parameterValues(tmpl, map[string]string{"Mdoe": "true"}); err == nil {
		t.Error("an override of no parameter was accepted")
	}
}

func newTestResolver(t *testing.T, tmpl *Template, overrides map[string]string) *resolver {
	t.Helper()
	params, err := parameterValues(tmpl, overrides)
	if err != nil {
		t.Fatal(err)
	}
	params["AWS::Region"] = "us-east-1"
	return &resolver{tmpl: tmpl, params: params, res: fakeResources{}}
}

// parseExpr parses one YAML value with the template's tags.
func parseExpr(t *testing.T, expr string) any {
	t.Helper()
	tmpl, err := ParseTemplate([]byte("Resources:\n  X:\n    Properties:\n      V: " + expr + "\n"))
	if err != nil {
		t.Fatalf("%s: %v", expr, err)
	}
	return tmpl.Resources["X"].Properties["V"]
}
