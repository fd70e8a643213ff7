package cli

import (
	"context"
	"fmt"
	"io"

	"github.com/spf13/cobra"

	"github.com/keysweep/keysweep/internal/engine"
	"github.com/keysweep/keysweep/internal/httpapi"
	"github.com/keysweep/keysweep/policy"
)

// revokeOptions are `keysweep revoke`'s flags.
type revokeOptions struct {
	keyCmd
	reason     string
	deactivate bool
}

func newRevokeCmd(s *streams) *cobra.Command {
	o := &revokeOptions{}
	cmd := &cobra.Command{
		Use:   "revoke KEY [--reason TEXT] [--deactivate] [--output table|json] [--target NAME]",
		Short: "deactivate or delete one key now, with an audit record",
		Args:  exactArgs(1, "one access key id"),
		RunE: func(cmd *cobra.Command, args []string) error {
			o.key = args[0]
			return ran(runRevoke(cmd.Context(), s, o))
		},
	}
	fs := cmd.Flags()
	o.register(fs)
	o.registerTarget(fs, "aws")
	fs.StringVar(&o.reason, "reason", "", fmt.Sprintf("why, recorded on the audit records (at most %d characters)", httpapi.MaxReasonChars))
	fs.BoolVar(&o.deactivate, "deactivate", false, "deactivate the key instead of deleting it")
	fs.StringVar(&o.output, "output", formatTable, "table or json (the API's answer)")
	return cmd
}

// runRevoke revokes the key through the target's engine: the same
// write-ahead lock, checks and records as a sweep and as the API.
func runRevoke(ctx context.Context, s *streams, o *revokeOptions) error {
	if err := o.check(); err != nil {
		return err
	}
	if err := checkReason(o.reason); err != nil {
		return err
	}
	kt, err := o.open(ctx, s)
	if err != nil {
		return err
	}
	action := policy.Delete
	if o.deactivate {
		action = policy.Deactivate
	}
	rev, err := kt.e.Revoke(ctx, engine.RevokeRequest{
		AccessKeyID: o.key, Action: action, Reason: o.reason, Actor: "cli:" + osUser(),
		Policy: kt.p, PolicySource: kt.source, PolicyErr: kt.perr,
	})
	return answer(s, o.output, rev, err, writeRevocation)
}

func writeRevocation(w io.Writer, r *engine.Revocation) {
	fmt.Fprintln(w, r.Message)
	fmt.Fprintf(w, "  outcome:  %s\n", r.Outcome)
	if r.UserName != "" {
		fmt.Fprintf(w, "  owner:    %s (account %s)\n", r.UserName, orDash(r.Account))
	}
	if r.Target != "" {
		fmt.Fprintf(w, "  target:   %s (%s)\n", r.Target, r.Provider.Title())
	}
	if r.Policy != nil {
		fmt.Fprintf(w, "  policy:   %s (%s, mode %s) decides %s: %s\n", r.Policy.PolicyVersion, r.Policy.PolicySource, r.Policy.Mode, r.Policy.Verdict, r.Policy.Reason)
	}
	exempt := "no"
	if r.Exempt {
		exempt = "YES (revoked anyway; the records say so)"
	}
	fmt.Fprintf(w, "  exempt:   %s\n", exempt)
	if r.RevocationID != "" {
		fmt.Fprintf(w, "  records:  run %s, actor %s\n", r.RevocationID, r.Actor)
	}
	for _, n := range r.Notes {
		fmt.Fprintf(w, "  note:     %s\n", n)
	}
	if len(r.Records) > 0 {
		fmt.Fprintln(w)
		_ = writeRecords(w, formatTable, r.Records)
	}
}
