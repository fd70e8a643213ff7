package policy

import (
	"fmt"
	"regexp"
	"slices"
	"strings"
)

// OrgSelection chooses which accounts of an AWS Organization an organization
// sweep covers. It is the policy document's optional "organization" section;
// a single-account sweep ignores it.
//
// An account is selected when it is ACTIVE and
//   - Accounts and OrganizationalUnits are both empty (every account), or
//     it is in Accounts, or it sits anywhere under one of
//     OrganizationalUnits (child units included);
//   - and it is not in ExcludeAccounts, which always wins.
type OrgSelection struct {
	// Accounts is an allow list of account ids.
	Accounts []string `json:"accounts,omitempty"`
	// ExcludeAccounts is a deny list of account ids.
	ExcludeAccounts []string `json:"excludeAccounts,omitempty"`
	// OrganizationalUnits are unit ids (ou-...) or the root id (r-...).
	OrganizationalUnits []string `json:"organizationalUnits,omitempty"`
}

// MaxOrgListLen bounds each list of an OrgSelection (Organizations allows
// a few thousand accounts; the whole policy is one DynamoDB item).
const MaxOrgListLen = 5000

var (
	accountIDRE = regexp.MustCompile(`^\d{12}$`)
	// Organizations' own patterns for unit and root ids.
	ouIDRE   = regexp.MustCompile(`^ou-[0-9a-z]{4,32}-[a-z0-9]{8,32}$`)
	rootIDRE = regexp.MustCompile(`^r-[0-9a-z]{4,32}$`)
)

// IsAccountID reports whether s is a 12-digit AWS account id.
func IsAccountID(s string) bool { return accountIDRE.MatchString(s) }

// All reports whether the selection takes every active account except the
// excluded ones (a nil selection does).
func (s *OrgSelection) All() bool {
	return s == nil || (len(s.Accounts) == 0 && len(s.OrganizationalUnits) == 0)
}

// Excluded reports whether the deny list names account.
func (s *OrgSelection) Excluded(account string) bool {
	return s != nil && slices.Contains(s.ExcludeAccounts, account)
}

// Allowed reports whether the allow list names account.
func (s *OrgSelection) Allowed(account string) bool {
	return s != nil && slices.Contains(s.Accounts, account)
}

// validateOrg adds the problems of the organization section to ps.
func validateOrg(ps *problems, s *OrgSelection) {
	if s == nil {
		return
	}
	const f = "organization"
	seen := map[string]string{}
	check := func(list []string, field string, valid func(string) bool, what string) {
		if len(list) > MaxOrgListLen {
			ps.add(f+"."+field, "at most %d entries, got %d", MaxOrgListLen, len(list))
			return
		}
		for i, v := range list {
			name := fmt.Sprintf("%s.%s[%d]", f, field, i)
			if !valid(v) {
				ps.add(name, "must be %s, got %q", what, v)
				continue
			}
			if prev, dup := seen[field+"\x00"+v]; dup {
				ps.add(name, "duplicate of %s", prev)
				continue
			}
			seen[field+"\x00"+v] = name
		}
	}
	check(s.Accounts, "accounts", IsAccountID, "a 12-digit account id")
	check(s.ExcludeAccounts, "excludeAccounts", IsAccountID, "a 12-digit account id")
	check(s.OrganizationalUnits, "organizationalUnits", func(v string) bool {
		return ouIDRE.MatchString(v) || rootIDRE.MatchString(v)
	}, `an organizational unit id ("ou-...") or the root id ("r-...")`)
	for i, a := range s.ExcludeAccounts {
		if s.Allowed(a) {
			ps.add(fmt.Sprintf("%s.excludeAccounts[%d]", f, i), "%s is in accounts too; list it in one of the two", a)
		}
	}
}

// item gives the section as plain values for Policy.Item.
func (s *OrgSelection) item() map[string]any {
	m := map[string]any{}
	putList(m, "accounts", s.Accounts)
	putList(m, "excludeAccounts", s.ExcludeAccounts)
	putList(m, "organizationalUnits", s.OrganizationalUnits)
	return m
}

// String describes the selection for logs and run records.
func (s *OrgSelection) String() string {
	var parts []string
	if s.All() {
		parts = append(parts, "all accounts")
	}
	if s != nil {
		if len(s.Accounts) > 0 {
			parts = append(parts, fmt.Sprintf("%d allowed accounts", len(s.Accounts)))
		}
		if len(s.OrganizationalUnits) > 0 {
			parts = append(parts, "units "+strings.Join(s.OrganizationalUnits, ","))
		}
		if len(s.ExcludeAccounts) > 0 {
			parts = append(parts, fmt.Sprintf("%d excluded", len(s.ExcludeAccounts)))
		}
	}
	return strings.Join(parts, ", ")
}
