// Package fanout sweeps every selected account of an AWS Organization: the
// dispatcher lists the accounts, records the organization run and sends one
// message per account; the worker takes one message, assumes the member
// account's role and runs the same engine as a single-account sweep. On
// Lambda the messages go through SQS (functions/dispatcher, functions/worker);
// `keysweep sweep --org` runs both in-process (Local). docs/ORGANIZATIONS.md
// has the deployment and the failure handling.
package fanout

import (
	"context"
	"fmt"
	"sort"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/organizations"
	"github.com/aws/aws-sdk-go-v2/service/organizations/types"

	"github.com/keysweep/keysweep/policy"
)

// OrganizationsAPI is the part of the Organizations client the dispatcher
// uses; *organizations.Client satisfies it.
type OrganizationsAPI interface {
	ListAccounts(ctx context.Context, params *organizations.ListAccountsInput, optFns ...func(*organizations.Options)) (*organizations.ListAccountsOutput, error)
	ListAccountsForParent(ctx context.Context, params *organizations.ListAccountsForParentInput, optFns ...func(*organizations.Options)) (*organizations.ListAccountsForParentOutput, error)
	ListOrganizationalUnitsForParent(ctx context.Context, params *organizations.ListOrganizationalUnitsForParentInput, optFns ...func(*organizations.Options)) (*organizations.ListOrganizationalUnitsForParentOutput, error)
	DescribeOrganization(ctx context.Context, params *organizations.DescribeOrganizationInput, optFns ...func(*organizations.Options)) (*organizations.DescribeOrganizationOutput, error)
}

var _ OrganizationsAPI = (*organizations.Client)(nil)

// Account is one member account as Organizations lists it.
type Account struct {
	ID    string `json:"id"`
	Name  string `json:"name,omitempty"`
	State string `json:"state"` // ACTIVE, SUSPENDED, PENDING_CLOSURE, ...
}

// Active reports whether the account can be swept.
func (a Account) Active() bool { return a.State == string(types.AccountStateActive) }

// Skip is an account the selection names or covers but that is not swept.
type Skip struct {
	Account string `json:"account"`
	Reason  string `json:"reason"`
}

// Selection is the outcome of Select.
type Selection struct {
	// Accounts are the accounts to sweep, sorted by id.
	Accounts []Account `json:"accounts"`
	// Skipped are accounts in scope that are not swept: not active,
	// excluded by the deny list, or allow-listed but not in the organization.
	Skipped []Skip `json:"skipped,omitempty"`
}

// IDs returns the selected account ids.
func (s *Selection) IDs() []string {
	ids := make([]string, len(s.Accounts))
	for i, a := range s.Accounts {
		ids[i] = a.ID
	}
	return ids
}

// Selector lists an organization's accounts and applies a policy's
// organization section.
type Selector struct {
	API OrganizationsAPI
	// PageSize, when set, asks for this many results per page (tests set it
	// small to exercise paging); 0 lets Organizations decide.
	PageSize int32
}

// Select returns the ACTIVE accounts sel chooses (nil sel: every account),
// minus the deny list. Units are walked recursively through their child
// units.
func (s *Selector) Select(ctx context.Context, sel *policy.OrgSelection) (*Selection, error) {
	inScope := map[string]Account{}
	if sel.All() || (sel != nil && len(sel.Accounts) > 0) {
		all, err := s.listAccounts(ctx)
		if err != nil {
			return nil, err
		}
		for _, a := range all {
			if sel.All() || sel.Allowed(a.ID) {
				inScope[a.ID] = a
			}
		}
	}
	out := &Selection{}
	if sel != nil {
		for _, id := range sel.Accounts {
			if _, ok := inScope[id]; !ok {
				out.Skipped = append(out.Skipped, Skip{Account: id, Reason: "allow-listed but not in the organization"})
			}
		}
		for _, ou := range sel.OrganizationalUnits {
			if err := s.walk(ctx, ou, inScope, map[string]bool{}); err != nil {
				return nil, err
			}
		}
	}
	for _, a := range inScope {
		switch {
		case sel.Excluded(a.ID):
			out.Skipped = append(out.Skipped, Skip{Account: a.ID, Reason: "excluded by the policy"})
		case !a.Active():
			out.Skipped = append(out.Skipped, Skip{Account: a.ID, Reason: "state " + a.State})
		default:
			out.Accounts = append(out.Accounts, a)
		}
	}
	sort.Slice(out.Accounts, func(i, j int) bool { return out.Accounts[i].ID < out.Accounts[j].ID })
	sort.Slice(out.Skipped, func(i, j int) bool { return out.Skipped[i].Account < out.Skipped[j].Account })
	return out, nil
}

func account(a types.Account) Account {
	state := string(a.State)
	if state == "" {
		// Status is the older field, retired in 2026; State replaces it.
		state = string(a.Status)
	}
	return Account{ID: aws.ToString(a.Id), Name: aws.ToString(a.Name), State: state}
}

func (s *Selector) pageSize() *int32 {
	if s.PageSize > 0 {
		return aws.Int32(s.PageSize)
	}
	return nil
}

func (s *Selector) listAccounts(ctx context.Context) ([]Account, error) {
	var out []Account
	p := organizations.NewListAccountsPaginator(s.API, &organizations.ListAccountsInput{MaxResults: s.pageSize()})
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			return nil, fmt.Errorf("list organization accounts: %w", err)
		}
		for _, a := range page.Accounts {
			out = append(out, account(a))
		}
	}
	return out, nil
}

// walk adds every account under parent (a unit or the root) to into,
// descending into child units; seen guards against a cycle.
func (s *Selector) walk(ctx context.Context, parent string, into map[string]Account, seen map[string]bool) error {
	if seen[parent] {
		return nil
	}
	seen[parent] = true
	ap := organizations.NewListAccountsForParentPaginator(s.API, &organizations.ListAccountsForParentInput{
		ParentId: aws.String(parent), MaxResults: s.pageSize(),
	})
	for ap.HasMorePages() {
		page, err := ap.NextPage(ctx)
		if err != nil {
			return fmt.Errorf("list accounts of %s: %w", parent, err)
		}
		for _, a := range page.Accounts {
			acct := account(a)
			into[acct.ID] = acct
		}
	}
	var children []string
	up := organizations.NewListOrganizationalUnitsForParentPaginator(s.API, &organizations.ListOrganizationalUnitsForParentInput{
		ParentId: aws.String(parent), MaxResults: s.pageSize(),
	})
	for up.HasMorePages() {
		page, err := up.NextPage(ctx)
		if err != nil {
			return fmt.Errorf("list organizational units of %s: %w", parent, err)
		}
		for _, ou := range page.OrganizationalUnits {
			children = append(children, aws.ToString(ou.Id))
		}
	}
	for _, child := range children {
		if err := s.walk(ctx, child, into, seen); err != nil {
			return err
		}
	}
	return nil
}
