package sweep

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/keysweep/keysweep/policy"
	"github.com/keysweep/keysweep/store"
)

// History reads a key's audit records, oldest first. store.Dynamo and
// store.Mem satisfy it.
type History interface {
	ByKey(ctx context.Context, accessKeyID string) ([]store.Record, error)
}

// UserPaths reads a user's IAM path. It is optional: without it, path
// exemptions and path overrides cannot be judged, and a Revoker says so.
type UserPaths interface {
	UserPath(ctx context.Context, user string) (string, error)
}

// Errors a caller of Revoke and Inspect branches on (the API maps them to
// HTTP statuses).
var (
	// ErrNotFound: IAM has no such key and the audit table no record of it.
	// (ErrKeyNotFound is the Provider's lower-level "IAM says no such key".)
	ErrNotFound = errors.New("no such access key")
	// ErrConflict: the key has an unsettled intent (a sweep or another
	// revocation is acting on it, or crashed while doing so). Nothing was
	// changed; retrying later can succeed.
	ErrConflict = errors.New("another action on this key is in progress")
	// ErrBadRequest: the request itself is invalid (an unknown action).
	ErrBadRequest = errors.New("invalid revocation request")
)

// Services named by UpstreamError.
const (
	ServiceIAM      = "IAM"
	ServiceDynamoDB = "DynamoDB"
)

// UpstreamError is a failed call to IAM or the audit table. The API answers
// it with 502, or 503 when the service throttled.
type UpstreamError struct {
	Service string // ServiceIAM or ServiceDynamoDB
	Op      string // what was being done
	Err     error
}

func (e *UpstreamError) Error() string { return e.Op + ": " + e.Err.Error() }
func (e *UpstreamError) Unwrap() error { return e.Err }

func upstream(service, op string, err error) error {
	return &UpstreamError{Service: service, Op: op, Err: err}
}

// Outcomes of a revocation besides OutcomeDone and OutcomeGone.
const (
	// OutcomeAlreadyInactive: deactivation was asked for a key that is
	// already inactive; IAM was not called.
	OutcomeAlreadyInactive = "already-inactive"
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
	RevocationID string        `json:"revocationId,omitempty"`
	AccessKeyID  string        `json:"accessKeyId"`
	Account      string        `json:"account,omitempty"`
	UserName     string        `json:"userName,omitempty"`
	Action       string        `json:"action"`
	Outcome      string        `json:"outcome"` // done | gone | already-inactive
	Message      string        `json:"message"`
	StatusBefore policy.Status `json:"statusBefore,omitempty"`
	// Exempt says the policy exempts the key; an explicit revocation is
	// not blocked by exemptions, but it is recorded.
	Exempt bool       `json:"exempt"`
	Policy *Judgement `json:"policy,omitempty"`
	Actor  string     `json:"actor"`
	Reason string     `json:"reason,omitempty"`
	// Records are the records this revocation wrote or, when the key was
	// already gone, the key's earlier records.
	Records []store.Record `json:"records"`
	Notes   []string       `json:"notes,omitempty"`
}

// KeyView is one key as IAM, the policy and the audit table see it.
type KeyView struct {
	AccessKeyID string `json:"accessKeyId"`
	Account     string `json:"account,omitempty"`
	UserName    string `json:"userName,omitempty"`
	UserPath    string `json:"userPath,omitempty"`
	// Exists is false for a key IAM no longer has (known from its history).
	Exists     bool          `json:"exists"`
	Status     policy.Status `json:"status,omitempty"`
	CreatedAt  *time.Time    `json:"createdAt,omitempty"`
	LastUsedAt *time.Time    `json:"lastUsedAt,omitempty"`
	NeverUsed  bool          `json:"neverUsed,omitempty"`
	// Policy is what a sweep would decide now (nil for a gone key, or when
	// the policy could not be read).
	Policy *Judgement `json:"policy,omitempty"`
	Exempt bool       `json:"exempt"`
	// State is keysweep's lifecycle state for the key, if any.
	State   *store.KeyState `json:"state,omitempty"`
	History []store.Record  `json:"history"`
	Notes   []string        `json:"notes,omitempty"`
}

// Revoker deactivates or deletes single keys on demand, on the engine's
// primitives: the same Provider, the same write-ahead intent and outcome
// records, and the same per-key lock (an unsettled intent) as a sweep.
type Revoker struct {
	Provider Provider
	Journal  Journal
	History  History
	// Paths, when set, reads a user's path for path exemptions and overrides.
	Paths UserPaths
	// Now is the clock; time.Now when nil.
	Now func() time.Time
	// Logger; slog.Default when nil.
	Logger *slog.Logger
}

