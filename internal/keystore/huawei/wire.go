package huawei

import (
	"fmt"
	"strings"
	"time"
)

// The request and response bodies, as the IAM API Reference documents them.
// Each type names the page its fields come from.

// Paths of the routes keysweep calls.
const (
	pathUsers       = "/v3/users"                        // "Listing IAM Users" (KeystoneListUsers)
	pathUser        = "/v3/users/"                       // + {user_id}: "Querying IAM User Details" (KeystoneShowUser)
	pathAuthDomains = "/v3/auth/domains"                 // KeystoneListAuthDomains (the IAM API Reference, Keystone APIs)
	pathCredentials = "/v3.0/OS-CREDENTIAL/credentials"  // "Querying Permanent Access Keys" (ListPermanentAccessKeys)
	pathCredential  = "/v3.0/OS-CREDENTIAL/credentials/" // + {access_key}: Querying / Modifying / Deleting a Permanent Access Key
	pathUsersV5     = "/v5/users"                        // IAM v5 ListUsersV5 (the IAM 5.0 API Reference)
	pathTagsV5      = "/v5/user/"                        // + {user_id}/tags: "Obtaining All Tags of a Specified Resource" (ListResourceTagsV5)
)

// Operation names, as the reference titles them; Calls counts by these.
const (
	OpListUsers        = "KeystoneListUsers"
	OpShowUser         = "KeystoneShowUser"
	OpListAuthDomains  = "KeystoneListAuthDomains"
	OpListCredentials  = "ListPermanentAccessKeys"
	OpShowCredential   = "ShowPermanentAccessKey"
	OpUpdateCredential = "UpdatePermanentAccessKey"
	OpDeleteCredential = "DeletePermanentAccessKey"
	OpListUsersV5      = "ListUsersV5"
	OpListTagsV5       = "ListResourceTagsV5"
)

// links is Keystone's paging object ("Listing IAM Users", Table links:
// self, previous, next). Huawei documents next as null: the list is one
// page. Keystone itself may answer a next link, or truncated=true when its
// list_limit cut the list; Inventory follows the one and refuses the other.
type links struct {
	Self     string  `json:"self"`
	Previous *string `json:"previous"`
	Next     *string `json:"next"`
}

// listUsersResponse is "Listing IAM Users" (GET /v3/users).
type listUsersResponse struct {
	Links     links      `json:"links"`
	Users     []userJSON `json:"users"`
	Truncated bool       `json:"truncated,omitempty"`
}

// userJSON is a Keystone user ("Listing IAM Users", Table users;
// "Querying IAM User Details", Table user).
type userJSON struct {
	ID       string `json:"id"`
	Name     string `json:"name"`
	DomainID string `json:"domain_id"`
	Enabled  bool   `json:"enabled"`
}

// showUserResponse is "Querying IAM User Details" (GET /v3/users/{user_id}).
type showUserResponse struct {
	User userJSON `json:"user"`
}

// listAuthDomainsResponse is KeystoneListAuthDomains (GET /v3/auth/domains).
type listAuthDomainsResponse struct {
	Domains []struct {
		ID      string `json:"id"`
		Name    string `json:"name"`
		Enabled bool   `json:"enabled"`
	} `json:"domains"`
}

// credentialJSON is a permanent access key: "Querying Permanent Access
// Keys" (Table credentials: user_id, access, status, create_time,
// description) and "Querying a Permanent Access Key" (Table credential,
// which adds last_use_time: "If the access key has never been used, the
// creation time of the access key is returned").
type credentialJSON struct {
	UserID      string `json:"user_id"`
	Access      string `json:"access"`
	Status      string `json:"status"`
	CreateTime  string `json:"create_time"`
	LastUseTime string `json:"last_use_time,omitempty"`
	Description string `json:"description"`
}

// listCredentialsResponse is GET /v3.0/OS-CREDENTIAL/credentials?user_id=.
type listCredentialsResponse struct {
	Credentials []credentialJSON `json:"credentials"`
}

// credentialResponse is GET and PUT /v3.0/OS-CREDENTIAL/credentials/{access_key}.
type credentialResponse struct {
	Credential credentialJSON `json:"credential"`
}

// updateCredentialRequest is "Modifying a Permanent Access Key" (Table 3:
// credential, mandatory; Table 4: status "active" | "inactive", description).
type updateCredentialRequest struct {
	Credential updateCredential `json:"credential"`
}

type updateCredential struct {
	Status string `json:"status"`
}

// Documented key statuses ("Modifying a Permanent Access Key", Table 4).
const (
	statusActive   = "active"
	statusInactive = "inactive"
)

// listUsersV5Response is ListUsersV5 (GET /v5/users?limit=): keysweep only
// asks for one user, to learn whether the endpoint serves IAM v5.
type listUsersV5Response struct {
	Users    []struct{} `json:"users"`
	PageInfo *struct {
		NextMarker   *string `json:"next_marker"`
		CurrentCount int     `json:"current_count"`
	} `json:"page_info"`
}

// listTagsV5Response is ListResourceTagsV5 (GET /v5/user/{user_id}/tags).
type listTagsV5Response struct {
	Tags []struct {
		Key   string `json:"tag_key"`
		Value string `json:"tag_value"`
	} `json:"tags"`
}

// parseTime reads the reference's timestamps: create_time and
// last_use_time ("2020-01-08T06:26:08.123059Z"); some regions answer
// without the zone, which is UTC.
func parseTime(field, s string) (time.Time, error) {
	for _, layout := range []string{time.RFC3339Nano, "2006-01-02T15:04:05.999999999", "2006-01-02 15:04:05"} {
		if t, err := time.Parse(layout, strings.TrimSpace(s)); err == nil {
			return t.UTC(), nil
		}
	}
	return time.Time{}, fmt.Errorf("%s %q is not a time", field, s)
}
