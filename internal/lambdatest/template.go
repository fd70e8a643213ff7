package lambdatest

import (
	"errors"
	"fmt"
	"os"
	"sort"
	"strings"

	"github.com/keysweep/keysweep/internal/cfntemplate"
)

// ErrNoFunction is returned for a logical id that is not a function of the
// template.
var ErrNoFunction = errors.New("no such function in the template")

// ErrUnsupported is returned for an intrinsic function, or a resource
// type, the local stack does not know: add it rather than guess. It is
// cfntemplate's, which resolves the functions.
var ErrUnsupported = cfntemplate.ErrUnsupported

// Template is a SAM template read with its intrinsic functions kept
// (cfntemplate.Parse): a short tag (!Ref X, !GetAtt A.B, !Sub s, !If [...])
// reads as its long form ({"Ref": "X"}, {"Fn::GetAtt": "A.B"}, ...).
// Scalars read as strings, as CloudFormation passes them.
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

// ParseTemplate parses a template's YAML (cfntemplate.Parse).
func ParseTemplate(raw []byte) (*Template, error) {
	top, err := cfntemplate.Parse(raw)
	if err != nil {
		return nil, fmt.Errorf("parse template: %w", err)
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

func asMap(v any) map[string]any {
	m, _ := v.(map[string]any)
	return m
}

func str(v any) string {
	s, _ := v.(string)
	return s
}

// parameterValues are the template's defaults with overrides applied; a
// parameter without either is an error, as in CloudFormation. An override
// for no parameter is an error too: it is a typo.
func parameterValues(t *Template, overrides map[string]string) (map[string]any, error) {
	out := map[string]any{}
	for name, p := range t.Parameters {
		if p.HasDefault {
			out[name] = p.Default
		}
	}
	var unknown []string
	for name, v := range overrides {
		if _, ok := t.Parameters[name]; !ok {
			unknown = append(unknown, name)
			continue
		}
		out[name] = v
	}
	if len(unknown) > 0 {
		sort.Strings(unknown)
		return nil, fmt.Errorf("no such template parameter: %s", strings.Join(unknown, ", "))
	}
	var missing []string
	for name := range t.Parameters {
		if _, ok := out[name]; !ok {
			missing = append(missing, name)
		}
	}
	if len(missing) > 0 {
		sort.Strings(missing)
		return nil, fmt.Errorf("template parameters without a value: %s", strings.Join(missing, ", "))
	}
	return out, nil
}