func (r *Revoker) now() time.Time {
	if r.Now != nil {
		return r.Now().UTC()
	}
	return time.Now().UTC()
}

func (r *Revoker) log() *slog.Logger {
	if r.Logger != nil {
		return r.Logger
	}
	return slog.Default()
}

// NewRevocationID returns a sortable, unique id for a revocation's records;
// "v-" keeps it apart from sweep run ids.
func NewRevocationID(at time.Time) string {
	var b [4]byte
	_, _ = rand.Read(b[:])
	return "v-" + at.UTC().Format("20060102T150405Z") + "-" + hex.EncodeToString(b[:])
}

// live is a key as IAM has it now.
type live struct {
	key  policy.Key // Account, UserName, AccessKeyID, Status, CreatedAt, LastUsedAt
	tags map[string]string
}

// errGone: the key vanished while being looked up.
var errGone = errors.New("key gone")

// lookup finds the key's owner from the key id alone and reads its live
// status. errGone when IAM no longer has it.
func (r *Revoker) lookup(ctx context.Context, id string) (*live, error) {
	owner, last, err := r.Provider.LastUsed(ctx, id)
	if errors.Is(err, ErrKeyNotFound) {
		return nil, errGone
	}
	if err != nil {
		return nil, upstream(ServiceIAM, "find the owner of "+id, err)
	}
	if owner == "" {
		return nil, errGone
	}
	keys, err := r.Provider.UserKeys(ctx, owner)
	if errors.Is(err, ErrKeyNotFound) {
		return nil, errGone
	}
	if err != nil {
		return nil, upstream(ServiceIAM, "list the keys of "+owner, err)
	}
	for _, k := range keys {
		if k.AccessKeyID != id {
			continue
		}
		k.UserName = owner
		k.LastUsedAt = last
		if k.Account == "" {
			acct, err := r.Provider.AccountID(ctx)
			if err != nil {
				return nil, upstream(ServiceIAM, "account id", err)
			}
			k.Account = acct
		}
		return &live{key: k}, nil
	}
	return nil, errGone
}

// needsPath reports whether judging a key needs its user's path.
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

// judge evaluates the live key against p as a sweep would now, writing
// nothing: an inactive key keysweep has no date for is judged as if the
// delete clock started now, as a plan does. It fills the key's tags and
// path when the policy needs them, and returns notes on what it could not
// take into account.
func (r *Revoker) judge(ctx context.Context, lv *live, p *policy.Policy, source string, st *store.KeyState, now time.Time) (*Judgement, []string, error) {
	var notes []string
	k := lv.key
	if p.NeedsTags() {
		tags, err := r.Provider.UserTags(ctx, k.UserName)
		if errors.Is(err, ErrKeyNotFound) {
			return nil, nil, errGone
		}
		if err != nil {
			return nil, nil, upstream(ServiceIAM, "tags of "+k.UserName, err)
		}
		if tags == nil {
			tags = map[string]string{}
		}
		k.UserTags = tags
		lv.tags = tags
	}
	if needsPath(p) {
		if r.Paths == nil {
			notes = append(notes, "the user's path was not read: path exemptions and path overrides were not considered")
		} else {
			path, err := r.Paths.UserPath(ctx, k.UserName)
			if errors.Is(err, ErrKeyNotFound) {
				return nil, nil, errGone
			}
			if err != nil {
				return nil, nil, upstream(ServiceIAM, "path of "+k.UserName, err)
			}
			k.UserPath = path
			lv.key.UserPath = path
		}
	}
	if k.Status == policy.StatusInactive && st != nil && st.DeactivatedAt != nil {
		t := *st.DeactivatedAt
		k.DeactivatedAt = &t
	}
	d := p.Evaluate(k, now)
	if k.Status == policy.StatusInactive && d.Stale && k.DeactivatedAt == nil {
		t := now
		k.DeactivatedAt = &t
		d = p.Evaluate(k, now)
	}
	return &Judgement{PolicyVersion: p.Version, PolicySource: source, Mode: p.Mode, Decision: d}, notes, nil
}

// state reads keysweep's state of the key.
func (r *Revoker) state(ctx context.Context, id string) (*store.KeyState, error) {
	st, err := r.Journal.KeyState(ctx, id)
	if err != nil {
		return nil, upstream(ServiceDynamoDB, "read the state of "+id, err)
	}
	return st, nil
}

// history reads the key's records; ErrNotFound when there are none.
func (r *Revoker) history(ctx context.Context, id string) ([]store.Record, error) {
	recs, err := r.History.ByKey(ctx, id)
	if err != nil {
		return nil, upstream(ServiceDynamoDB, "read the records of "+id, err)
	}
	if len(recs) == 0 {
		return nil, fmt.Errorf("access key %s: %w: IAM does not have it and keysweep has no record of it", id, ErrNotFound)
	}
	return recs, nil
}

