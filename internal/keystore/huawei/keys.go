package huawei

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"regexp"

	"github.com/keysweep/keysweep/internal/domain"
)

// validID is what keysweep puts into a URL path: access keys and user ids
// are letters and digits. Anything else cannot name a key (and must not
// walk a path), so it is "not found" without a call.
var validID = regexp.MustCompile(`^[A-Za-z0-9_-]{1,128}$`)

func checkID(kind, id string) error {
	if !validID.MatchString(id) {
		return fmt.Errorf("%s %q: %w", kind, id, domain.ErrKeyNotFound)
	}
	return nil
}

// OwnerKeys re-reads the owner's keys with one ListPermanentAccessKeys
// call: id, status, creation, description. The listing carries no last use,
// so LastUsedAt is nil and LastUseKnown false: Recheck reads it.
func (s *Store) OwnerKeys(ctx context.Context, owner domain.Owner) ([]domain.Key, error) {
	id, err := s.ownerID(ctx, owner)
	if err != nil {
		return nil, err
	}
	creds, err := s.listCredentials(ctx, id, owner.Name)
	if err != nil {
		return nil, err
	}
	account, err := s.Account(ctx)
	if err != nil {
		return nil, err
	}
	keys := make([]domain.Key, 0, len(creds))
	for _, c := range creds {
		k, err := keyFrom(c, account, owner.Name, false)
		if err != nil {
			return nil, serviceError("list access keys of "+owner.Name, err)
		}
		keys = append(keys, k)
	}
	return keys, nil
}

// Recheck re-reads one key with one ShowPermanentAccessKey call, which
// answers status, creation, last use and owner together: everything is
// filled whatever status says. The owner's name comes from the names the
// store has seen (Inventory), else one KeystoneShowUser call.
func (s *Store) Recheck(ctx context.Context, key domain.Key, _ bool) (domain.Key, error) {
	return s.readKey(ctx, key.ID)
}

// FindKey reads a key by its id alone: ShowPermanentAccessKey, then the
// owner's name (KeystoneShowUser unless already known).
func (s *Store) FindKey(ctx context.Context, id string) (domain.Key, error) {
	return s.readKey(ctx, id)
}

func (s *Store) readKey(ctx context.Context, id string) (domain.Key, error) {
	if err := checkID("access key", id); err != nil {
		return domain.Key{}, err
	}
	c, err := s.showCredential(ctx, id)
	if err != nil {
		return domain.Key{}, err
	}
	name, err := s.userName(ctx, c.UserID)
	if err != nil {
		return domain.Key{}, err
	}
	account, err := s.Account(ctx)
	if err != nil {
		return domain.Key{}, err
	}
	k, err := keyFrom(c, account, name, true)
	if err != nil {
		return domain.Key{}, serviceError("read access key "+id, err)
	}
	return k, nil
}

// Deactivate sets the key inactive: UpdatePermanentAccessKey with
// {"credential": {"status": "inactive"}}.
func (s *Store) Deactivate(ctx context.Context, key domain.Key) error {
	if err := checkID("access key", key.ID); err != nil {
		return err
	}
	var out credentialResponse
	return s.c.do(ctx, request{
		op: OpUpdateCredential, what: fmt.Sprintf("deactivate access key %s of %s", key.ID, key.Owner),
		method: http.MethodPut, path: pathCredential + key.ID,
		in:  updateCredentialRequest{Credential: updateCredential{Status: statusInactive}},
		out: &out, gone: true,
	})
}

// Delete deletes the key: DeletePermanentAccessKey answers 204; a 404 means
// it is gone already, and the error wraps domain.ErrKeyNotFound.
func (s *Store) Delete(ctx context.Context, key domain.Key) error {
	if err := checkID("access key", key.ID); err != nil {
		return err
	}
	return s.c.do(ctx, request{
		op: OpDeleteCredential, what: fmt.Sprintf("delete access key %s of %s", key.ID, key.Owner),
		method: http.MethodDelete, path: pathCredential + key.ID, gone: true,
	})
}

