// Package policy holds keysweep's pure decision logic: the policy document,
// its validation, and the evaluation of one access key against it. It has no
// AWS dependency: it takes facts and a clock and returns a decision with its
// reason.
package policy

import "time"

// Mode says whether a sweep may change anything.
type Mode string

const (
	// ModeAudit decides and records, and changes nothing.
	ModeAudit Mode = "audit"
	// ModeEnforce deactivates and deletes stale keys.
	ModeEnforce Mode = "enforce"
)

// Policy is the age and inactivity policy. It is stored as one item in the
// policy table (native DynamoDB attributes) or read from a JSON or YAML file;
// both use the field names in the json tags.
type Policy struct {
	// Version is recorded on every audit record. Required in a stored policy.
	Version string `json:"version"`
	// Mode is audit or enforce. Required.
	Mode Mode `json:"mode"`
	// MaxKeyAgeDays is the most days since creation; 0 disables the age rule.
	MaxKeyAgeDays int `json:"maxKeyAgeDays"`
	// MaxInactiveDays is the most days since last use; a never used key counts
	// from its creation (CIS 1.12). 0 disables the inactivity rule.
	MaxInactiveDays int `json:"maxInactiveDays"`
	// DeleteAfterDays is the days between deactivation and deletion; 0 deletes
	// at once. Already inactive stale keys are deleted under the same rule.
	// In a key store that cannot deactivate (GMI Cloud) it is the notice
	// period between the first run that finds a key stale and its deletion.
	DeleteAfterDays int `json:"deleteAfterDays"`
	// MaxKeyLifetimeDays demands that keys expire: a key whose expiry is
	// later than this many days after its creation, or that never expires,
	// is stale. 0 disables the rule. Only key stores with expiry dates
	// (GMI Cloud) can judge it.
	MaxKeyLifetimeDays int `json:"maxKeyLifetimeDays,omitempty"`
	// BlastRadius caps how much one run may change.
	BlastRadius BlastRadius `json:"blastRadius"`
	// Exemptions are never acted on by a sweep.
	Exemptions Exemptions `json:"exemptions"`
	// Overrides change the limits for some users; the first match wins.
	Overrides []Override `json:"overrides,omitempty"`
	// Organization selects the accounts of an organization sweep (org.go).
	Organization *OrgSelection `json:"organization,omitempty"`
	// Notify says who is told of warnings and actions (notify.go).
	Notify *Notify `json:"notify,omitempty"`
}

// BlastRadius caps one run. A run whose plan exceeds either cap changes
// nothing and records why. Zero values mean the defaults.
type BlastRadius struct {
	// MaxActions is the most deactivations plus deletions in one run.
	MaxActions int `json:"maxActions"`
	// MaxPercent is the most share of all keys, in percent (0 < x <= 100).
	MaxPercent float64 `json:"maxPercent"`
}

// Exemptions lists who is never acted on by a sweep.
type Exemptions struct {
	Users        []string `json:"users,omitempty"`
	AccessKeyIDs []string `json:"accessKeyIds,omitempty"`
	PathPrefixes []string `json:"pathPrefixes,omitempty"`
	// Tag is a user tag key; a user whose tag value is "true", or an RFC 3339
	// time still in the future, is exempt (until that time).
	Tag string `json:"tag,omitempty"`
	// KeyNamePrefixes exempt keys whose name starts with one of them
	// (key stores whose keys have names: GMI Cloud).
	KeyNamePrefixes []string `json:"keyNamePrefixes,omitempty"`
	// OwnerIDs exempt the keys of these owners by the store's owner id
	// (GMI Cloud's owner.id, Huawei's user id).
	OwnerIDs []string `json:"ownerIds,omitempty"`
	// Scopes exempt keys of these scopes (GMI Cloud).
	Scopes []string `json:"scopes,omitempty"`
}

// Override changes the limits for users matched by an IAM path prefix or a
// user tag (exactly one of the two). Nil limits keep the policy's own.
type Override struct {
	Name            string    `json:"name,omitempty"`
	PathPrefix      string    `json:"pathPrefix,omitempty"`
	Tag             *TagMatch `json:"tag,omitempty"`
	MaxKeyAgeDays   *int      `json:"maxKeyAgeDays,omitempty"`
	MaxInactiveDays *int      `json:"maxInactiveDays,omitempty"`
	DeleteAfterDays *int      `json:"deleteAfterDays,omitempty"`
}

// TagMatch matches a user tag by key and, when Value is set, by value.
type TagMatch struct {
	Key   string `json:"key"`
	Value string `json:"value,omitempty"`
}

// Status is an access key's IAM status.
type Status string

const (
	StatusActive   Status = "Active"
	StatusInactive Status = "Inactive"
)

// Key is what is known of one access key when it is judged.
type Key struct {
	Account     string
	UserName    string
	UserPath    string            // IAM path of the user, e.g. "/service/"
	UserTags    map[string]string // nil when not loaded
	AccessKeyID string            // empty when the source does not give it (credential report)
	Status      Status
	CreatedAt   time.Time
	LastUsedAt  *time.Time // nil: never used
	// DeactivatedAt is when keysweep deactivated the key, or first saw it
	// inactive, or (NoStatus) marked it due; nil when keysweep has no
	// record of that.
	DeactivatedAt *time.Time
	// LastUseUnknown: the store cannot tell when the key was last used, so
	// the inactivity rule is not judged (LastUsedAt is nil).
	LastUseUnknown bool
	// NoStatus: the store's keys have no status and cannot be deactivated;
	// the grace period is a notice period that starts when keysweep marks
	// the key due (DeactivatedAt). Status is ignored.
	NoStatus bool
	// ExpiresAt is when the key stops working by itself (nil: never, or
	// the store has no expiry).
	ExpiresAt *time.Time
	// KeyName, Scope and OwnerID are what some stores say of a key
	// besides its id (GMI Cloud), for exemptions.
	KeyName string
	Scope   string
	OwnerID string
}

// Verdict is what a decision says to do with a key.
type Verdict string

const (
	Keep       Verdict = "keep"
	Exempt     Verdict = "exempt"
	Deactivate Verdict = "deactivate"
	Delete     Verdict = "delete"
)

// Decision is the verdict on one key with the reason and the figures behind it.
type Decision struct {
	Verdict Verdict `json:"decision"`
	// Reason carries the figures, e.g. "last used 61 days ago, limit 45 (override /service/)".
	Reason string `json:"reason"`
	// Rule names the limits used: "default" or the matching override's name.
	Rule         string `json:"rule"`
	AgeDays      int    `json:"ageDays"`
	InactiveDays int    `json:"inactiveDays"` // days since last use, or since creation if never used
	// Stale is true when the key is over a limit, whatever the verdict
	// (an exempt key can be stale).
	Stale bool `json:"stale"`
	// DeleteDue is when an inactive stale key becomes due for deletion.
	DeleteDue *time.Time `json:"deleteDue,omitempty"`
	// ExemptUntil is set for a time-limited tag exemption.
	ExemptUntil *time.Time `json:"exemptUntil,omitempty"`
}

// Acts reports whether the verdict changes the key.
func (v Verdict) Acts() bool { return v == Deactivate || v == Delete }