// Revoke deactivates or deletes one key now. The owner is found from the
// key id alone. Exemptions do not block it, but the answer and the records
// say the key was exempt. The intent is recorded before the IAM call and the
// outcome after it, as in a sweep; a key another run is acting on is
// ErrConflict, and nothing changes.
//
// A key that is already gone is not an error when keysweep has records of
// it: the answer says so, with those records, and IAM is not called again.
// Without records it is ErrNotFound. Deactivating an inactive key makes no
// IAM call. IAM and audit-table failures are *UpstreamError.
func (r *Revoker) Revoke(ctx context.Context, req RevokeRequest) (*Revocation, error) {
	if req.Action != policy.Deactivate && req.Action != policy.Delete {
		return nil, fmt.Errorf("%w: action must be %q or %q, got %q", ErrBadRequest, policy.Deactivate, policy.Delete, req.Action)
	}
	id := req.AccessKeyID
	now := r.now()
	rev := &Revocation{AccessKeyID: id, Action: string(req.Action), Actor: req.Actor, Reason: req.Reason}
	log := r.log().With("key", id, "action", req.Action, "actor", req.Actor)

	lv, err := r.lookup(ctx, id)
	if errors.Is(err, errGone) {
		return r.gone(ctx, rev)
	}
	if err != nil {
		return nil, err
	}
	st, err := r.state(ctx, id)
	if err != nil {
		return nil, err
	}
	if req.Policy != nil {
		j, notes, err := r.judge(ctx, lv, req.Policy, req.PolicySource, st, now)
		if errors.Is(err, errGone) {
			return r.gone(ctx, rev)
		}
		if err != nil {
			return nil, err
		}
		rev.Policy = j
		rev.Exempt = j.Verdict == policy.Exempt
		rev.Notes = append(rev.Notes, notes...)
	} else {
		why := "no policy"
		if req.PolicyErr != nil {
			why = req.PolicyErr.Error()
		}
		rev.Notes = append(rev.Notes, "the key was not judged against the policy ("+why+"); the revocation went ahead")
	}
	k := lv.key
	rev.Account, rev.UserName, rev.StatusBefore = k.Account, k.UserName, k.Status
	if rev.Exempt {
		rev.Notes = append(rev.Notes, "the policy exempts this key ("+rev.Policy.Reason+"); an explicit revocation is not blocked by exemptions, and the records say it was exempt")
	}

	rec := store.Record{
		RunID:       NewRevocationID(now),
		Account:     k.Account,
		UserName:    k.UserName,
		AccessKeyID: id,
		Reason:      recordReason(req, rev),
		// The request changes IAM whatever mode the policy is in.
		Mode:   policy.ModeEnforce,
		At:     now,
		Action: string(req.Action),
		Actor:  req.Actor,
		Exempt: rev.Exempt,
	}
	if rev.Policy != nil {
		rec.Decision, rec.Rule, rec.PolicyVersion = rev.Policy.Verdict, rev.Policy.Rule, rev.Policy.PolicyVersion
	}

	if req.Action == policy.Deactivate && k.Status == policy.StatusInactive {
		rec.Kind = store.KindDecision
		rec.Result = OutcomeAlreadyInactive
		rec.Reason += "; already inactive, IAM not called"
		if err := r.Journal.RecordDecision(ctx, rec); err != nil {
			return nil, upstream(ServiceDynamoDB, "record the request for "+id, err)
		}
		rev.RevocationID = rec.RunID
		rev.Outcome = OutcomeAlreadyInactive
		rev.Message = fmt.Sprintf("access key %s of %s is already inactive; IAM was not called", id, k.UserName)
		rev.Records = []store.Record{rec}
		log.Info("revoke: already inactive")
		return rev, nil
	}

	intent := rec
	intent.Kind = store.KindIntent
	if err := r.Journal.WriteIntent(ctx, intent); err != nil {
		if errors.Is(err, store.ErrIntentPending) {
			return nil, r.conflict(ctx, id)
		}
		return nil, upstream(ServiceDynamoDB, "write the intent for "+id+" (IAM not called)", err)
	}
	rev.RevocationID = rec.RunID
	switch req.Action {
	case policy.Deactivate:
		err = r.Provider.Deactivate(ctx, k.UserName, id)
	default:
		err = r.Provider.Delete(ctx, k.UserName, id)
	}
	out := intent
	out.Kind = store.KindOutcome
	out.At = r.now()
	if !out.At.After(intent.At) {
		// The outcome sorts after its intent.
		out.At = intent.At.Add(time.Microsecond)
	}
	var callErr error
	switch {
	case errors.Is(err, ErrKeyNotFound):
		out.Result = store.ResultGone
		rev.Outcome = OutcomeGone
		rev.Message = fmt.Sprintf("access key %s of %s was already gone when keysweep acted", id, k.UserName)
	case err != nil:
		out.Result = store.ResultFailed
		out.Error = err.Error()
		callErr = upstream(ServiceIAM, string(req.Action)+" "+id, err)
	default:
		out.Result = store.ResultDone
		rev.Outcome = OutcomeDone
		verb := "deleted"
		if req.Action == policy.Deactivate {
			verb = "deactivated"
		}
		rev.Message = fmt.Sprintf("%s access key %s of %s", verb, id, k.UserName)
	}
	// The outcome is written even when the caller has gone away: the IAM
	// call was made (or failed) either way.
	wctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
	defer cancel()
	rev.Records = []store.Record{intent}
	if werr := r.Journal.WriteOutcome(wctx, out); werr != nil {
		log.Error("write outcome; the next sweep settles the intent", "err", werr)
		rev.Notes = append(rev.Notes, "the outcome record could not be written ("+werr.Error()+"); the next sweep settles the intent against IAM")
	} else {
		rev.Records = append(rev.Records, out)
	}
	if callErr != nil {
		log.Error("revoke: iam call failed", "err", err)
		return nil, callErr
	}
	log.Info("revoke", "outcome", rev.Outcome, "user", k.UserName, "exempt", rev.Exempt)
	return rev, nil
}

