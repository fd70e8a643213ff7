package cfntemplate

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
)

// ErrUnsupported is returned for an intrinsic function, or a condition
// function, the Resolver does not know: add it here rather than guess.
var ErrUnsupported = errors.New("unsupported by the local stack")

// Resources gives a stack's resources their values for Ref and
// Fn::GetAtt; each fails for an id the template does not have.
type Resources interface {
	Ref(ctx context.Context, id string) (string, error)
	GetAtt(ctx context.Context, id, attr string) (string, error)
}

// Resolver evaluates the intrinsic functions and conditions of a template
// read by Parse (long forms) against parameter values and a stack's
// resources. The zero value resolves no names; set what the template
// needs. It is not safe for concurrent use: it remembers the conditions it
// has evaluated.
type Resolver struct {
	// Params are the parameters' values (a string, or a []string for a
	// CommaDelimitedList) and the pseudo parameters (AWS::Region, ...).
	Params map[string]any
	// Conditions are the template's Conditions section.
	Conditions map[string]any
	// Resources answers the names that are not parameters; nil: none.
	Resources Resources
	// PlainRefs is for a tree read by Read, where !Ref P reads as "P": a
	// string where Fn::Join wants a list names a list parameter.
	PlainRefs bool

	conds map[string]bool
}

// noValue is what {"Ref": "AWS::NoValue"} resolves to: the property is
// left out.
type noValue struct{}

// Resolve returns v with every intrinsic function evaluated.
func (r *Resolver) Resolve(ctx context.Context, v any) (any, error) {
	switch x := v.(type) {
	case []any:
		out := make([]any, 0, len(x))
		for i, e := range x {
			val, err := r.Resolve(ctx, e)
			if err != nil {
				return nil, fmt.Errorf("[%d]: %w", i, err)
			}
			if _, skip := val.(noValue); !skip {
				out = append(out, val)
			}
		}
		return out, nil
	case map[string]any:
		if fn, arg, ok := intrinsic(x); ok {
			return r.call(ctx, fn, arg)
		}
		out := make(map[string]any, len(x))
		for k, e := range x {
			val, err := r.Resolve(ctx, e)
			if err != nil {
				return nil, fmt.Errorf("%s: %w", k, err)
			}
			if _, skip := val.(noValue); !skip {
				out[k] = val
			}
		}
		return out, nil
	}
	return v, nil
}

// ResolveString resolves v and requires a string.
func (r *Resolver) ResolveString(ctx context.Context, v any) (string, error) {
	val, err := r.Resolve(ctx, v)
	if err != nil {
		return "", err
	}
	return wantString(val)
}

// Ref is what {"Ref": name} gives: a parameter's value or a resource's
// Ref, as a string.
func (r *Resolver) Ref(ctx context.Context, name string) (string, error) {
	v, err := r.ref(ctx, name)
	if err != nil {
		return "", err
	}
	s, ok := v.(string)
	if !ok {
		return "", fmt.Errorf("Ref %s: no value", name)
	}
	return s, nil
}

func wantString(v any) (string, error) {
	s, ok := v.(string)
	if !ok {
		return "", fmt.Errorf("want a string, got %T", v)
	}
	return s, nil
}

// intrinsic tells whether m is a function call: one key, Ref or Fn::*.
func intrinsic(m map[string]any) (fn string, arg any, ok bool) {
	if len(m) != 1 {
		return "", nil, false
	}
	for k, v := range m {
		if k == "Ref" || strings.HasPrefix(k, "Fn::") {
			return k, v, true
		}
	}
	return "", nil, false
}

func (r *Resolver) call(ctx context.Context, fn string, arg any) (any, error) {
	switch fn {
	case "Ref":
		name, ok := arg.(string)
		if !ok {
			return nil, fmt.Errorf("Ref: want a name, got %T", arg)
		}
		return r.ref(ctx, name)
	case "Fn::GetAtt":
		id, attr, err := getAttArgs(arg)
		if err != nil {
			return nil, err
		}
		return r.getAtt(ctx, id, attr)
	case "Fn::Sub":
		return r.sub(ctx, arg)
	case "Fn::Join":
		return r.join(ctx, arg)
	case "Fn::Split":
		return r.split(ctx, arg)
	case "Fn::If":
		args, ok := arg.([]any)
		if !ok || len(args) != 3 {
			return nil, errors.New("Fn::If: want [condition, then, else]")
		}
		yes, err := r.Condition(ctx, str(args[0]))
		if err != nil {
			return nil, err
		}
		if yes {
			return r.Resolve(ctx, args[1])
		}
		return r.Resolve(ctx, args[2])
	case "Fn::Select":
		return r.selectFn(ctx, arg)
	}
	return nil, fmt.Errorf("%w: intrinsic function %s", ErrUnsupported, fn)
}

func (r *Resolver) ref(ctx context.Context, name string) (any, error) {
	if name == "AWS::NoValue" {
		return noValue{}, nil
	}
	if v, ok := r.Params[name]; ok {
		return v, nil
	}
	if r.Resources == nil {
		return nil, fmt.Errorf("Ref %s: no parameter or resource of that name", name)
	}
	return r.Resources.Ref(ctx, name)
}

