package domain

import (
	"time"

	"github.com/keysweep/keysweep/policy"
)

// Status is a key's status in its store. Stores without a status (GMI
// Cloud) leave it empty (StatusNone).
type Status = policy.Status

// Key statuses.
const (
	StatusActive   = policy.StatusActive
	StatusInactive = policy.StatusInactive
	StatusNone     = policy.Status("")
)

// Owner is who holds keys: an IAM user, or a GMI key's owner.
type Owner struct {
	// Name is how the policy and the audit trail name the owner: the IAM
	// user name (AWS, Huawei/OTC), or the owner id (GMI).
	Name string `json:"name"`
	// ID is the store's own id of the owner when it differs from Name (a
	// Huawei user id); empty otherwise.
	ID string `json:"id,omitempty"`
	// Path is the IAM path ("/service/"); empty where the store has none.
	Path string `json:"path,omitempty"`
	ARN  string `json:"arn,omitempty"`
	// DisplayName is a person's name where the store gives one (GMI).
	DisplayName string `json:"displayName,omitempty"`
	// Tags are the owner's tags; nil when not loaded.
	Tags map[string]string `json:"tags,omitempty"`
	// Keys are the owner's keys (in an inventory).
	Keys []Key `json:"keys,omitempty"`
}

// Key is one long-lived credential as its store reports it.
type Key struct {
	// ID is the access key id (AWS, Huawei/OTC AK) or API key id (GMI);
	// empty when the source does not give it (the credential report),
	// then Slot numbers the key within its owner.
	ID      string `json:"id,omitempty"`
	Slot    int    `json:"slot,omitempty"`
	Account string `json:"account,omitempty"`
	// Owner names the owner (Owner.Name).
	Owner     string    `json:"owner"`
	Status    Status    `json:"status,omitempty"`
	CreatedAt time.Time `json:"createdAt"`
	// LastUsedAt is nil for a key never used, or when LastUseKnown is false.
	LastUsedAt *time.Time `json:"lastUsedAt,omitempty"`
	// LastUseKnown is false when the store cannot tell when the key was
	// last used (GMI): the inactivity rule cannot be judged.
	LastUseKnown bool `json:"lastUseKnown"`
	// ExpiresAt is when the key stops working by itself; nil when it never
	// does, or the store has no expiry.
	ExpiresAt *time.Time `json:"expiresAt,omitempty"`
	// Name, Scope and Description are what the store says of the key
	// besides its id (GMI: name, scope; Huawei: description).
	Name        string `json:"name,omitempty"`
	Scope       string `json:"scope,omitempty"`
	Description string `json:"description,omitempty"`
}
