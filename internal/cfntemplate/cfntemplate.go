// Package cfntemplate reads CloudFormation and SAM templates in tests, so
// that tests can hold a template to what the code needs where cfn-lint
// cannot see it (the rights a role grants, the settings of a trigger).
//
// Read gives a template as plain values for such checks; Parse keeps its
// intrinsic functions, and a Resolver evaluates them against parameter
// values and a stack's resources. internal/lambdatest's local stack
// resolves templates with the same Resolver.
package cfntemplate

import (
	"os"
	"strconv"
	"testing"
)

// Read reads the template at path as plain maps, lists and strings: a
// CloudFormation short tag over a scalar reads as the scalar (!Ref X as
// "X", !GetAtt T.Arn as "T.Arn", !Sub "a${B}" as "a${B}"); over a list or
// a map it reads as its long form ({"Fn::If": [condition, then, else]},
// {"Fn::Split": ...}), so that a value built by a function is not mistaken
// for a literal list. A null reads as its text. Parse keeps every function.
func Read(t testing.TB, path string) map[string]any {
	t.Helper()
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	top, err := parse(raw, true)
	if err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	return top
}

// Dig follows keys (map keys, or list indexes as numbers) into v; a
// missing map key gives nil.
func Dig(t testing.TB, v any, path ...string) any {
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

// Strs is a string or a list's strings, as a list.
func Strs(v any) []string {
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

// Actions are the actions a role's inline policies (Policies of a
// function or a role) allow, in order, those under a condition included.
func Actions(t testing.TB, policies any) []string {
	t.Helper()
	var out []string
	for _, st := range Statements(t, policies) {
		if st.Effect == "Allow" {
			out = append(out, st.Actions...)
		}
	}
	return out
}
