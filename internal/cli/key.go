package cli

import (
	"context"
	"fmt"
	"io"
	"time"

	"github.com/spf13/cobra"

	"github.com/keysweep/keysweep/internal/engine"
)

// keyOptions are `keysweep key`'s flags.
type keyOptions struct {
	keyCmd
}

func newKeyCmd(s *streams) *cobra.Command {
	o := &keyOptions{}
	cmd := &cobra.Command{
		Use:   "key KEY [--output table|json] [--target NAME]",
		Short: "show one key: owner, status, dates, decision, history and its hash chain",
		Args:  exactArgs(1, "one access key id"),
		RunE: func(cmd *cobra.Command, args []string) error {
			o.key = args[0]
			return ran(runKey(cmd.Context(), s, o))
		},
	}
	fs := cmd.Flags()
	o.register(fs)
	o.registerTarget(fs, "aws")
	fs.StringVar(&o.output, "output", formatTable, "table or json (the API's answer)")
	return cmd
}

// runKey inspects the key through the target's engine; it writes nothing.
func runKey(ctx context.Context, s *streams, o *keyOptions) error {
	if err := o.check(); err != nil {
		return err
	}
	kt, err := o.open(ctx, s)
	if err != nil {
		return err
	}
	v, err := kt.e.Inspect(ctx, o.key, kt.p, kt.source, kt.perr)
	return answer(s, o.output, v, err, writeKeyView)
}

func daysAgo(now, t time.Time) string {
	return fmt.Sprintf("%s (%d days ago)", t.Format(time.DateOnly), int(now.Sub(t).Hours()/24))
}

func writeKeyView(w io.Writer, v *engine.KeyView) {
	now := time.Now().UTC()
	if !v.Exists {
		fmt.Fprintf(w, "key %s of %s (account %s): no longer in %s\n", v.AccessKeyID, orDash(v.UserName), orDash(v.Account), v.Provider.Title())
	} else {
		fmt.Fprintf(w, "key %s of %s (account %s)\n", v.AccessKeyID, v.UserName, v.Account)
		fmt.Fprintf(w, "  status:     %s\n", orDash(string(v.Status)))
		if v.CreatedAt != nil {
			fmt.Fprintf(w, "  created:    %s\n", daysAgo(now, *v.CreatedAt))
		}
		switch {
		case v.LastUsedAt != nil:
			fmt.Fprintf(w, "  last used:  %s\n", daysAgo(now, *v.LastUsedAt))
		case v.NeverUsed:
			fmt.Fprintln(w, "  last used:  never")
		default:
			fmt.Fprintf(w, "  last used:  unknown (%s cannot tell)\n", v.Provider.Title())
		}
		if v.ExpiresAt != nil {
			fmt.Fprintf(w, "  expires:    %s\n", v.ExpiresAt.Format(time.DateOnly))
		}
	}
	if v.Policy != nil {
		fmt.Fprintf(w, "  policy:     %s (%s, mode %s) decides %s: %s\n", v.Policy.PolicyVersion, v.Policy.PolicySource, v.Policy.Mode, v.Policy.Verdict, v.Policy.Reason)
	}
	writeKeyState(w, v)
	for _, n := range v.Notes {
		fmt.Fprintf(w, "  note:       %s\n", n)
	}
	fmt.Fprintln(w)
	if len(v.History) == 0 {
		fmt.Fprintln(w, "no audit records")
		return
	}
	_ = writeRecords(w, formatTable, v.History)
}

func writeKeyState(w io.Writer, v *engine.KeyView) {
	if st := v.State; st != nil {
		fmt.Fprintf(w, "  keysweep:   stage %s", orDash(st.Stage))
		if st.DeactivatedAt != nil {
			fmt.Fprintf(w, ", inactive since %s", st.DeactivatedAt.Format(time.RFC3339))
		}
		if st.DeletedAt != nil {
			fmt.Fprintf(w, ", deleted %s", st.DeletedAt.Format(time.RFC3339))
		}
		if st.Intent != nil {
			fmt.Fprintf(w, ", UNSETTLED intent to %s by run %s", st.Intent.Action, st.Intent.RunID)
		}
		fmt.Fprintln(w)
	}
	if c := v.Chain; c != nil && c.Records > 0 {
		if c.OK() {
			fmt.Fprintf(w, "  chain:      holds (%d records, %d written before the chain existed)\n", c.Records, c.Unchained)
		}
		for _, p := range c.Problems {
			fmt.Fprintf(w, "  chain:      BROKEN: %s\n", p)
		}
	}
}
