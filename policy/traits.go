package policy

import (
	"fmt"
	"regexp"
	"strings"
)

// StoreTraits says what a key store can judge. A policy rule that needs
// more is refused when the policy is validated for that store
// (ValidateFor), and noted on every run when such a policy is already
// stored (Unserved): never skipped silently.
type StoreTraits struct {
	// Name is how messages name the store ("GMI Cloud").
	Name string
	// LastUsed: keys have a last-use date (the inactivity rule).
	LastUsed bool
	// Deactivate: keys can be set inactive (without it the grace period
	// is a notice period).
	Deactivate bool
	// Expiry: keys carry an expiry date (maxKeyLifetimeDays).
	Expiry bool
	// Tags: owners carry tags (exemption tag, tag overrides).
	Tags bool
	// Paths: owners have paths (path exemptions and overrides).
	Paths bool
	// UserNames, when set, is the store's own rule for owner names
	// (IAM's), which exemptions.users must follow: a name the store
	// cannot have exempts no one.
	UserNames *regexp.Regexp
	// UserNamesRule says UserNames in words.
	UserNamesRule string
}

// IAMUserName is IAM's rule for user names.
var IAMUserName = regexp.MustCompile(`^[\w+=,.@-]{1,64}$`)

// AllTraits is what AWS IAM can judge: everything but expiry.
var AllTraits = StoreTraits{Name: "AWS IAM", LastUsed: true, Deactivate: true, Tags: true, Paths: true,
	UserNames: IAMUserName, UserNamesRule: "1 to 64 letters, digits or +=,.@_-"}

// Unserved lists the policy's rules the store cannot serve, each naming
// the rule, the store, and what keysweep does instead.
func (p *Policy) Unserved(t StoreTraits) []string {
	var out []string
	add := func(rule, why, instead string) {
		out = append(out, fmt.Sprintf("%s: %s %s; %s", rule, t.Name, why, instead))
	}
	if !t.LastUsed {
		if p.MaxInactiveDays > 0 {
			add("maxInactiveDays", "keys have no last-use date", "the inactivity rule is not judged")
		}
		for i, o := range p.Overrides {
			if o.MaxInactiveDays != nil && *o.MaxInactiveDays > 0 {
				add(fmt.Sprintf("overrides[%d].maxInactiveDays", i), "keys have no last-use date", "the inactivity rule is not judged")
			}
		}
	}
	if !t.Tags {
		if p.Exemptions.Tag != "" {
			add("exemptions.tag", "owners have no tags", "no key is exempted by tag")
		}
		for i, o := range p.Overrides {
			if o.Tag != nil {
				add(fmt.Sprintf("overrides[%d].tag", i), "owners have no tags", "the override never matches")
			}
		}
	}
	if !t.Paths {
		if len(p.Exemptions.PathPrefixes) > 0 {
			add("exemptions.pathPrefixes", "owners have no paths", "no key is exempted by path")
		}
		for i, o := range p.Overrides {
			if o.PathPrefix != "" {
				add(fmt.Sprintf("overrides[%d].pathPrefix", i), "owners have no paths", "the override never matches")
			}
		}
	}
	if !t.Expiry && p.MaxKeyLifetimeDays > 0 {
		add("maxKeyLifetimeDays", "keys have no expiry date", "the lifetime rule is not judged")
	}
	return out
}

// ValidateFor validates the policy, then refuses every rule the store
// cannot serve, naming the rule and the store.
func (p *Policy) ValidateFor(t StoreTraits) error {
	if err := p.Validate(); err != nil {
		return err
	}
	var ps problems
	for _, u := range p.Unserved(t) {
		field, msg, _ := strings.Cut(u, ": ")
		msg, _, _ = strings.Cut(msg, ";")
		ps.add(field, "%s: set it to 0 or remove it for this target", msg)
	}
	if t.UserNames != nil {
		for i, u := range p.Exemptions.Users {
			if !t.UserNames.MatchString(u) {
				ps.add(fmt.Sprintf("exemptions.users[%d]", i), "%q is not a %s user name (%s): it would exempt no one", u, t.Name, t.UserNamesRule)
			}
		}
	}
	return ps.err()
}
