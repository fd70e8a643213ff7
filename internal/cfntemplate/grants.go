package cfntemplate

import (
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// Grant is what a role may do with one service: the actions, on the
// resources, under the template condition (Statement.If) it exists under.
type Grant struct {
	Actions   []string
	Resources []string
	If        string
}

// OnlyGrants checks that the statements of a role allowing any action of a
// service (its prefix: "s3", "secretsmanager") are exactly want, in
// order, each without an IAM condition: a grant added elsewhere, widened
// or left unconditional fails.
func OnlyGrants(t testing.TB, role string, sts []Statement, service string, want []Grant) {
	t.Helper()
	var got []Grant
	for _, st := range sts {
		if st.Effect != "Allow" || !hasService(st.Actions, service) {
			continue
		}
		got = append(got, Grant{Actions: st.Actions, Resources: st.Resources, If: st.If})
		if st.Condition != nil {
			t.Errorf("%s: %s grants %s actions under the IAM condition %v; want none", role, st.Sid, service, st.Condition)
		}
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("%s: %s grants (-want +got):\n%s", role, service, diff)
	}
}

func hasService(actions []string, service string) bool {
	for _, a := range actions {
		if strings.HasPrefix(a, service+":") || a == "*" {
			return true
		}
	}
	return false
}
