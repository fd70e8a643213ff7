package gmiapi

import (
	"bytes"
	"encoding/json"
	"io"
	"mime"
	"net/http"
	"regexp"
	"slices"
	"strings"
)

const base = "/api/v1"

var (
	uuidRE     = regexp.MustCompile(`^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$`)
	clientIDRE = regexp.MustCompile(`^[A-Za-z0-9]{1,7}$`)
)

func clientIDOK(id string) bool { return clientIDRE.MatchString(id) }

// errStatusMsg is the reference's ErrStatusMsg schema.
type errStatusMsg struct {
	Group            string             `json:"group"`
	Code             int                `json:"code"`
	Message          string             `json:"message,omitempty"`
	Traces           []string           `json:"traces,omitempty"`
	ValidationDetail []validationDetail `json:"validationDetail,omitempty"`
}

type validationDetail struct {
	Field         string `json:"field"`
	Expression    string `json:"expression"`
	OriginalValue any    `json:"originalValue"`
	Reason        string `json:"reason"`
}

// answer is what a handler decided: a status and a JSON body (nil: none).
type answer struct {
	status int
	body   any
}

func invalidField(field, expr string, value any, reason string) answer {
	return answer{http.StatusBadRequest, errStatusMsg{Group: "request", Code: 0,
		ValidationDetail: []validationDetail{{Field: field, Expression: expr, OriginalValue: value, Reason: reason}}}}
}

var (
	unauthorized = answer{status: http.StatusUnauthorized}
	orgNotFound  = answer{http.StatusNotFound, errStatusMsg{Group: "organization", Code: 2, Message: "Organization does not exist."}}
)

func (s *Server) routes() http.Handler {
	mux := http.NewServeMux()
	mux.Handle("GET "+base+"/organizations/{orgId}/api-keys", s.op(OpListAPIKeys, s.listKeys))
	mux.Handle("DELETE "+base+"/organizations/{orgId}/api-keys/{apiKeyId}", s.op(OpDeleteAPIKey, s.deleteKey))
	mux.Handle("PATCH "+base+"/me/sessions", s.op(OpRefreshSession, s.refreshSession))
	mux.Handle("GET "+base+"/me/profile", s.op(OpGetProfile, s.profile))
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rec := &statusRecorder{ResponseWriter: w}
		mux.ServeHTTP(rec, r)
		s.mu.Lock()
		defer s.mu.Unlock()
		if rec.op == "" { // a route the API does not have (404/405 by the mux)
			s.requests = append(s.requests, Request{Method: r.Method, Path: r.URL.Path, Status: rec.status})
		}
	})
}

type statusRecorder struct {
	http.ResponseWriter
	status int
	op     string
}

func (r *statusRecorder) WriteHeader(code int) {
	r.status = code
	r.ResponseWriter.WriteHeader(code)
}

// op runs a handler under s.mu, counts and records the request, and writes
// the answer. Every operation refuses a query parameter (none is
// documented); handlers check the rest.
func (s *Server) op(name string, h func(*http.Request) answer) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var a answer
		func() {
			s.mu.Lock()
			defer s.mu.Unlock()
			s.calls[name]++
			if len(r.URL.Query()) > 0 {
				names := slices.Sorted(func(yield func(string) bool) {
					for k := range r.URL.Query() {
						if !yield(k) {
							return
						}
					}
				})
				a = invalidField(names[0], "unknown", r.URL.Query().Get(names[0]), "This operation takes no query parameter.")
			} else {
				a = h(r)
			}
			s.requests = append(s.requests, Request{Op: name, Method: r.Method, Path: r.URL.Path, Status: a.status})
		}()
		if rec, ok := w.(*statusRecorder); ok {
			rec.op = name
		}
		if a.body == nil {
			w.WriteHeader(a.status)
			return
		}
		b, _ := json.Marshal(a.body)
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(a.status)
		_, _ = w.Write(b)
	})
}

// session authenticates a request by its bearer access token; s.mu held.
func (s *Server) session(r *http.Request) *sess {
	h := r.Header.Get("Authorization")
	tok, ok := strings.CutPrefix(h, "Bearer ")
	if !ok || tok == "" || len(r.Header.Values("Authorization")) != 1 {
		return nil
	}
	return s.access[tok]
}

// orgRequest does what every /organizations/{orgId} operation does first:
// authentication (401), no body, a UUID orgId (400 request/0), an existing
// organization the session's user belongs to (404 organization/2). s.mu
// held.
func (s *Server) orgRequest(r *http.Request) (*sess, *org, *answer) {
	se := s.session(r)
	if se == nil {
		return nil, nil, &unauthorized
	}
	if r.ContentLength != 0 {
		a := invalidField("body", "empty", nil, "This operation takes no request body.")
		return nil, nil, &a
	}
	id := r.PathValue("orgId")
	if !uuidRE.MatchString(id) {
		a := invalidField("orgId", "uuid", id, "Should be a valid UUID.")
		return nil, nil, &a
	}
	o := s.orgs[id]
	if o == nil || se.org != id {
		return nil, nil, &orgNotFound
	}
	return se, o, nil
}

// injected consumes an injected fault of operation name; s.mu held.
func (s *Server) injected(name string) *answer {
	f := s.faults[name]
	if f == nil || f.n == 0 {
		return nil
	}
	if f.n > 0 {
		f.n--
	}
	a := answer{http.StatusInternalServerError, errStatusMsg{Group: f.group, Code: f.code,
		Message: faultMessage(f.group, f.code), Traces: []string{"DB error occurred."}}}
	return &a
}

