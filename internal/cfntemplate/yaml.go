package cfntemplate

import (
	"errors"
	"fmt"
	"strings"

	"gopkg.in/yaml.v3"
)

// shortTags are the short forms of the intrinsic functions; !Ref and
// !Condition keep their names, every other is Fn::<Name>.
var shortTags = map[string]string{
	"!Ref": "Ref", "!Condition": "Condition",
	"!GetAtt": "Fn::GetAtt", "!Sub": "Fn::Sub", "!Join": "Fn::Join", "!If": "Fn::If",
	"!Equals": "Fn::Equals", "!Not": "Fn::Not", "!And": "Fn::And", "!Or": "Fn::Or",
	"!Select": "Fn::Select", "!Split": "Fn::Split", "!FindInMap": "Fn::FindInMap",
	"!GetAZs": "Fn::GetAZs", "!ImportValue": "Fn::ImportValue", "!Base64": "Fn::Base64",
	"!Cidr": "Fn::Cidr", "!Transform": "Fn::Transform",
	// Rule functions: read, never evaluated locally (CloudFormation checks
	// Rules before it makes anything).
	"!Contains": "Fn::Contains", "!EachMemberEquals": "Fn::EachMemberEquals", "!EachMemberIn": "Fn::EachMemberIn",
	"!RefAll": "Fn::RefAll", "!ValueOf": "Fn::ValueOf", "!ValueOfAll": "Fn::ValueOfAll",
}

// Parse reads a template's YAML with its intrinsic functions kept, for the
// Resolver: a short tag reads as its long form (!Ref X as {"Ref": "X"},
// !GetAtt A.B as {"Fn::GetAtt": "A.B"}, !If [...] as {"Fn::If": [...]}).
// Scalars read as strings, as CloudFormation passes them, and null as nil.
func Parse(raw []byte) (map[string]any, error) {
	return parse(raw, false)
}

func parse(raw []byte, plain bool) (map[string]any, error) {
	var doc yaml.Node
	if err := yaml.Unmarshal(raw, &doc); err != nil {
		return nil, err
	}
	if len(doc.Content) == 0 {
		return nil, errors.New("empty document")
	}
	tree, err := decode(doc.Content[0], plain)
	if err != nil {
		return nil, err
	}
	top, ok := tree.(map[string]any)
	if !ok {
		return nil, errors.New("top level is not a mapping")
	}
	return top, nil
}

// decode turns a YAML node into maps, lists and strings. A short tag over
// a list or a map reads as its long form; over a scalar it does too,
// unless plain (see Read), where it reads as the scalar.
func decode(n *yaml.Node, plain bool) (any, error) {
	var v any
	switch n.Kind {
	case yaml.MappingNode:
		m := make(map[string]any, len(n.Content)/2)
		for i := 0; i+1 < len(n.Content); i += 2 {
			val, err := decode(n.Content[i+1], plain)
			if err != nil {
				return nil, err
			}
			m[n.Content[i].Value] = val
		}
		v = m
	case yaml.SequenceNode:
		l := make([]any, len(n.Content))
		for i, c := range n.Content {
			val, err := decode(c, plain)
			if err != nil {
				return nil, err
			}
			l[i] = val
		}
		v = l
	case yaml.AliasNode:
		return decode(n.Alias, plain)
	case yaml.ScalarNode:
		v = n.Value
		if n.Tag == "!!null" && !plain {
			v = nil
		}
	default:
		return nil, fmt.Errorf("line %d: unexpected YAML node", n.Line)
	}
	if !strings.HasPrefix(n.Tag, "!") || strings.HasPrefix(n.Tag, "!!") {
		return v, nil
	}
	fn, ok := shortTags[n.Tag]
	if !ok {
		return nil, fmt.Errorf("line %d: unknown tag %s", n.Line, n.Tag)
	}
	if plain && n.Kind == yaml.ScalarNode {
		return v, nil
	}
	return map[string]any{fn: v}, nil
}
