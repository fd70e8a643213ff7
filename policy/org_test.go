package policy

import (
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

const orgDoc = `
version: org-1
mode: enforce
maxInactiveDays: 90
organization:
  accounts: ["111111111111", "222222222222"]
  excludeAccounts: ["333333333333"]
  organizationalUnits: [ou-ab12-cdefgh34, r-ab12]
`

func TestParseOrganization(t *testing.T) {
	p := mustParse(t, orgDoc)
	want := &OrgSelection{
		Accounts:            []string{"111111111111", "222222222222"},
		ExcludeAccounts:     []string{"333333333333"},
		OrganizationalUnits: []string{"ou-ab12-cdefgh34", "r-ab12"},
	}
	if diff := cmp.Diff(want, p.Organization); diff != "" {
		t.Errorf("organization (-want +got):\n%s", diff)
	}

	t.Run("item round trip", func(t *testing.T) { checkItemTrip(t, p) })

	t.Run("empty section selects all", func(t *testing.T) {
		p := mustParse(t, minimalDoc+"organization: {}\n")
		if !p.Organization.All() {
			t.Error("an empty organization section does not select all accounts")
		}
		if diff := cmp.Diff(p, mustFromItem(t, p.Item())); diff != "" {
			t.Errorf("item round trip (-want +got):\n%s", diff)
		}
	})
}

func TestValidateOrganization(t *testing.T) {
	tests := []struct {
		name string
		sel  OrgSelection
		want []string // problems, as "field: message" prefixes; nil: valid
	}{
		{name: "all", sel: OrgSelection{}},
		{name: "deny list only", sel: OrgSelection{ExcludeAccounts: []string{"123456789012"}}},
		{name: "units", sel: OrgSelection{OrganizationalUnits: []string{"ou-abcd-12345678", "r-abcd"}}},
		{
			name: "short account id",
			sel:  OrgSelection{Accounts: []string{"12345"}},
			want: []string{`organization.accounts[0]: must be a 12-digit account id, got "12345"`},
		},
		{
			name: "account id with letters",
			sel:  OrgSelection{ExcludeAccounts: []string{"12345678901a"}},
			want: []string{`organization.excludeAccounts[0]: must be a 12-digit account id`},
		},
		{
			name: "not a unit id",
			sel:  OrgSelection{OrganizationalUnits: []string{"Engineering"}},
			want: []string{`organization.organizationalUnits[0]: must be an organizational unit id`},
		},
		{
			name: "duplicate",
			sel:  OrgSelection{Accounts: []string{"111111111111", "111111111111"}},
			want: []string{`organization.accounts[1]: duplicate of organization.accounts[0]`},
		},
		{
			name: "allowed and denied",
			sel:  OrgSelection{Accounts: []string{"111111111111"}, ExcludeAccounts: []string{"111111111111"}},
			want: []string{`organization.excludeAccounts[0]: 111111111111 is in accounts too`},
		},
		{
			name: "too many",
			sel:  OrgSelection{Accounts: make([]string, MaxOrgListLen+1)},
			want: []string{`organization.accounts: at most 5000 entries`},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			p := &Policy{Version: "v", Mode: ModeAudit, MaxKeyAgeDays: 90, Organization: &tc.sel}
			problems := problemsOf(t, p.Validate())
			if len(problems) != len(tc.want) {
				t.Fatalf("problems = %v, want %d", problems, len(tc.want))
			}
			for i, w := range tc.want {
				if got := problems[i].String(); !strings.HasPrefix(got, w) {
					t.Errorf("problem %d = %q, want prefix %q", i, got, w)
				}
			}
		})
	}
}

func TestOrgSelectionPredicates(t *testing.T) {
	var none *OrgSelection
	if !none.All() || none.Excluded("111111111111") || none.Allowed("111111111111") {
		t.Error("a nil selection must select all and exclude none")
	}
	s := &OrgSelection{Accounts: []string{"111111111111"}, ExcludeAccounts: []string{"222222222222"}}
	if s.All() || !s.Allowed("111111111111") || s.Allowed("222222222222") || !s.Excluded("222222222222") {
		t.Errorf("predicates wrong for %+v", s)
	}
	if got, want := s.String(), "1 allowed accounts, 1 excluded"; got != want {
		t.Errorf("String = %q, want %q", got, want)
	}
}
