package domain

import (
	"errors"
	"fmt"
	"time"
)

// Provider names a kind of key store.
type Provider string

// Providers keysweep sweeps.
const (
	ProviderAWS    Provider = "aws"    // AWS IAM access keys
	ProviderHuawei Provider = "huawei" // Huawei Cloud / Open Telekom Cloud IAM permanent access keys
	ProviderGMI    Provider = "gmi"    // GMI Cloud organization API keys
)

// Title is the provider's name as people write it.
func (p Provider) Title() string {
	switch p {
	case ProviderAWS, "":
		return "AWS IAM"
	case ProviderHuawei:
		return "Huawei Cloud/OTC IAM"
	case ProviderGMI:
		return "GMI Cloud"
	}
	return string(p)
}

// Capabilities is what a key store can do and know. The engine reads them
// in one place and respects them: a rule or a step the store cannot serve
// is reported on the run, never silently skipped.
type Capabilities struct {
	// Deactivate: keys have an active/inactive status and can be set
	// inactive. Without it, staged removal becomes a notice period: a
	// stale key is marked due and deleted deleteAfterDays later.
	Deactivate bool `json:"deactivate"`
	// LastUsed: the store knows when a key was last used. Without it, the
	// inactivity rule cannot be judged.
	LastUsed bool `json:"lastUsed"`
	// Expiry: keys carry an expiry date.
	Expiry bool `json:"expiry"`
	// OwnerTags: owners carry tags (exemption tags and tag overrides).
	OwnerTags bool `json:"ownerTags"`
	// OwnerPaths: owners have a path (IAM paths: path exemptions and
	// overrides).
	OwnerPaths bool `json:"ownerPaths"`
	// BulkTags: the tags of many owners can be read in a few paged calls
	// (the key store implements the engine's TagDirectory).
	BulkTags bool `json:"bulkTags"`
	// Report: the inventory comes from one cheap report (AWS's credential
	// report) rather than per-owner listing; such an inventory may lack key
	// ids, which the engine then reads per owner.
	Report bool `json:"report"`
}

// Target is one key store keysweep sweeps: a name (used in the CLI's
// --target, the API's /targets/{target} routes, the policy item's id), its
// provider, and its account.
type Target struct {
	Name     string   `json:"name"`
	Provider Provider `json:"provider"`
	// Account is the AWS account id, the Huawei/OTC domain id or the GMI
	// organization id; empty until the key store has been asked.
	Account string `json:"account,omitempty"`
}

// DefaultTarget is the name of the AWS account the deployment runs in.
const DefaultTarget = "aws"

// Scope names the partition of keysweep's per-account items (pending
// intents, resume cursors, running runs) for an account of a provider. AWS
// accounts keep their bare id, as they always have; other providers' ids
// are prefixed so that they can never meet an AWS account id.
func Scope(p Provider, account string) string {
	if p == ProviderAWS || p == "" {
		return account
	}
	return string(p) + ":" + account
}

// ErrKeyNotFound is returned (wrapped) by a key store when the key, or the
// owner holding it, no longer exists.
var ErrKeyNotFound = errors.New("access key not found")

// ErrUnsupported is returned (wrapped) by a key store asked for something
// its Capabilities say it cannot do.
var ErrUnsupported = errors.New("not supported by this key store")

// Unsupported names what a store of provider p cannot do.
func Unsupported(p Provider, what string) error {
	return fmt.Errorf("%s: %s: %w", p.Title(), what, ErrUnsupported)
}

// ServiceError is a failed call to a service keysweep depends on (a key
// store or the journal). Entry points map it to their own terms (the API:
// 502, or 503 when the service throttled).
type ServiceError struct {
	Service string // "IAM", "DynamoDB", "Huawei IAM", "GMI Cloud", ...
	Op      string // what was being done
	Err     error
}

func (e *ServiceError) Error() string { return e.Op + ": " + e.Err.Error() }
func (e *ServiceError) Unwrap() error { return e.Err }

// Inventory is every owner's keys as one source saw them.
type Inventory struct {
	Source      string    // "credential-report", "list", ...
	GeneratedAt time.Time // when the source's facts were taken
	Owners      []Owner   // sorted by name
	// Fallback says why the cheap source could not be used ("" when it was).
	Fallback string
	// Notes are facts about the inventory worth telling (a capability the
	// endpoint lacks, say).
	Notes []string
}

// Keys counts the inventory's keys.
func (inv *Inventory) Keys() int {
	n := 0
	for _, o := range inv.Owners {
		n += len(o.Keys)
	}
	return n
}

// DefaultPolicyID is the id of the policy item the default target's sweeps
// use unless told otherwise.
const DefaultPolicyID = "default"
