package huaweiiam

import (
	"bytes"
	"encoding/json"
	"net/http"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"time"
)

// Route patterns, as Calls names them.
const (
	RouteAuthDomains      = "GET /v3/auth/domains"
	RouteListUsers        = "GET /v3/users"
	RouteShowUser         = "GET /v3/users/{user_id}"
	RouteListCredentials  = "GET /v3.0/OS-CREDENTIAL/credentials"
	RouteShowCredential   = "GET /v3.0/OS-CREDENTIAL/credentials/{access_key}"
	RouteUpdateCredential = "PUT /v3.0/OS-CREDENTIAL/credentials/{access_key}"
	RouteDeleteCredential = "DELETE /v3.0/OS-CREDENTIAL/credentials/{access_key}"
	RouteListUsersV5      = "GET /v5/users"
	RouteListKeysV5       = "GET /v5/users/{user_id}/access-keys"
	RouteKeyLastUsedV5    = "GET /v5/users/{user_id}/access-keys/{access_key_id}/last-used"
	RouteTagsV5           = "GET /v5/{resource_type}/{resource_id}/tags"
	RouteUnknown          = "unknown API"
)

// Time formats of the answers: v3.0's create_time/last_use_time
// ("2020-01-08T06:26:08.123059Z") and v5's created_at ("2023-09-13T06:51:20.550Z").
const (
	v3Time = "2006-01-02T15:04:05.000000Z"
	v5Time = "2006-01-02T15:04:05.000Z"
)

func (s *Server) routes() http.Handler {
	mux := http.NewServeMux()
	s.handle(mux, RouteAuthDomains, styleKeystone, nil, s.listAuthDomains)
	s.handle(mux, RouteListUsers, styleKeystone, []string{"domain_id", "enabled", "name", "password_expires_at", "marker", "limit"}, s.listUsers)
	s.handle(mux, RouteShowUser, styleKeystone, nil, s.showUser)
	s.handle(mux, RouteListCredentials, styleIAM, []string{"user_id"}, s.listCredentials)
	s.handle(mux, RouteShowCredential, styleIAM, nil, s.showCredential)
	s.handle(mux, RouteUpdateCredential, styleIAM, nil, s.updateCredential)
	s.handle(mux, RouteDeleteCredential, styleIAM, nil, s.deleteCredential)
	if s.opts.V5 {
		s.handle(mux, RouteListUsersV5, styleIAM, []string{"limit", "marker", "group_id"}, s.listUsersV5)
		s.handle(mux, RouteListKeysV5, styleIAM, []string{"limit", "marker"}, s.listKeysV5)
		s.handle(mux, RouteKeyLastUsedV5, styleIAM, nil, s.keyLastUsedV5)
		s.handle(mux, RouteTagsV5, styleIAM, nil, s.tagsV5)
	}
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		s.record(RouteUnknown, http.StatusNotFound)
		gatewayError(w, http.StatusNotFound, "APIG.0101", msgNoSuchAPI)
	})
	return mux
}

// handle serves a route: count it, verify the signature, refuse unknown
// query parameters, apply injected faults, then answer.
func (s *Server) handle(mux *http.ServeMux, pattern string, style errStyle, params []string, h func(http.ResponseWriter, *http.Request)) {
	mux.HandleFunc(pattern, func(w http.ResponseWriter, r *http.Request) {
		rec := &statusRecorder{ResponseWriter: w}
		defer func() { s.record(pattern, rec.status) }()
		if _, err := s.verify(r); err != nil {
			gatewayError(rec, http.StatusUnauthorized, "APIG.0301", err.Error())
			return
		}
		if d := r.Header.Get("X-Domain-Id"); d != "" && d != s.opts.DomainID {
			apiError(rec, style, http.StatusForbidden, "IAM.0002", msgForbidden)
			return
		}
		for key := range r.URL.Query() {
			if !contains(params, key) {
				badParam(rec, style, key)
				return
			}
		}
		if status := s.injected(pattern); status != 0 {
			faultAnswer(rec, style, status)
			return
		}
		h(rec, r)
	})
}

