package engine

import (
	"context"
	"errors"
	"time"

	"github.com/keysweep/keysweep/internal/domain"
	"github.com/keysweep/keysweep/internal/journal"
	"github.com/keysweep/keysweep/policy"
)

// KeyView is one key as the key store, the policy and the journal see it.
type KeyView struct {
	AccessKeyID string          `json:"accessKeyId"`
	Account     string          `json:"account,omitempty"`
	Provider    domain.Provider `json:"provider,omitempty"`
	Target      string          `json:"target,omitempty"`
	UserName    string          `json:"userName,omitempty"`
	UserPath    string          `json:"userPath,omitempty"`
	// Exists is false for a key the store no longer has (known from its history).
	Exists     bool          `json:"exists"`
	Status     policy.Status `json:"status,omitempty"`
	CreatedAt  *time.Time    `json:"createdAt,omitempty"`
	LastUsedAt *time.Time    `json:"lastUsedAt,omitempty"`
	NeverUsed  bool          `json:"neverUsed,omitempty"`
	ExpiresAt  *time.Time    `json:"expiresAt,omitempty"`
	// Policy is what a sweep would decide now (nil for a gone key, or when
	// the policy could not be read).
	Policy *Judgement `json:"policy,omitempty"`
	Exempt bool       `json:"exempt"`
	// State is keysweep's lifecycle state for the key, if any.
	State   *domain.KeyState `json:"state,omitempty"`
	History []domain.Record  `json:"history"`
	// Chain is the check of the key's history against its hash chain.
	Chain *journal.Verification `json:"chain,omitempty"`
	Notes []string              `json:"notes,omitempty"`
}

// Inspect reads one key: owner, status, dates, what the policy decides
// now, keysweep's state and its audit history (checked against its hash
// chain). It writes nothing. A key the store no longer has is shown from
// its history (Exists false); without history it is ErrNotFound.
func (e *Engine) Inspect(ctx context.Context, id string, p *policy.Policy, source string, perr error) (*KeyView, error) {
	v := &KeyView{AccessKeyID: id, Target: e.Target}
	if prov := e.Store.Provider(); prov != domain.ProviderAWS {
		v.Provider = prov
	}
	k, err := e.lookup(ctx, id)
	switch {
	case errors.Is(err, errGone):
		return e.goneView(ctx, v)
	case err != nil:
		return nil, err
	}
	st, err := e.state(ctx, id)
	if err != nil {
		return nil, err
	}
	owner := domain.Owner{Name: k.Owner}
	if p != nil {
		j, o, notes, err := e.judgeNow(ctx, k, p, source, st, e.now())
		if errors.Is(err, errGone) {
			return e.goneView(ctx, v)
		}
		if err != nil {
			return nil, err
		}
		v.Policy, v.Exempt, v.Notes, owner = j, j.Verdict == policy.Exempt, notes, o
	} else if perr != nil {
		v.Notes = append(v.Notes, "not judged: "+perr.Error())
	}
	v.Exists = true
	v.Account, v.UserName, v.UserPath, v.Status = k.Account, k.Owner, owner.Path, k.Status
	if !k.CreatedAt.IsZero() {
		c := k.CreatedAt
		v.CreatedAt = &c
	}
	v.LastUsedAt, v.NeverUsed, v.ExpiresAt = k.LastUsedAt, k.LastUseKnown && k.LastUsedAt == nil, k.ExpiresAt
	if !k.LastUseKnown {
		v.Notes = append(v.Notes, e.Store.Provider().Title()+" does not tell when a key was last used")
	}
	v.State = st
	recs, err := e.Journal.ByKey(ctx, id)
	if err != nil {
		return nil, journalError("read the records of "+id, err)
	}
	v.History = recs
	if v.History == nil {
		v.History = []domain.Record{}
	}
	v.chain(st)
	return v, nil
}

// chain checks the view's history against its hash chain.
func (v *KeyView) chain(st *domain.KeyState) {
	if len(v.History) == 0 {
		return
	}
	vf := journal.Verify(v.AccessKeyID, v.History, st)
	v.Chain = &vf
	if !vf.OK() {
		v.Notes = append(v.Notes, "the key's audit history does not match its hash chain: it was changed after it was written (keysweep audit --verify --key "+v.AccessKeyID+")")
	}
}

func (e *Engine) goneView(ctx context.Context, v *KeyView) (*KeyView, error) {
	recs, err := e.history(ctx, v.AccessKeyID)
	if err != nil {
		return nil, err
	}
	st, err := e.state(ctx, v.AccessKeyID)
	if err != nil {
		return nil, err
	}
	last := recs[len(recs)-1]
	v.Account, v.UserName, v.State, v.History = last.Account, last.UserName, st, recs
	v.Notes = append(v.Notes, "the key no longer exists in "+e.ServiceName()+"; shown from its audit records")
	v.chain(st)
	return v, nil
}
