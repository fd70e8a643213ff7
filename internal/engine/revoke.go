package engine

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/keysweep/keysweep/internal/domain"
	"github.com/keysweep/keysweep/policy"
)

// Judgement is what a sweep with the current policy would decide about a
// key now: the verdict, its reason and figures, and the policy behind it.
type Judgement struct {
	PolicyVersion string      `json:"policyVersion"`
	PolicySource  string      `json:"policySource,omitempty"`
	Mode          policy.Mode `json:"mode"`
	policy.Decision
}

// RevokeRequest asks for one key to be deactivated or deleted now.
type RevokeRequest struct {
	AccessKeyID string
	// Action is policy.Deactivate or policy.Delete.
	Action policy.Verdict
	// Reason is the caller's own words, recorded on the audit records.
	Reason string
	// Actor names the caller: an IAM ARN, "cli:<user>" or "local".
	Actor string
	// Policy judges the key for the record and the answer; nil when it
	// could not be read (PolicyErr says why): the revocation goes ahead.
	Policy       *policy.Policy
	PolicySource string
	PolicyErr    error
}

// Revocation is what a revocation did.
type Revocation struct {
	// RevocationID is the runId of the records it wrote ("" when it wrote none).
	RevocationID string          `json:"revocationId,omitempty"`
	AccessKeyID  string          `json:"accessKeyId"`
	Account      string          `json:"account,omitempty"`
	Provider     domain.Provider `json:"provider,omitempty"`
	Target       string          `json:"target,omitempty"`
	UserName     string          `json:"userName,omitempty"`
	Action       string          `json:"action"`
	Outcome      string          `json:"outcome"` // done | gone | already-inactive
	Message      string          `json:"message"`
	StatusBefore policy.Status   `json:"statusBefore,omitempty"`
	// Exempt says the policy exempts the key; an explicit revocation is
	// not blocked by exemptions, but it is recorded.
	Exempt bool       `json:"exempt"`
	Policy *Judgement `json:"policy,omitempty"`
	Actor  string     `json:"actor"`
	Reason string     `json:"reason,omitempty"`
	// Records are the records this revocation wrote or, when the key was
	// already gone, the key's earlier records.
	Records []domain.Record `json:"records"`
	// Notices are what the owner and the team were told of it.
	Notices []domain.Notice `json:"notices,omitempty"`
	Notes   []string        `json:"notes,omitempty"`
}

// errGone: the key vanished while being looked up.
var errGone = errors.New("key gone")

// lookup finds the key and its owner from the key id alone, as the store
// has them now. errGone when the store no longer has it.
func (e *Engine) lookup(ctx context.Context, id string) (domain.Key, error) {
	k, err := e.Store.FindKey(ctx, id)
	if errors.Is(err, domain.ErrKeyNotFound) {
		return domain.Key{}, errGone
	}
	if err != nil {
		return domain.Key{}, e.storeError("find the owner of "+id, err)
	}
	if k.Account == "" {
		if k.Account, err = e.account(ctx); err != nil {
			return domain.Key{}, err
		}
	}
	return k, nil
}

// judgeNow evaluates the live key against p as a sweep would now, writing
// nothing: an inactive key keysweep has no date for is judged as if the
// delete clock started now, as a plan does. It reads the owner's tags and
// path when the policy needs them and the store has them, and returns
// notes on what it could not take into account.
func (e *Engine) judgeNow(ctx context.Context, k domain.Key, p *policy.Policy, source string, st *domain.KeyState, now time.Time) (*Judgement, domain.Owner, []string, error) {
	a := e.abilities()
	var notes []string
	o := domain.Owner{Name: k.Owner}
	var tags map[string]string
	if p.NeedsTags() && a.OwnerTags {
		t, err := e.Store.OwnerTags(ctx, o)
		if errors.Is(err, domain.ErrKeyNotFound) {
			return nil, o, nil, errGone
		}
		if err != nil {
			return nil, o, nil, e.storeError("tags of "+k.Owner, err)
		}
		tags = t
		if tags == nil {
			tags = map[string]string{}
		}
	}
	if needsPath(p) && a.OwnerPaths {
		path, err := e.Store.OwnerPath(ctx, o)
		if errors.Is(err, domain.ErrKeyNotFound) {
			return nil, o, nil, errGone
		}
		if err != nil {
			return nil, o, nil, e.storeError("path of "+k.Owner, err)
		}
		o.Path = path
	}
	notes = append(notes, p.Unserved(a.traits(e.Store.Provider()))...)
	pk := e.policyKey(k, o, tags, a)
	if st != nil && st.DeactivatedAt != nil && (k.Status == domain.StatusInactive || !a.Deactivate) {
		t := *st.DeactivatedAt
		pk.DeactivatedAt = &t
	}
	d := p.Evaluate(pk, now)
	if (k.Status == domain.StatusInactive || !a.Deactivate) && d.Stale && pk.DeactivatedAt == nil {
		t := now
		pk.DeactivatedAt = &t
		d = p.Evaluate(pk, now)
	}
	return &Judgement{PolicyVersion: p.Version, PolicySource: source, Mode: p.Mode, Decision: d}, o, notes, nil
}

// needsPath reports whether judging a key needs its owner's path.
func needsPath(p *policy.Policy) bool {
	if len(p.Exemptions.PathPrefixes) > 0 {
		return true
	}
	for _, o := range p.Overrides {
		if o.PathPrefix != "" {
			return true
		}
	}
	return false
}

// state reads keysweep's state of the key.
func (e *Engine) state(ctx context.Context, id string) (*domain.KeyState, error) {
	st, err := e.Journal.KeyState(ctx, id)
	if err != nil {
		return nil, journalError("read the state of "+id, err)
	}
	return st, nil
}

// history reads the key's records; ErrNotFound when there are none.
func (e *Engine) history(ctx context.Context, id string) ([]domain.Record, error) {
	recs, err := e.Journal.ByKey(ctx, id)
	if err != nil {
		return nil, journalError("read the records of "+id, err)
	}
	if len(recs) == 0 {
		return nil, fmt.Errorf("access key %s: %w: %s does not have it and keysweep has no record of it", id, ErrNotFound, e.ServiceName())
	}
	return recs, nil
}

// conflict describes the unsettled intent that blocks the key.
func (e *Engine) conflict(ctx context.Context, id string) error {
	st, err := e.Journal.KeyState(ctx, id)
	if err == nil && st != nil && st.Intent != nil {
		in := st.Intent
		return fmt.Errorf("%w: access key %s: %s by %s (run %s) since %s has no outcome yet; nothing was changed",
			ErrConflict, id, in.Action, orUnknown(in.Actor), in.RunID, in.At.UTC().Format(time.RFC3339))
	}
	return fmt.Errorf("%w: access key %s has an unsettled intent; nothing was changed", ErrConflict, id)
}

func orUnknown(s string) string {
	if s == "" {
		return "keysweep"
	}
	return s
}

// recordReason is the records' reason: who asked, why, and what the policy says.
func recordReason(req RevokeRequest, rev *Revocation) string {
	var b strings.Builder
	fmt.Fprintf(&b, "on-demand %s requested by %s", req.Action, orUnknown(req.Actor))
	if req.Reason != "" {
		b.WriteString(": " + req.Reason)
	}
	if rev.Policy != nil {
		fmt.Fprintf(&b, " — policy %s would %s (%s)", rev.Policy.PolicyVersion, rev.Policy.Verdict, rev.Policy.Reason)
	}
	return b.String()
}
