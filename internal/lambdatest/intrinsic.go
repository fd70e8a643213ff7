package lambdatest

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strconv"
	"strings"
)

// ErrUnsupported is returned for an intrinsic function, or a resource
// type, the resolver does not know: add it here rather than guess.
var ErrUnsupported = errors.New("unsupported by the local stack")

// noValue is what {"Ref": "AWS::NoValue"} resolves to: the property is
// left out.
type noValue struct{}

// resources gives the template's resources their local values.
type resources interface {
	ref(ctx context.Context, id string) (string, error)
	getAtt(ctx context.Context, id, attr string) (string, error)
}

// resolver evaluates intrinsic functions and conditions against parameter
// values and a stack's resources.
type resolver struct {
	tmpl *Template
	// params are the parameter values (defaults applied) and the pseudo
	// parameters (AWS::Region, ...).
	params map[string]string
	res    resources
	conds  map[string]bool
}

// resolve returns v with every intrinsic function evaluated.
func (r *resolver) resolve(ctx context.Context, v any) (any, error) {
	switch x := v.(type) {
	case []any:
		out := make([]any, 0, len(x))
		for i, e := range x {
			val, err := r.resolve(ctx, e)
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
			val, err := r.resolve(ctx, e)
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

// resolveString resolves v and requires a string.
func (r *resolver) resolveString(ctx context.Context, v any) (string, error) {
	val, err := r.resolve(ctx, v)
	if err != nil {
		return "", err
	}
	s, ok := val.(string)
	if !ok {
		return "", fmt.Errorf("want a string, got %T", val)
	}
	return s, nil
}

func (r *resolver) call(ctx context.Context, fn string, arg any) (any, error) {
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
		return r.res.getAtt(ctx, id, attr)
	case "Fn::Sub":
		return r.sub(ctx, arg)
	case "Fn::Join":
		return r.join(ctx, arg)
	case "Fn::If":
		args, ok := arg.([]any)
		if !ok || len(args) != 3 {
			return nil, errors.New("Fn::If: want [condition, then, else]")
		}
		yes, err := r.condition(ctx, str(args[0]))
		if err != nil {
			return nil, err
		}
		if yes {
			return r.resolve(ctx, args[1])
		}
		return r.resolve(ctx, args[2])
	case "Fn::Select":
		return r.selectFn(ctx, arg)
	}
	return nil, fmt.Errorf("%w: intrinsic function %s", ErrUnsupported, fn)
}

func (r *resolver) ref(ctx context.Context, name string) (any, error) {
	if name == "AWS::NoValue" {
		return noValue{}, nil
	}
	if v, ok := r.params[name]; ok {
		return v, nil
	}
	if _, ok := r.tmpl.Resources[name]; ok {
		return r.res.ref(ctx, name)
	}
	return nil, fmt.Errorf("Ref %s: no parameter or resource of that name", name)
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
func (r *resolver) sub(ctx context.Context, arg any) (any, error) {
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

func (r *resolver) subVar(ctx context.Context, name string, vars map[string]any) (string, error) {
	if v, ok := vars[name]; ok {
		return r.resolveString(ctx, v)
	}
	if id, attr, ok := strings.Cut(name, "."); ok {
		return r.res.getAtt(ctx, id, attr)
	}
	v, err := r.ref(ctx, name)
	if err != nil {
		return "", err
	}
	s, ok := v.(string)
	if !ok {
		return "", fmt.Errorf("want a string, got %T", v)
	}
	return s, nil
}

func (r *resolver) join(ctx context.Context, arg any) (any, error) {
	args, ok := arg.([]any)
	if !ok || len(args) != 2 {
		return nil, errors.New("Fn::Join: want [delimiter, list]")
	}
	list, err := r.resolve(ctx, args[1])
	if err != nil {
		return nil, err
	}
	items, ok := list.([]any)
	if !ok {
		return nil, errors.New("Fn::Join: second argument is not a list")
	}
	parts := make([]string, len(items))
	for i, it := range items {
		s, ok := it.(string)
		if !ok {
			return nil, fmt.Errorf("Fn::Join: item %d is a %T", i, it)
		}
		parts[i] = s
	}
	return strings.Join(parts, str(args[0])), nil
}

func (r *resolver) selectFn(ctx context.Context, arg any) (any, error) {
	args, ok := arg.([]any)
	if !ok || len(args) != 2 {
		return nil, errors.New("Fn::Select: want [index, list]")
	}
	idx, err := r.resolveString(ctx, args[0])
	if err != nil {
		return nil, err
	}
	i, err := strconv.Atoi(idx)
	if err != nil {
		return nil, fmt.Errorf("Fn::Select: index %q", idx)
	}
	list, err := r.resolve(ctx, args[1])
	if err != nil {
		return nil, err
	}
	items, ok := list.([]any)
	if !ok || i < 0 || i >= len(items) {
		return nil, fmt.Errorf("Fn::Select: no item %d", i)
	}
	return items[i], nil
}

// condition evaluates the named condition of the template.
func (r *resolver) condition(ctx context.Context, name string) (bool, error) {
	if v, ok := r.conds[name]; ok {
		return v, nil
	}
	expr, ok := r.tmpl.Conditions[name]
	if !ok {
		return false, fmt.Errorf("no condition %q", name)
	}
	if r.conds == nil {
		r.conds = map[string]bool{}
	}
	v, err := r.cond(ctx, expr)
	if err != nil {
		return false, fmt.Errorf("condition %s: %w", name, err)
	}
	r.conds[name] = v
	return v, nil
}

// cond evaluates a condition expression.
func (r *resolver) cond(ctx context.Context, expr any) (bool, error) {
	m := asMap(expr)
	if name, ok := m["Condition"].(string); ok && len(m) == 1 {
		return r.condition(ctx, name)
	}
	fn, arg, ok := intrinsic(m)
	if !ok {
		return false, fmt.Errorf("not a condition: %v", expr)
	}
	args, _ := arg.([]any)
	switch fn {
	case "Fn::Equals":
		if len(args) != 2 {
			return false, errors.New("Fn::Equals: want two values")
		}
		a, err := r.resolveString(ctx, args[0])
		if err != nil {
			return false, err
		}
		b, err := r.resolveString(ctx, args[1])
		return a == b, err
	case "Fn::Not":
		if len(args) != 1 {
			return false, errors.New("Fn::Not: want one condition")
		}
		v, err := r.cond(ctx, args[0])
		return !v, err
	case "Fn::And", "Fn::Or":
		all := fn == "Fn::And"
		for _, a := range args {
			v, err := r.cond(ctx, a)
			if err != nil {
				return false, err
			}
			if v != all {
				return v, nil
			}
		}
		return all, nil
	}
	return false, fmt.Errorf("%w: condition function %s", ErrUnsupported, fn)
}

// parameterValues are the template's defaults with overrides applied; a
// parameter without either is an error, as in CloudFormation. An override
// for no parameter is an error too: it is a typo.
func parameterValues(t *Template, overrides map[string]string) (map[string]string, error) {
	out := map[string]string{}
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
