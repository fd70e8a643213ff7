// Package cfntemplate reads CloudFormation and SAM templates in tests, so
// that tests can hold a template to what the code needs where cfn-lint
// cannot see it (the rights a role grants, the settings of a trigger).
package cfntemplate

import (
	"os"
	"strconv"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"
)

// plain turns a YAML node into maps, lists and strings. A CloudFormation
// short tag over a scalar reads as the scalar (!Ref X as "X", !GetAtt T.Arn
// as "T.Arn", !Sub "a${B}" as "a${B}"); over a list or a map it reads as
// its long form ({"Fn::If": [condition, then, else]}, {"Fn::Split": ...}),
// so that a value built by a function is not mistaken for a literal list.
func plain(n *yaml.Node) any {
	if strings.HasPrefix(n.Tag, "!") && !strings.HasPrefix(n.Tag, "!!") &&
		(n.Kind == yaml.SequenceNode || n.Kind == yaml.MappingNode) {
		c := *n
		c.Tag = ""
		return map[string]any{"Fn::" + strings.TrimPrefix(n.Tag, "!"): plain(&c)}
	}
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

// Read reads the template at path as plain maps, lists and strings.
func Read(t testing.TB, path string) map[string]any {
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