// gone answers for a key IAM no longer has: its earlier records, or
// ErrNotFound without any.
func (r *Revoker) gone(ctx context.Context, rev *Revocation) (*Revocation, error) {
	recs, err := r.history(ctx, rev.AccessKeyID)
	if err != nil {
		return nil, err
	}
	last := recs[len(recs)-1]
	rev.Account, rev.UserName = last.Account, last.UserName
	rev.Outcome = OutcomeGone
	rev.Message = fmt.Sprintf("access key %s no longer exists in IAM; nothing was changed; its earlier records follow", rev.AccessKeyID)
	rev.Records = recs
	rev.Reason = ""
	return rev, nil
}

// conflict describes the unsettled intent that blocks the key.
func (r *Revoker) conflict(ctx context.Context, id string) error {
	st, err := r.Journal.KeyState(ctx, id)
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

// Inspect reads one key: owner, status, dates, what the policy decides
// now, keysweep's state and its audit history. It writes nothing. A key IAM
// no longer has is shown from its history (Exists false); without history
// it is ErrNotFound.
func (r *Revoker) Inspect(ctx context.Context, id string, p *policy.Policy, source string, perr error) (*KeyView, error) {
	now := r.now()
	v := &KeyView{AccessKeyID: id}
	lv, err := r.lookup(ctx, id)
	switch {
	case errors.Is(err, errGone):
		return r.goneView(ctx, v)
	case err != nil:
		return nil, err
	}
	st, err := r.state(ctx, id)
	if err != nil {
		return nil, err
	}
	if p != nil {
		j, notes, err := r.judge(ctx, lv, p, source, st, now)
		if errors.Is(err, errGone) {
			return r.goneView(ctx, v)
		}
		if err != nil {
			return nil, err
		}
		v.Policy, v.Exempt, v.Notes = j, j.Verdict == policy.Exempt, notes
	} else if perr != nil {
		v.Notes = append(v.Notes, "not judged: "+perr.Error())
	}
	k := lv.key
	v.Exists = true
	v.Account, v.UserName, v.UserPath, v.Status = k.Account, k.UserName, k.UserPath, k.Status
	if !k.CreatedAt.IsZero() {
		c := k.CreatedAt
		v.CreatedAt = &c
	}
	v.LastUsedAt, v.NeverUsed = k.LastUsedAt, k.LastUsedAt == nil
	v.State = st
	recs, err := r.History.ByKey(ctx, id)
	if err != nil {
		return nil, upstream(ServiceDynamoDB, "read the records of "+id, err)
	}
	v.History = recs
	if v.History == nil {
		v.History = []store.Record{}
	}
	return v, nil
}

func (r *Revoker) goneView(ctx context.Context, v *KeyView) (*KeyView, error) {
	recs, err := r.history(ctx, v.AccessKeyID)
	if err != nil {
		return nil, err
	}
	st, err := r.state(ctx, v.AccessKeyID)
	if err != nil {
		return nil, err
	}
	last := recs[len(recs)-1]
	v.Account, v.UserName, v.State, v.History = last.Account, last.UserName, st, recs
	v.Notes = append(v.Notes, "the key no longer exists in IAM; shown from its audit records")
	return v, nil
}
