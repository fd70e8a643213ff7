package cli

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/spf13/cobra"

	"github.com/keysweep/keysweep/internal/domain"
	"github.com/keysweep/keysweep/internal/engine"
	"github.com/keysweep/keysweep/policy"
)

// policyOptions are the flags of `keysweep policy get|put|validate`.
type policyOptions struct {
	common
	output string // get: yaml or json
	by     string // put: who stores it
	file   string // put, validate
}

func newPolicyCmd(s *streams) *cobra.Command {
	cmd := group(s, "policy get | put FILE | validate FILE", "read, store or check the policy document", "get, put or validate")
	get := &policyOptions{}
	getCmd := &cobra.Command{
		Use:   "get [--output yaml|json] [--target NAME]",
		Short: "print the stored policy (the built-in default when none is stored)",
		Args:  exactArgs(0, "no arguments"),
		RunE:  func(c *cobra.Command, _ []string) error { return ran(runPolicyGet(c.Context(), s, get)) },
	}
	put := &policyOptions{}
	putCmd := &cobra.Command{
		Use:   "put FILE [--by NAME] [--target NAME]",
		Short: "validate FILE for the target's key store and store it",
		Args:  exactArgs(1, "one FILE"),
		RunE: func(c *cobra.Command, args []string) error {
			put.file = args[0]
			return ran(runPolicyPut(c.Context(), s, put))
		},
	}
	validate := &policyOptions{}
	validateCmd := &cobra.Command{
		Use:   "validate FILE [--target NAME]",
		Short: "check FILE, and that the target's key store can serve every rule in it",
		Args:  exactArgs(1, "one FILE"),
		RunE: func(c *cobra.Command, args []string) error {
			validate.file = args[0]
			return ran(runPolicyValidate(c.Context(), s, validate))
		},
	}
	for _, x := range []struct {
		cmd *cobra.Command
		o   *policyOptions
	}{{getCmd, get}, {putCmd, put}, {validateCmd, validate}} {
		x.o.register(x.cmd.Flags())
		x.o.registerTarget(x.cmd.Flags(), domain.DefaultTarget)
	}
	getCmd.Flags().StringVar(&get.output, "output", "yaml", "yaml or json")
	putCmd.Flags().StringVar(&put.by, "by", "", "who is storing the policy, recorded as updatedBy (default: env USER)")
	cmd.AddCommand(getCmd, putCmd, validateCmd)
	return cmd
}

// validFor reads the policy file and checks it for the target's key
// store: a rule the store cannot serve is refused, naming the rule and the
// store. AWS IAM's abilities are known without opening anything.
func (o *policyOptions) validFor(ctx context.Context, s *streams) (*policy.Policy, engine.Target, error) {
	p, err := readPolicyFile(o.file)
	if err != nil {
		return nil, engine.Target{}, err
	}
	t := engine.Target{Name: domain.DefaultTarget}
	tr := policy.AllTraits
	if o.target != "" && o.target != domain.DefaultTarget {
		d, err := o.deps(ctx, s, false)
		if err != nil {
			return nil, t, err
		}
		if t, err = o.pick(o.targets(d, s)); err != nil {
			return nil, t, err
		}
		e, err := open(ctx, t)
		if err != nil {
			return nil, t, err
		}
		tr = traits(e)
	}
	if err := p.ValidateFor(tr); err != nil {
		return nil, t, usageError{fmt.Errorf("policy file %s for target %s (%s): %w", o.file, t.Name, tr.Name, err)}
	}
	return p, t, nil
}

func runPolicyValidate(ctx context.Context, s *streams, o *policyOptions) error {
	p, t, err := o.validFor(ctx, s)
	if err != nil {
		return err
	}
	fmt.Fprintf(s.out, "%s: valid for target %s (version %s, mode %s)\n", o.file, t.Name, p.Version, p.Mode)
	return nil
}

func runPolicyPut(ctx context.Context, s *streams, o *policyOptions) error {
	p, _, err := o.validFor(ctx, s)
	if err != nil {
		return err
	}
	d, err := o.deps(ctx, s, true)
	if err != nil {
		return err
	}
	t, err := o.pick(o.targets(d, s))
	if err != nil {
		return err
	}
	by := o.by
	if by == "" {
		by = osUser()
	}
	id := policyIDOf(t)
	if err := d.Journal.PutPolicy(ctx, id, p, by); err != nil {
		return fmt.Errorf("put policy: %w", err)
	}
	fmt.Fprintf(s.out, "stored policy %q version %s (mode %s) in %s\n", id, p.Version, p.Mode, d.Config.PolicyTable)
	return nil
}

func runPolicyGet(ctx context.Context, s *streams, o *policyOptions) error {
	if o.output != "yaml" && o.output != formatJSON {
		return usagef("--output: must be yaml or json, got %q", o.output)
	}
	d, err := o.deps(ctx, s, true)
	if err != nil {
		return err
	}
	t, err := o.pick(o.targets(d, s))
	if err != nil {
		return err
	}
	id := policyIDOf(t)
	p, updated, err := d.Journal.GetPolicy(ctx, id)
	if errors.Is(err, domain.ErrNotFound) {
		fmt.Fprintf(s.err, "no policy %q stored: sweeps run the built-in default in audit mode:\n", id)
		p, err = policy.Default(), nil
	}
	if err != nil {
		return exitError{ExitBlocked, fmt.Errorf("stored policy: %w", err)}
	}
	if !updated.IsZero() {
		fmt.Fprintf(s.err, "policy %q, updated %s\n", id, updated.Format(time.RFC3339))
	}
	if o.output == formatJSON {
		return writeJSON(s.out, p)
	}
	return writeYAML(s.out, p)
}