func (s *Server) record(route string, status int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.calls[route]++
	s.statuses[status]++
}

func contains(list []string, v string) bool {
	for _, x := range list {
		if x == v {
			return true
		}
	}
	return false
}

func (s *Server) listAuthDomains(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, http.StatusOK, map[string]any{
		"domains": []map[string]any{{
			"id": s.opts.DomainID, "name": s.opts.DomainName, "enabled": true, "description": "",
			"links": map[string]any{"self": s.URL + "/v3/domains/" + s.opts.DomainID},
		}},
		"links": map[string]any{"self": s.URL + r.URL.RequestURI(), "previous": nil, "next": nil},
	})
}

// listUsers is KeystoneListUsers: filtered by domain_id, enabled and name;
// with Options.UsersPageSize (or a limit) it pages through links.next.
func (s *Server) listUsers(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	if d := q.Get("domain_id"); d != "" && d != s.opts.DomainID {
		apiError(w, styleKeystone, http.StatusForbidden, "", msgForbidden)
		return
	}
	enabled := q.Get("enabled")
	if enabled != "" && enabled != "true" && enabled != "false" {
		apiError(w, styleKeystone, http.StatusBadRequest, "", "Invalid input for field 'enabled'.")
		return
	}
	limit := s.opts.UsersPageSize
	if l := q.Get("limit"); l != "" {
		n, err := strconv.Atoi(l)
		if err != nil || n < 1 {
			apiError(w, styleKeystone, http.StatusBadRequest, "", "Invalid input for field 'limit'.")
			return
		}
		limit = n
	}
	s.mu.Lock()
	var users []User
	for _, u := range s.users {
		if (enabled == "" || strconv.FormatBool(u.Enabled) == enabled) && (q.Get("name") == "" || q.Get("name") == u.Name) {
			users = append(users, *u)
		}
	}
	s.mu.Unlock()
	sort.Slice(users, func(i, j int) bool { return users[i].ID < users[j].ID })
	if m := q.Get("marker"); m != "" {
		i := sort.Search(len(users), func(i int) bool { return users[i].ID > m })
		users = users[i:]
	}
	var next any
	if limit > 0 && len(users) > limit {
		users = users[:limit]
		nq := url.Values{}
		for k, v := range q {
			nq[k] = v
		}
		nq.Set("marker", users[len(users)-1].ID)
		nq.Set("limit", strconv.Itoa(limit))
		next = s.URL + "/v3/users?" + nq.Encode()
	}
	out := make([]map[string]any, len(users))
	for i, u := range users {
		out[i] = s.keystoneUser(u)
	}
	writeJSON(w, http.StatusOK, map[string]any{
		"links": map[string]any{"self": s.URL + r.URL.RequestURI(), "previous": nil, "next": next},
		"users": out,
	})
}

func (s *Server) keystoneUser(u User) map[string]any {
	return map[string]any{
		"id": u.ID, "name": u.Name, "domain_id": s.opts.DomainID, "enabled": u.Enabled, "description": "",
		"password_expires_at": nil, "pwd_status": true,
		"links": map[string]any{"self": s.URL + "/v3/users/" + u.ID},
	}
}

func (s *Server) showUser(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("user_id")
	s.mu.Lock()
	u, ok := s.users[id]
	var user User
	if ok {
		user = *u
	}
	s.mu.Unlock()
	if !ok {
		notFound(w, styleKeystone, "user", id)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"user": s.keystoneUser(user)})
}

// credentialJSON is a key as "Querying a Permanent Access Key" answers it;
// the listing leaves last_use_time out, as "Querying Permanent Access Keys"
// documents. A key never used answers its creation time as last use.
func credentialJSON(k Key, withLastUse bool) map[string]any {
	m := map[string]any{
		"user_id": k.UserID, "access": k.Access, "status": k.Status,
		"create_time": k.Created.Format(v3Time), "description": k.Description,
	}
	if withLastUse {
		last := k.Created
		if k.LastUsed != nil {
			last = *k.LastUsed
		}
		m["last_use_time"] = last.Format(v3Time)
	}
	return m
}

