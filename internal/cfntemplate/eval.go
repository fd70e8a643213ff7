package cfntemplate

import (
	"fmt"
	"strings"
)

// Eval works out the few intrinsic functions a template uses to build a
// value from parameters: Fn::Split, Fn::Join and Fn::Sub (either form),
// with params giving each parameter's value (a string, or a []string for a
// CommaDelimitedList). A plain string is itself, except as the list of a
// Fn::Join, where it names a list parameter (plain reads !Ref P as "P").
func Eval(v any, params map[string]any) (any, error) {
	m, ok := v.(map[string]any)
	if !ok {
		return v, nil
	}
	switch {
	case m["Fn::Split"] != nil:
		args, err := twoArgs(m["Fn::Split"])
		if err != nil {
			return nil, fmt.Errorf("Fn::Split: %w", err)
		}
		s, err := evalString(args[1], params)
		if err != nil {
			return nil, fmt.Errorf("Fn::Split: %w", err)
		}
		delim, _ := args[0].(string)
		return strings.Split(s, delim), nil
	case m["Fn::Join"] != nil:
		args, err := twoArgs(m["Fn::Join"])
		if err != nil {
			return nil, fmt.Errorf("Fn::Join: %w", err)
		}
		list, err := evalList(args[1], params)
		if err != nil {
			return nil, fmt.Errorf("Fn::Join: %w", err)
		}
		delim, _ := args[0].(string)
		return strings.Join(list, delim), nil
	case m["Fn::Sub"] != nil:
		return evalSub(m["Fn::Sub"], params)
	}
	return nil, fmt.Errorf("cannot evaluate %v", m)
}

func twoArgs(v any) ([]any, error) {
	args, ok := v.([]any)
	if !ok || len(args) != 2 {
		return nil, fmt.Errorf("want two arguments, have %v", v)
	}
	return args, nil
}

func evalString(v any, params map[string]any) (string, error) {
	r, err := Eval(v, params)
	if err != nil {
		return "", err
	}
	s, ok := r.(string)
	if !ok {
		return "", fmt.Errorf("%v is not a string", r)
	}
	return s, nil
}

func evalList(v any, params map[string]any) ([]string, error) {
	if name, ok := v.(string); ok {
		list, ok := params[name].([]string)
		if !ok {
			return nil, fmt.Errorf("no list parameter %s", name)
		}
		return list, nil
	}
	r, err := Eval(v, params)
	if err != nil {
		return nil, err
	}
	switch x := r.(type) {
	case []string:
		return x, nil
	case []any:
		out := make([]string, len(x))
		for i, e := range x {
			if out[i], err = evalString(e, params); err != nil {
				return nil, err
			}
		}
		return out, nil
	}
	return nil, fmt.Errorf("%v is not a list", r)
}

// evalSub substitutes ${Name} from the variables of the two-argument form,
// then from params; AWS pseudo parameters must be in params too.
func evalSub(v any, params map[string]any) (string, error) {
	tmpl, vars := "", map[string]any{}
	switch x := v.(type) {
	case string:
		tmpl = x
	case []any:
		if len(x) != 2 {
			return "", fmt.Errorf("Fn::Sub: want a string and variables, have %v", v)
		}
		tmpl, _ = x[0].(string)
		vars, _ = x[1].(map[string]any)
	}
	var out strings.Builder
	for {
		i := strings.Index(tmpl, "${")
		if i < 0 {
			out.WriteString(tmpl)
			return out.String(), nil
		}
		j := strings.Index(tmpl[i:], "}")
		if j < 0 {
			return "", fmt.Errorf("Fn::Sub: unclosed ${ in %q", tmpl)
		}
		name := tmpl[i+2 : i+j]
		out.WriteString(tmpl[:i])
		var val string
		var err error
		if vv, ok := vars[name]; ok {
			val, err = evalString(vv, params)
		} else if p, ok := params[name].(string); ok {
			val = p
		} else {
			err = fmt.Errorf("no value for ${%s}", name)
		}
		if err != nil {
			return "", fmt.Errorf("Fn::Sub: %w", err)
		}
		out.WriteString(val)
		tmpl = tmpl[i+j+1:]
	}
}
