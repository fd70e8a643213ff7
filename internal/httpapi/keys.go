package httpapi

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"regexp"

	"github.com/keysweep/keysweep/internal/domain"
	"github.com/keysweep/keysweep/internal/engine"
	"github.com/keysweep/keysweep/internal/trigger"
	"github.com/keysweep/keysweep/policy"
)

// Key ids: IAM access key ids are 16 to 128 word characters; Huawei/OTC
// AKs are 20 letters and digits; GMI API key ids are UUIDs.
var keyIDRE = regexp.MustCompile(`^[\w-]{16,128}$`)

// revokeFields names the fields POST .../revoke accepts.
var revokeFields = []string{"reason", "action"}

// target finds the route's target: the default one for /keys/..., the
// named one for /targets/{target}/keys/....
func (a *API) target(r *http.Request) (engine.Target, *engine.Engine, error) {
	name := r.PathValue("target")
	var t *engine.Target
	for i := range a.Targets {
		if (name == "" && i == 0) || a.Targets[i].Name == name {
			t = &a.Targets[i]
			break
		}
	}
	if t == nil {
		return engine.Target{}, nil, &apiError{status: http.StatusNotFound, code: "target_not_found",
			message: "no target " + trigger.Quote(name, 64) + "; the API serves " + a.targetNames()}
	}
	eng, err := t.Resolve(r.Context())
	if err != nil {
		return *t, nil, &domain.ServiceError{Service: t.Name, Op: "open target " + t.Name, Err: err}
	}
	return *t, eng, nil
}

func (a *API) targetNames() string {
	s := ""
	for i, t := range a.Targets {
		if i > 0 {
			s += ", "
		}
		s += t.Name
	}
	return s
}

func keyID(r *http.Request) (string, error) {
	id := r.PathValue("accessKeyId")
	if !keyIDRE.MatchString(id) {
		return "", badRequest("invalid_key_id", "accessKeyId: a key id is 16 to 128 letters, digits, underscores or hyphens, got "+trigger.Quote(id, 40))
	}
	return id, nil
}

// loadPolicy reads the target's current policy. An invalid stored policy
// is not a failure here (perr): a key can still be revoked or shown,
// unjudged. A failed read of the policy table is.
func (a *API) loadPolicy(ctx context.Context, t engine.Target) (p *policy.Policy, source string, perr error, err error) {
	p, source, err = engine.LoadPolicy(ctx, a.Policies, t.PolicyID)
	switch {
	case err == nil:
		return p, source, nil, nil
	case errors.Is(err, policy.ErrInvalid):
		return nil, source, err, nil
	}
	return nil, "", nil, &domain.ServiceError{Service: engine.ServiceJournal, Op: "read the policy", Err: err}
}

func (a *API) revoke(r *http.Request) (*reply, error) {
	id, err := keyID(r)
	if err != nil {
		return nil, err
	}
	fields, err := readObject(r, revokeFields...)
	if err != nil {
		return nil, err
	}
	reason, err := stringField(fields, "reason")
	if err != nil {
		return nil, err
	}
	if err := checkReason(reason); err != nil {
		return nil, err
	}
	actionName, err := stringField(fields, "action")
	if err != nil {
		return nil, err
	}
	var action policy.Verdict
	switch actionName {
	case "", "delete":
		action = policy.Delete
	case "deactivate":
		action = policy.Deactivate
	default:
		return nil, badRequest("invalid_action", `action: must be "delete" (the default) or "deactivate", got `+trigger.Quote(actionName, 40))
	}
	t, eng, err := a.target(r)
	if err != nil {
		return nil, err
	}
	p, source, perr, err := a.loadPolicy(r.Context(), t)
	if err != nil {
		return nil, err
	}
	rev, err := eng.Revoke(r.Context(), engine.RevokeRequest{
		AccessKeyID: id, Action: action, Reason: reason, Actor: CallerFrom(r.Context()),
		Policy: p, PolicySource: source, PolicyErr: perr,
	})
	if err != nil {
		return nil, err
	}
	return &reply{status: http.StatusOK, body: rev}, nil
}

func (a *API) getKey(r *http.Request) (*reply, error) {
	id, err := keyID(r)
	if err != nil {
		return nil, err
	}
	t, eng, err := a.target(r)
	if err != nil {
		return nil, err
	}
	p, source, perr, err := a.loadPolicy(r.Context(), t)
	if err != nil {
		return nil, err
	}
	v, err := eng.Inspect(r.Context(), id, p, source, perr)
	if err != nil {
		return nil, err
	}
	return &reply{status: http.StatusOK, body: v}, nil
}

// readObject reads the request body (at most MaxBodyBytes) as a JSON
// object with the allowed fields, each spelled exactly and given once.
func readObject(r *http.Request, allowed ...string) (map[string]json.RawMessage, error) {
	body, err := io.ReadAll(io.LimitReader(r.Body, MaxBodyBytes+1))
	if err != nil {
		return nil, badRequest("invalid_body", "body: "+err.Error())
	}
	if len(body) > MaxBodyBytes {
		return nil, &apiError{status: http.StatusRequestEntityTooLarge, code: "body_too_large", message: fmt.Sprintf("body: at most %d bytes", MaxBodyBytes)}
	}
	fields, err := trigger.DecodeObject(body, "body", allowed...)
	var fe *trigger.FieldError
	if errors.As(err, &fe) {
		return nil, badRequest(fe.Code, fe.Message)
	}
	return fields, err
}
