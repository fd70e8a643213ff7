package lambdatest

import (
	"errors"
	"fmt"
	"os"
	"sort"

	"gopkg.in/yaml.v3"
)

// ErrNoFunction is returned for a logical id that is not a function of the
// template.
var ErrNoFunction = errors.New("no such function in the template")

// Template is a SAM template read with its intrinsic functions kept: a
// short tag (!Ref X, !GetAtt A.B, !Sub s, !If [...]) reads as its long form
// ({"Ref": "X"}, {"Fn::GetAtt": "A.B"}, ...). Scalars read as strings, as
// CloudFormation passes them.
type Template struct {
	Parameters map[string]Parameter
	Conditions map[string]any
	// GlobalFunction is Globals.Function: what every function inherits.
	GlobalFunction map[string]any
	Resources      map[string]Resource
}

// Parameter is one template parameter.
type Parameter struct {
	Type    string
	Default string
	// HasDefault tells an empty default ("") from none.
	HasDefault bool
}

// Resource is one resource of the template.
type Resource struct {
	Type       string
	Condition  string
	Properties map[string]any
	Metadata   map[string]any
}

// ReadTemplate reads and parses the template at path.
func ReadTemplate(path string) (*Template, error) {
	raw, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read template: %w", err)
	}
	return ParseTemplate(raw)
}

// ParseTemplate parses a template's YAML.
func ParseTemplate(raw []byte) (*Template, error) {
	var doc yaml.Node
	if err := yaml.Unmarshal(raw, &doc); err != nil {
		return nil, fmt.Errorf("parse template: %w", err)
	}
	if len(doc.Content) == 0 {
		return nil, errors.New("parse template: empty document")
	}
	tree, err := fromNode(doc.Content[0])
	if err != nil {
		return nil, fmt.Errorf("parse template: %w", err)
	}
	top, ok := tree.(map[string]any)
	if !ok {
		return nil, errors.New("parse template: top level is not a mapping")
	}
	t := &Template{
		Parameters: map[string]Parameter{},
		Conditions: asMap(top["Conditions"]),
		Resources:  map[string]Resource{},
	}
	t.GlobalFunction = asMap(asMap(top["Globals"])["Function"])
	for name, v := range asMap(top["Parameters"]) {
		m := asMap(v)
		def, has := m["Default"]
		s, _ := def.(string)
		t.Parameters[name] = Parameter{Type: str(m["Type"]), Default: s, HasDefault: has}
	}
	for id, v := range asMap(top["Resources"]) {
		m := asMap(v)
		t.Resources[id] = Resource{
			Type:       str(m["Type"]),
			Condition:  str(m["Condition"]),
			Properties: asMap(m["Properties"]),
			Metadata:   asMap(m["Metadata"]),
		}
	}
	return t, nil
}

// Functions lists the logical ids of the template's functions, sorted.
func (t *Template) Functions() []string {
	var ids []string
	for id, r := range t.Resources {
		if r.Type == typeFunction {
			ids = append(ids, id)
		}
	}
	sort.Strings(ids)
	return ids
}

// FunctionProperties are a function's properties over Globals.Function, as
// SAM merges them: the function's own value wins, and Environment.Variables
// maps are merged key by key.
func (t *Template) FunctionProperties(id string) (map[string]any, error) {
	r, ok := t.Resources[id]
	if !ok || r.Type != typeFunction {
		return nil, fmt.Errorf("%w: %s (functions: %v)", ErrNoFunction, id, t.Functions())
	}
	out := map[string]any{}
	for k, v := range t.GlobalFunction {
		out[k] = v
	}
	for k, v := range r.Properties {
		out[k] = v
	}
	vars := map[string]any{}
	for _, src := range []map[string]any{t.GlobalFunction, r.Properties} {
		for k, v := range asMap(asMap(src["Environment"])["Variables"]) {
			vars[k] = v
		}
	}
	out["Environment"] = map[string]any{"Variables": vars}
	return out, nil
}

// Resource types the stack knows.
const (
	typeFunction = "AWS::Serverless::Function"
	typeTable    = "AWS::DynamoDB::Table"
	typeQueue    = "AWS::SQS::Queue"
	typeLogGroup = "AWS::Logs::LogGroup"
	typeTopic    = "AWS::SNS::Topic"
	typeBucket   = "AWS::S3::Bucket"
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

// fromNode turns a YAML node into maps, lists and strings, with each short
// tag as its long form.
func fromNode(n *yaml.Node) (any, error) {
	var v any
	switch n.Kind {
	case yaml.MappingNode:
		m := make(map[string]any, len(n.Content)/2)
		for i := 0; i+1 < len(n.Content); i += 2 {
			val, err := fromNode(n.Content[i+1])
			if err != nil {
				return nil, err
			}
			m[n.Content[i].Value] = val
		}
		v = m
	case yaml.SequenceNode:
		l := make([]any, len(n.Content))
		for i, c := range n.Content {
			val, err := fromNode(c)
			if err != nil {
				return nil, err
			}
			l[i] = val
		}
		v = l
	case yaml.AliasNode:
		return fromNode(n.Alias)
	case yaml.ScalarNode:
		if n.Tag == "!!null" {
			v = nil
		} else {
			v = n.Value
		}
	default:
		return nil, fmt.Errorf("line %d: unexpected YAML node", n.Line)
	}
	if n.Tag == "" || n.Tag[0] != '!' || len(n.Tag) > 1 && n.Tag[1] == '!' {
		return v, nil
	}
	fn, ok := shortTags[n.Tag]
	if !ok {
		return nil, fmt.Errorf("line %d: unknown tag %s", n.Line, n.Tag)
	}
	return map[string]any{fn: v}, nil
}

func asMap(v any) map[string]any {
	m, _ := v.(map[string]any)
	return m
}

func str(v any) string {
	s, _ := v.(string)
	return s
}