func (s *Server) listCredentials(w http.ResponseWriter, r *http.Request) {
	userID := r.URL.Query().Get("user_id")
	s.mu.Lock()
	_, known := s.users[userID]
	var keys []Key
	for _, k := range s.keys {
		if k.UserID == userID {
			keys = append(keys, *k)
		}
	}
	s.mu.Unlock()
	if userID != "" && !known {
		notFound(w, styleIAM, "user", userID)
		return
	}
	// By creation, then by access key: keys made in the same instant
	// come in one order every time.
	sort.Slice(keys, func(i, j int) bool {
		if !keys[i].Created.Equal(keys[j].Created) {
			return keys[i].Created.Before(keys[j].Created)
		}
		return keys[i].Access < keys[j].Access
	})
	out := make([]map[string]any, len(keys))
	for i, k := range keys {
		out[i] = credentialJSON(k, false)
	}
	writeJSON(w, http.StatusOK, map[string]any{"credentials": out})
}

func (s *Server) showCredential(w http.ResponseWriter, r *http.Request) {
	k, ok := s.Key(r.PathValue("access_key"))
	if !ok {
		notFound(w, styleIAM, "credential", r.PathValue("access_key"))
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"credential": credentialJSON(k, true)})
}

// updateCredential is "Modifying a Permanent Access Key": a JSON body
// {"credential": {"status": "active"|"inactive", "description": "..."}},
// nothing else.
func (s *Server) updateCredential(w http.ResponseWriter, r *http.Request) {
	if !strings.HasPrefix(strings.ToLower(r.Header.Get("Content-Type")), "application/json") {
		apiError(w, styleIAM, http.StatusBadRequest, "IAM.0011", msgBodyInvalid)
		return
	}
	var body struct {
		Credential *struct {
			Status      *string `json:"status"`
			Description *string `json:"description"`
		} `json:"credential"`
	}
	dec := json.NewDecoder(r.Body)
	dec.DisallowUnknownFields()
	if err := dec.Decode(&body); err != nil || body.Credential == nil || dec.More() {
		apiError(w, styleIAM, http.StatusBadRequest, "IAM.0011", msgBodyInvalid)
		return
	}
	c := body.Credential
	if c.Status != nil && *c.Status != "active" && *c.Status != "inactive" {
		badParam(w, styleIAM, "status")
		return
	}
	if c.Description != nil && len(*c.Description) > 255 {
		badParam(w, styleIAM, "description")
		return
	}
	ak := r.PathValue("access_key")
	ok := s.SetKey(ak, func(k *Key) {
		if c.Status != nil {
			k.Status = *c.Status
		}
		if c.Description != nil {
			k.Description = *c.Description
		}
	})
	if !ok {
		notFound(w, styleIAM, "credential", ak)
		return
	}
	k, _ := s.Key(ak)
	writeJSON(w, http.StatusOK, map[string]any{"credential": credentialJSON(k, false)})
}

// deleteCredential is "Deleting a Permanent Access Key": 204, or 404.
func (s *Server) deleteCredential(w http.ResponseWriter, r *http.Request) {
	if b, _ := readAll(r); len(bytes.TrimSpace(b)) > 0 {
		apiError(w, styleIAM, http.StatusBadRequest, "IAM.0011", msgBodyInvalid)
		return
	}
	ak := r.PathValue("access_key")
	s.mu.Lock()
	_, ok := s.keys[ak]
	delete(s.keys, ak)
	s.mu.Unlock()
	if !ok {
		notFound(w, styleIAM, "credential", ak)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

func readAll(r *http.Request) ([]byte, error) {
	var b bytes.Buffer
	_, err := b.ReadFrom(r.Body)
	return b.Bytes(), err
}

// formatV5 is v5's created_at / last_used_at.
func formatV5(t time.Time) string { return t.UTC().Format(v5Time) }
