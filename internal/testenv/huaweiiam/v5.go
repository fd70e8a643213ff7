package huaweiiam

import (
	"encoding/base64"
	"net/http"
	"sort"
	"strconv"
)

// IAM v5 routes (Options.V5), from the IAM 5.0 API Reference: ListUsersV5,
// ListAccessKeysV5 ("Querying All Permanent Access Keys"),
// ShowAccessKeyLastUsedV5 ("Querying the Last Usage Time of a Specified
// Permanent Access Key") and ListResourceTagsV5 ("Obtaining All Tags of a
// Specified Resource"). Pages: limit 1..200 (default 100), an opaque
// marker, page_info.next_marker while more remain.

// page cuts ids (sorted) to the page the query asks for; ok false after
// answering 400.
func page(w http.ResponseWriter, r *http.Request, ids []string) (out []string, pageInfo map[string]any, ok bool) {
	limit := 100
	if l := r.URL.Query().Get("limit"); l != "" {
		n, err := strconv.Atoi(l)
		if err != nil || n < 1 || n > 200 {
			badParam(w, styleIAM, "limit")
			return nil, nil, false
		}
		limit = n
	}
	start := 0
	if m := r.URL.Query().Get("marker"); m != "" {
		after, err := base64.RawURLEncoding.DecodeString(m)
		if err != nil || len(m) < 4 || len(m) > 400 {
			badParam(w, styleIAM, "marker")
			return nil, nil, false
		}
		start = sort.SearchStrings(ids, string(after)+"\x00")
	}
	ids = ids[start:]
	pageInfo = map[string]any{}
	if len(ids) > limit {
		ids = ids[:limit]
		pageInfo["next_marker"] = base64.RawURLEncoding.EncodeToString([]byte(ids[len(ids)-1]))
	}
	pageInfo["current_count"] = len(ids)
	return ids, pageInfo, true
}

func (s *Server) listUsersV5(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	ids := make([]string, 0, len(s.users))
	for id := range s.users {
		ids = append(ids, id)
	}
	s.mu.Unlock()
	sort.Strings(ids)
	ids, info, ok := page(w, r, ids)
	if !ok {
		return
	}
	users := make([]map[string]any, 0, len(ids))
	s.mu.Lock()
	for _, id := range ids {
		if u, ok := s.users[id]; ok {
			users = append(users, map[string]any{
				"user_id": u.ID, "user_name": u.Name, "enabled": u.Enabled, "is_root_user": false,
				"urn": "iam::" + s.opts.DomainID + ":user:" + u.Name, "created_at": formatV5(s.now()), "description": "",
			})
		}
	}
	s.mu.Unlock()
	writeJSON(w, http.StatusOK, map[string]any{"users": users, "page_info": info})
}

func (s *Server) listKeysV5(w http.ResponseWriter, r *http.Request) {
	userID := r.PathValue("user_id")
	s.mu.Lock()
	_, known := s.users[userID]
	var aks []string
	for ak, k := range s.keys {
		if k.UserID == userID {
			aks = append(aks, ak)
		}
	}
	s.mu.Unlock()
	if !known {
		notFound(w, styleIAM, "user", userID)
		return
	}
	sort.Strings(aks)
	aks, info, ok := page(w, r, aks)
	if !ok {
		return
	}
	keys := make([]map[string]any, 0, len(aks))
	for _, ak := range aks {
		if k, ok := s.Key(ak); ok {
			keys = append(keys, map[string]any{"user_id": k.UserID, "access_key_id": k.Access, "created_at": formatV5(k.Created), "status": k.Status})
		}
	}
	writeJSON(w, http.StatusOK, map[string]any{"access_keys": keys, "page_info": info})
}

// keyLastUsedV5 answers last_used_at only for a key used: "If no, the
// access key has never been used."
func (s *Server) keyLastUsedV5(w http.ResponseWriter, r *http.Request) {
	k, ok := s.Key(r.PathValue("access_key_id"))
	if !ok || k.UserID != r.PathValue("user_id") {
		notFound(w, styleIAM, "credential", r.PathValue("access_key_id"))
		return
	}
	last := map[string]any{}
	if k.LastUsed != nil {
		last["last_used_at"] = formatV5(*k.LastUsed)
	}
	writeJSON(w, http.StatusOK, map[string]any{"access_key_last_used": last})
}

// tagsV5 serves resource_type "user" (and "agency", which holds nothing here).
func (s *Server) tagsV5(w http.ResponseWriter, r *http.Request) {
	kind, id := r.PathValue("resource_type"), r.PathValue("resource_id")
	if kind != "user" && kind != "agency" {
		badParam(w, styleIAM, "resource_type")
		return
	}
	s.mu.Lock()
	u, ok := s.users[id]
	var tags map[string]string
	if ok && kind == "user" {
		tags = u.Tags
	}
	s.mu.Unlock()
	if !ok || kind != "user" {
		notFound(w, styleIAM, kind, id)
		return
	}
	keys := make([]string, 0, len(tags))
	for k := range tags {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	out := make([]map[string]string, len(keys))
	for i, k := range keys {
		out[i] = map[string]string{"tag_key": k, "tag_value": tags[k]}
	}
	writeJSON(w, http.StatusOK, map[string]any{"tags": out})
}