func faultMessage(group string, code int) string {
	switch {
	case group == "api-key" && code == 1201:
		return "Get API key encountered DB error."
	case group == "api-key" && code == 1600:
		return "Delete API key encountered DB error."
	case group == "organization" && code == 1201:
		return "Get organization encountered DB error."
	}
	return "Internal error."
}

// listKeys is "List API keys": {"keys": [...]}, an organization user's own
// keys only.
func (s *Server) listKeys(r *http.Request) answer {
	se, o, a := s.orgRequest(r)
	if a != nil {
		return *a
	}
	if a := s.injected(OpListAPIKeys); a != nil {
		return *a
	}
	role := o.users[se.user].Role
	keys := []map[string]any{}
	for _, k := range s.sortedKeys(o) {
		if (role != RoleOwner && role != RoleAdmin) && (k.Owner == nil || k.Owner.ID != se.user) {
			continue
		}
		keys = append(keys, wireKey(k))
	}
	return answer{http.StatusOK, map[string]any{"keys": keys}}
}

func (s *Server) sortedKeys(o *org) []Key {
	out := make([]Key, 0, len(o.keys))
	for _, k := range o.keys {
		out = append(out, *k)
	}
	slices.SortFunc(out, func(a, b Key) int { return strings.Compare(a.ID, b.ID) })
	return out
}

func wireKey(k Key) map[string]any {
	m := map[string]any{
		"id": k.ID, "name": k.Name, "type": k.Type, "scope": k.Scope,
		"partialKey": k.PartialKey, "createdAt": k.CreatedAt.Unix(),
	}
	if !k.ExpiresAt.IsZero() {
		m["expiresAt"] = k.ExpiresAt.Unix()
	}
	if k.Owner != nil {
		m["owner"] = map[string]any{"id": k.Owner.ID, "firstName": k.Owner.FirstName, "lastName": k.Owner.LastName}
	}
	return m
}

// deleteKey is "Delete an API key": 200 without a body.
func (s *Server) deleteKey(r *http.Request) answer {
	se, o, a := s.orgRequest(r)
	if a != nil {
		return *a
	}
	id := r.PathValue("apiKeyId")
	if !uuidRE.MatchString(id) {
		return invalidField("apiKeyId", "uuid", id, "Should be a valid UUID.")
	}
	if a := s.injected(OpDeleteAPIKey); a != nil {
		return *a
	}
	k := o.keys[id]
	if k == nil {
		return answer{http.StatusNotFound, errStatusMsg{Group: AssumedUnknownKeyGroup,
			Code: AssumedUnknownKeyCode, Message: AssumedUnknownKeyMessage}}
	}
	if role := o.users[se.user].Role; role != RoleOwner && role != RoleAdmin && (k.Owner == nil || k.Owner.ID != se.user) {
		return answer{status: http.StatusForbidden} // "can only delete the API keys they created"
	}
	delete(o.keys, id)
	return answer{status: http.StatusOK}
}

// refreshSession is "Refresh session": CE-ClientId header (400 auth/0),
// a JSON body (400 request/1 when absent) with refreshToken (400
// request/0), a valid refresh token of that client (400 auth/1). It
// returns new tokens; the old ones stop working.
func (s *Server) refreshSession(r *http.Request) answer {
	cid := r.Header.Get("CE-ClientId")
	if !clientIDOK(cid) {
		return answer{http.StatusBadRequest, errStatusMsg{Group: "auth", Code: 0, Message: "Invalid CE-ClientId."}}
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, 1<<16))
	if err != nil || len(bytes.TrimSpace(body)) == 0 {
		return answer{http.StatusBadRequest, errStatusMsg{Group: "request", Code: 1, Message: "The request body is required."}}
	}
	if mt, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type")); mt != "application/json" {
		return invalidField("Content-Type", "json", mt, "The request body must be JSON.")
	}
	var req struct {
		RefreshToken *string `json:"refreshToken"`
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&req); err != nil {
		return invalidField("body", "json", nil, "The request body is not a refresh session request.")
	}
	if req.RefreshToken == nil || *req.RefreshToken == "" {
		return invalidField("refreshToken", "required", "", "This field is required.")
	}
	if strings.Count(*req.RefreshToken, ".") != 2 {
		// Assumed: the reference gives refresh tokens as JWTs; the detail
		// echoes the value, as validationDetail's originalValue does.
		return invalidField("refreshToken", "jwt", *req.RefreshToken, "Should be a valid JWT.")
	}
	if a := s.injected(OpRefreshSession); a != nil {
		return *a
	}
	se := s.refresh[*req.RefreshToken]
	if se == nil || se.clientID != cid {
		return answer{http.StatusBadRequest, errStatusMsg{Group: "auth", Code: 1, Message: "Invalid refreshToken."}}
	}
	s.issue(se)
	return answer{http.StatusOK, map[string]string{"accessToken": se.access, "refreshToken": se.refresh}}
}

// profile is "Retrieve user's profile".
func (s *Server) profile(r *http.Request) answer {
	se := s.session(r)
	if se == nil {
		return unauthorized
	}
	if a := s.injected(OpGetProfile); a != nil {
		return *a
	}
	u := s.orgs[se.org].users[se.user]
	return answer{http.StatusOK, map[string]any{
		"user": map[string]any{"id": u.ID, "email": u.Email, "firstName": u.FirstName, "lastName": u.LastName,
			"lastLoginAt": s.now().Unix(), "lastLoginIDP": "native"},
		"organization": map[string]any{"id": se.org, "role": u.Role},
	}}
}
