package gmi

import (
	"context"
	"errors"
	"fmt"
	"net/http"
)

// RoleOwner is the organization role the reference's "Retrieve user's
// profile" example shows. "List API keys" shows an organization owner or
// admin every key of the organization and an organization user only their
// own; the reference names no other role's value, so any other role is
// reported (it may be an admin's, or a user's that hides keys).
const RoleOwner = "org_owner"

// profile is "Retrieve user's profile" (GET /me/profile); organization is
// omitted when the user belongs to none.
type profile struct {
	Organization *struct {
		ID   string `json:"id"`
		Role string `json:"role"`
	} `json:"organization"`
}

// roleNotes reads, once per Store, whom the session belongs to, and says
// when the inventory may not hold every key of the organization. Failing
// to read the profile is a note too (the listing is the store's work), an
// expired session is not.
func (s *Store) roleNotes(ctx context.Context) ([]string, error) {
	s.profileMu.Lock()
	defer s.profileMu.Unlock()
	if s.profileDone {
		return append([]string(nil), s.profileNotes...), nil
	}
	var p profile
	if err := s.c.call(ctx, OpGetProfile, http.MethodGet, "/me/profile", &p); err != nil {
		switch {
		case errors.Is(err, ErrTokenExpired), errors.Is(err, ErrRenewalNotSaved):
			return nil, serviceError("read the GMI Cloud session's profile", err)
		case ctx.Err() != nil:
			return nil, ctx.Err()
		}
		s.log.WarnContext(ctx, "could not read the GMI Cloud session's profile", "error", err)
		return []string{fmt.Sprintf("could not read the GMI Cloud session's role (%v): if it is an organization user's, the inventory holds only that user's keys", err)}, nil
	}
	switch {
	case p.Organization == nil:
		s.profileNotes = []string{fmt.Sprintf("the GMI Cloud session's user belongs to no organization according to its profile, yet lists organization %s", s.org)}
	case p.Organization.ID != s.org:
		s.profileNotes = []string{fmt.Sprintf("the GMI Cloud session's user belongs to organization %s, not %s: the inventory may hold only that user's keys", p.Organization.ID, s.org)}
	case p.Organization.Role != RoleOwner:
		s.profileNotes = []string{fmt.Sprintf("the GMI Cloud session's user has role %q: GMI Cloud lists an organization user only their own keys, so unless this is an admin role the inventory misses other members' keys", p.Organization.Role)}
	}
	s.profileDone = true
	return append([]string(nil), s.profileNotes...), nil
}
