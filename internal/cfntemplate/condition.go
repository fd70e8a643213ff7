package cfntemplate

import (
	"context"
	"errors"
	"fmt"
)

// Condition evaluates the named condition of the template.
func (r *Resolver) Condition(ctx context.Context, name string) (bool, error) {
	if v, ok := r.conds[name]; ok {
		return v, nil
	}
	expr, ok := r.Conditions[name]
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
func (r *Resolver) cond(ctx context.Context, expr any) (bool, error) {
	m := asMap(expr)
	if name, ok := m["Condition"].(string); ok && len(m) == 1 {
		return r.Condition(ctx, name)
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
		a, err := r.ResolveString(ctx, args[0])
		if err != nil {
			return false, err
		}
		b, err := r.ResolveString(ctx, args[1])
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
