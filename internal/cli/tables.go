package cli

import (
	"context"
	"fmt"

	"github.com/spf13/cobra"

	"github.com/keysweep/keysweep/internal/journal/dynamo"
)

// tablesOptions are `keysweep tables create`'s flags.
type tablesOptions struct {
	common
}

func newTablesCmd(s *streams) *cobra.Command {
	cmd := group(s, "tables create [--policy-table NAME] [--audit-table NAME]", "create the policy and audit tables (local emulator)", "create")
	o := &tablesOptions{}
	create := &cobra.Command{
		Use:   "create [--policy-table NAME] [--audit-table NAME]",
		Short: "create both tables as the SAM template does (tables that exist are left as they are)",
		Args:  exactArgs(0, "no arguments"),
		RunE: func(c *cobra.Command, _ []string) error {
			return ran(runTablesCreate(c.Context(), s, o))
		},
	}
	o.register(create.Flags())
	cmd.AddCommand(create)
	return cmd
}

func runTablesCreate(ctx context.Context, s *streams, o *tablesOptions) error {
	d, err := o.deps(ctx, s, true)
	if err != nil {
		return err
	}
	if err := dynamo.CreateTables(ctx, d.DynamoDB, d.Config.PolicyTable, d.Config.AuditTable); err != nil {
		return err
	}
	fmt.Fprintf(s.out, "tables ready: %s, %s\n", d.Config.PolicyTable, d.Config.AuditTable)
	return nil
}