func (r *Resolver) getAtt(ctx context.Context, id, attr string) (string, error) {
	if r.Resources == nil {
		return "", fmt.Errorf("Fn::GetAtt %s.%s: no resource of that name", id, attr)
	}
	return r.Resources.GetAtt(ctx, id, attr)
}

func getAttArgs(arg any) (id, attr string, err error) {
	switch x := arg.(type) {
	case string:
		id, attr, ok := strings.Cut(x, ".")
		if ok {
			return id, attr, nil
		}
	case []any:
		if len(x) == 2 && str(x[0]) != "" && str(x[1]) != "" {
			return str(x[0]), str(x[1]), nil
		}
	}
	return "", "", fmt.Errorf("Fn::GetAtt: want Resource.Attribute, got %v", arg)
}

// sub evaluates Fn::Sub: "text ${Name} ${Resource.Attr} ${!Literal}", or
// [text, {Name: value}].
func (r *Resolver) sub(ctx context.Context, arg any) (any, error) {
	text, vars := "", map[string]any{}
	switch x := arg.(type) {
	case string:
		text = x
	case []any:
		if len(x) != 2 {
			return nil, errors.New("Fn::Sub: want a string or [string, variables]")
		}
		text, vars = str(x[0]), asMap(x[1])
	default:
		return nil, fmt.Errorf("Fn::Sub: want a string, got %T", arg)
	}
	var b strings.Builder
	for {
		start := strings.Index(text, "${")
		if start < 0 {
			b.WriteString(text)
			return b.String(), nil
		}
		end := strings.Index(text[start:], "}")
		if end < 0 {
			return nil, fmt.Errorf("Fn::Sub: unclosed ${ in %q", text)
		}
		b.WriteString(text[:start])
		name := text[start+2 : start+end]
		text = text[start+end+1:]
		if lit, ok := strings.CutPrefix(name, "!"); ok {
			b.WriteString("${" + lit + "}")
			continue
		}
		val, err := r.subVar(ctx, name, vars)
		if err != nil {
			return nil, fmt.Errorf("Fn::Sub ${%s}: %w", name, err)
		}
		b.WriteString(val)
	}
}

func (r *Resolver) subVar(ctx context.Context, name string, vars map[string]any) (string, error) {
	if v, ok := vars[name]; ok {
		return r.ResolveString(ctx, v)
	}
	if id, attr, ok := strings.Cut(name, "."); ok {
		return r.getAtt(ctx, id, attr)
	}
	v, err := r.ref(ctx, name)
	if err != nil {
		return "", err
	}
	return wantString(v)
}

func (r *Resolver) join(ctx context.Context, arg any) (any, error) {
	args, ok := arg.([]any)
	if !ok || len(args) != 2 {
		return nil, errors.New("Fn::Join: want [delimiter, list]")
	}
	list, err := r.Resolve(ctx, args[1])
	if err != nil {
		return nil, err
	}
	if name, ok := list.(string); ok && r.PlainRefs {
		if list, ok = r.Params[name].([]string); !ok {
			return nil, fmt.Errorf("Fn::Join: no list parameter %s", name)
		}
	}
	var parts []string
	switch items := list.(type) {
	case []string:
		parts = items
	case []any:
		parts = make([]string, len(items))
		for i, it := range items {
			s, ok := it.(string)
			if !ok {
				return nil, fmt.Errorf("Fn::Join: item %d is a %T", i, it)
			}
			parts[i] = s
		}
	default:
		return nil, errors.New("Fn::Join: second argument is not a list")
	}
	return strings.Join(parts, str(args[0])), nil
}

// split evaluates Fn::Split [delimiter, string] to a list of strings.
func (r *Resolver) split(ctx context.Context, arg any) (any, error) {
	args, ok := arg.([]any)
	if !ok || len(args) != 2 {
		return nil, errors.New("Fn::Split: want [delimiter, string]")
	}
	s, err := r.ResolveString(ctx, args[1])
	if err != nil {
		return nil, fmt.Errorf("Fn::Split: %w", err)
	}
	parts := strings.Split(s, str(args[0]))
	out := make([]any, len(parts))
	for i, p := range parts {
		out[i] = p
	}
	return out, nil
}

func (r *Resolver) selectFn(ctx context.Context, arg any) (any, error) {
	args, ok := arg.([]any)
	if !ok || len(args) != 2 {
		return nil, errors.New("Fn::Select: want [index, list]")
	}
	idx, err := r.ResolveString(ctx, args[0])
	if err != nil {
		return nil, err
	}
	i, err := strconv.Atoi(idx)
	if err != nil {
		return nil, fmt.Errorf("Fn::Select: index %q", idx)
	}
	list, err := r.Resolve(ctx, args[1])
	if err != nil {
		return nil, err
	}
	items, ok := list.([]any)
	if !ok || i < 0 || i >= len(items) {
		return nil, fmt.Errorf("Fn::Select: no item %d", i)
	}
	return items[i], nil
}

func asMap(v any) map[string]any {
	m, _ := v.(map[string]any)
	return m
}

func str(v any) string {
	s, _ := v.(string)
	return s
}