func (s *Store) showCredential(ctx context.Context, id string) (credentialJSON, error) {
	var out credentialResponse
	err := s.c.do(ctx, request{op: OpShowCredential, what: "read access key " + id, method: http.MethodGet,
		path: pathCredential + id, out: &out, gone: true})
	return out.Credential, err
}

func (s *Store) listCredentials(ctx context.Context, userID, name string) ([]credentialJSON, error) {
	var out listCredentialsResponse
	err := s.c.do(ctx, request{op: OpListCredentials, what: "list access keys of " + name, method: http.MethodGet,
		path: pathCredentials, query: url.Values{"user_id": {userID}}, out: &out, gone: true})
	return out.Credentials, err
}

// ownerID is the owner's user id: Owner.ID, else the one user named so
// (one KeystoneListUsers call filtered by name).
func (s *Store) ownerID(ctx context.Context, owner domain.Owner) (string, error) {
	if owner.ID != "" {
		return owner.ID, checkID("user id", owner.ID)
	}
	account, err := s.Account(ctx)
	if err != nil {
		return "", err
	}
	var out listUsersResponse
	if err := s.c.do(ctx, request{op: OpListUsers, what: "find user " + owner.Name, method: http.MethodGet,
		path: pathUsers, query: url.Values{"domain_id": {account}, "name": {owner.Name}}, out: &out}); err != nil {
		return "", err
	}
	for _, u := range out.Users {
		if u.Name == owner.Name {
			s.remember(u.ID, u.Name)
			return u.ID, checkID("user id", u.ID)
		}
	}
	return "", fmt.Errorf("user %s: %w", owner.Name, domain.ErrKeyNotFound)
}

// userName is the name of user id: remembered, else KeystoneShowUser.
func (s *Store) userName(ctx context.Context, id string) (string, error) {
	s.mu.Lock()
	name, ok := s.names[id]
	s.mu.Unlock()
	if ok {
		return name, nil
	}
	if err := checkID("user id", id); err != nil {
		return "", err
	}
	var out showUserResponse
	if err := s.c.do(ctx, request{op: OpShowUser, what: "read user " + id, method: http.MethodGet,
		path: pathUser + id, out: &out, gone: true}); err != nil {
		return "", err
	}
	s.remember(id, out.User.Name)
	return out.User.Name, nil
}

func (s *Store) remember(id, name string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.names[id] = name
}

// keyFrom maps a credential to the domain's key. withLastUse: the answer
// is ShowPermanentAccessKey's, whose last_use_time is the creation time for
// a key never used; keysweep reports that as never used (LastUsedAt nil),
// which the inactivity rule judges the same way (a never used key counts
// from its creation).
func keyFrom(c credentialJSON, account, owner string, withLastUse bool) (domain.Key, error) {
	k := domain.Key{ID: c.Access, Account: account, Owner: owner, Description: c.Description}
	switch c.Status {
	case statusActive:
		k.Status = domain.StatusActive
	case statusInactive:
		k.Status = domain.StatusInactive
	default:
		return domain.Key{}, fmt.Errorf("access key %s: status %q is neither active nor inactive", c.Access, c.Status)
	}
	created, err := parseTime("create_time", c.CreateTime)
	if err != nil {
		return domain.Key{}, fmt.Errorf("access key %s: %w", c.Access, err)
	}
	k.CreatedAt = created
	if !withLastUse {
		return k, nil
	}
	k.LastUseKnown = true
	if c.LastUseTime == "" {
		return k, nil
	}
	last, err := parseTime("last_use_time", c.LastUseTime)
	if err != nil {
		return domain.Key{}, fmt.Errorf("access key %s: %w", c.Access, err)
	}
	if last.After(created) {
		k.LastUsedAt = &last
	}
	return k, nil
}
