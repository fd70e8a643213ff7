package cfntemplate

import (
	"slices"
	"testing"
)

// Statement is one statement of an IAM policy in a template.
type Statement struct {
	Sid       string
	Effect    string
	Actions   []string
	Resources []string
	// Condition is the statement's IAM condition block as read (nil when
	// it has none): operator, then key, then value or values.
	Condition map[string]any
	// If is the template condition the statement exists under: the
	// condition of an !If around it ("!" before it for the else branch),
	// or the Condition of the AWS::IAM::Policy resource holding it. Empty
	// when the statement is always there.
	If string
	// Raw is the statement as read, for what the fields above flatten
	// (a Resource built with !Split, say).
	Raw map[string]any
}

// Statements are the statements of a role's inline policies (the Policies
// of a function or a role: policy documents, or PolicyName and
// PolicyDocument pairs), in order, those under an !If included.
func Statements(t testing.TB, policies any) []Statement {
	t.Helper()
	var out []Statement
	list, _ := policies.([]any)
	for _, p := range list {
		doc := p
		if m, ok := p.(map[string]any); ok && m["PolicyDocument"] != nil {
			doc = m["PolicyDocument"]
		}
		out = append(out, DocStatements(t, doc, "")...)
	}
	return out
}

// DocStatements are the statements of one policy document; cond is the
// template condition the whole document exists under, if any.
func DocStatements(t testing.TB, doc any, cond string) []Statement {
	t.Helper()
	var out []Statement
	list, _ := Dig(t, doc, "Statement").([]any)
	for _, raw := range list {
		for _, b := range branches(raw, cond) {
			st, ok := b.v.(map[string]any)
			if !ok {
				continue // the else branch AWS::NoValue
			}
			c, _ := st["Condition"].(map[string]any)
			sid, _ := st["Sid"].(string)
			effect, _ := st["Effect"].(string)
			out = append(out, Statement{
				Sid: sid, Effect: effect,
				Actions:   strsOnly(st["Action"]),
				Resources: strsOnly(st["Resource"]),
				Condition: c, If: b.cond, Raw: st,
			})
		}
	}
	return out
}

type branch struct {
	v    any
	cond string
}

// branches unwraps Fn::If: a value, or both branches of each condition
// around it, with the condition each one exists under.
func branches(v any, cond string) []branch {
	m, ok := v.(map[string]any)
	if !ok || len(m) != 1 {
		return []branch{{v, cond}}
	}
	args, ok := m["Fn::If"].([]any)
	if !ok || len(args) != 3 {
		return []branch{{v, cond}}
	}
	name, _ := args[0].(string)
	join := func(c string) string {
		if cond == "" {
			return c
		}
		return cond + " && " + c
	}
	return append(branches(args[1], join(name)), branches(args[2], join("!"+name))...)
}

// AttachedStatements are the statements of every AWS::IAM::Policy among
// the template's resources that is attached to the role (Roles: !Ref
// role), each with the policy resource's Condition as its If.
func AttachedStatements(t testing.TB, resources map[string]any, role string) []Statement {
	t.Helper()
	var names []string
	for name := range resources {
		names = append(names, name)
	}
	slices.Sort(names)
	var out []Statement
	for _, name := range names {
		res := resources[name]
		if Dig(t, res, "Type") != "AWS::IAM::Policy" ||
			!slices.Contains(Strs(Dig(t, res, "Properties", "Roles")), role) {
			continue
		}
		cond, _ := Dig(t, res, "Condition").(string)
		out = append(out, DocStatements(t, Dig(t, res, "Properties", "PolicyDocument"), cond)...)
	}
	return out
}

// ConditionValues are the values a statement's IAM condition gives the key
// under the operator ("StringEquals", "ForAllValues:StringLike", ...).
func (s Statement) ConditionValues(operator, key string) []string {
	ops, _ := s.Condition[operator].(map[string]any)
	return Strs(ops[key])
}

// strsOnly is Strs of a string or a list of nothing but strings, and nil
// for anything built with a function (a !Split, say): read Raw for those.
func strsOnly(v any) []string {
	if l, ok := v.([]any); ok {
		for _, e := range l {
			if _, ok := e.(string); !ok {
				return nil
			}
		}
	}
	return Strs(v)
}
