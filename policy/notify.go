package policy

import (
	"errors"
	"fmt"
	"net/mail"
	"slices"
	"strings"
	"time"
	"unicode"
)

// Event is a kind of notice the notify section can ask for.
type Event string

// Notice events.
const (
	// EventWarning warns a key's owner ahead of the day the key becomes
	// stale (for stores without status, it is the notice period).
	EventWarning Event = "warning"
	// EventDeactivated tells the owner a key was deactivated, with the
	// deletion date and how to restore it.
	EventDeactivated Event = "deactivated"
	// EventDeleted tells the owner a key was deleted.
	EventDeleted Event = "deleted"
	// EventRevoked tells the owner a key was revoked through the API.
	EventRevoked Event = "revoked"
)

// Events lists every notice event, in the order notices happen.
var Events = []Event{EventWarning, EventDeactivated, EventDeleted, EventRevoked}

// DefaultWarnDays are the warning days used when the notify section leaves
// warnDays out.
var DefaultWarnDays = []int{14, 3}

// Bounds of the notify section.
const (
	maxWarnDays      = 5   // entries in warnDays
	maxWarnDaysValue = 90  // days ahead a warning may go out
	maxEmailLen      = 254 // RFC 5321's path limit, less the brackets
)

// Notify is the policy document's optional "notify" section: who is told
// what, and when. Without it, keysweep tells no one.
type Notify struct {
	// WarnDays are the days before a key becomes stale on which its owner
	// is warned, e.g. [14, 3]: distinct, 1 to 90, at most 5. Absent: [14, 3].
	WarnDays []int `json:"warnDays,omitempty"`
	// OwnerEmailTag is the user tag holding the owner's e-mail address.
	OwnerEmailTag string `json:"ownerEmailTag,omitempty"`
	// FallbackEmail receives the notices of keys whose owner has no
	// address (no tag, or a tag that is not an address). Optional.
	FallbackEmail string `json:"fallbackEmail,omitempty"`
	// Events are the notices sent; absent: all of them.
	Events []Event `json:"events,omitempty"`
	// Sender is the SES verified identity the e-mail comes from. Optional
	// here: the deployment may set it.
	Sender string `json:"sender,omitempty"`
	// TeamTopic says whether notices and run summaries are published to
	// the stack's SNS topic. Absent: yes, when the stack has one.
	TeamTopic *bool `json:"teamTopic,omitempty"`
	// WarnInAudit sends owners their warnings in audit mode too. Off by
	// default: an audit run changes nothing, so a warning that a key will
	// be deactivated would not come true, and owners who get warnings
	// that do not come true learn to ignore them. Turn it on to warn
	// owners ahead of switching a policy to enforce.
	WarnInAudit bool `json:"warnInAudit,omitempty"`
}

// WarnsIn reports whether owners are warned in a run of mode m: always in
// enforce mode, in audit mode only with WarnInAudit.
func (n *Notify) WarnsIn(m Mode) bool {
	if n == nil || !n.Tells(EventWarning) {
		return false
	}
	return m == ModeEnforce || n.WarnInAudit
}

// Horizon is how far ahead a key counts as soon stale: the largest warning
// day (DefaultWarnDays' without a notify section).
func (n *Notify) Horizon() time.Duration {
	days := DefaultWarnDays
	if n != nil {
		days = n.Warnings()
	}
	return time.Duration(slices.Max(days)) * day
}

// DeleteAfterDaysFor is the delete clock (or, without status, the notice
// period) that applies to k: its override's, else the policy's.
func (p *Policy) DeleteAfterDaysFor(k Key) int { return p.limitsFor(k).deleteAfter }

// Warnings gives the warning days, largest first: the policy's own, or
// DefaultWarnDays. A nil section warns on none.
func (n *Notify) Warnings() []int {
	if n == nil {
		return nil
	}
	days := DefaultWarnDays
	if len(n.WarnDays) > 0 {
		days = n.WarnDays
	}
	out := slices.Clone(days)
	slices.Sort(out)
	slices.Reverse(out)
	return out
}

// Tells reports whether the section asks for notices of event e. A nil
// section tells nothing; an empty events list tells everything.
func (n *Notify) Tells(e Event) bool {
	if n == nil {
		return false
	}
	return len(n.Events) == 0 || slices.Contains(n.Events, e)
}

// PublishesToTeam reports whether notices go to the stack's topic, given
// whether the stack has one.
func (n *Notify) PublishesToTeam(stackHasTopic bool) bool {
	if n == nil || !stackHasTopic {
		return false
	}
	return n.TeamTopic == nil || *n.TeamTopic
}

// WarningDue says which warning is due for a key that becomes stale at
// staleAt, seen at now: the smallest warning day d with now at or after
// staleAt minus d days. ok is false before the first warning day and from
// staleAt on (the key is stale: it is acted on, not warned). Each
// (staleAt, day) pair is one warning, so a key that becomes stale on a new
// date is warned anew.
func (n *Notify) WarningDue(staleAt, now time.Time) (warnDay int, ok bool) {
	if n == nil || !n.Tells(EventWarning) || !now.Before(staleAt) {
		return 0, false
	}
	for _, d := range n.Warnings() { // largest first
		if !now.Before(staleAt.Add(-time.Duration(d) * day)) {
			warnDay, ok = d, true
		}
	}
	return warnDay, ok
}

// StaleAt tells when key k becomes stale under p if nothing else happens
// (no use, for the inactivity rule), by the same limits and day counting as
// Evaluate: the first instant at which Evaluate judges it stale, and why,
// with dates, e.g. "created 2026-09-01, limit 90 days: stale on
// 2026-12-01". ok is false when no rule applies to it (both off for its
// override). Exemptions are not looked at: the caller has the decision.
func (p *Policy) StaleAt(k Key) (at time.Time, why string, ok bool) {
	l := p.limitsFor(k)
	// Evaluate counts whole days and is stale past the limit: at limit+1
	// whole days.
	if l.age > 0 {
		at = k.CreatedAt.Add(time.Duration(l.age+1) * day)
		why = fmt.Sprintf("created %s, limit %s: stale on %s", date(k.CreatedAt), plural(l.age, "day"), date(at))
		ok = true
	}
	if l.inactive > 0 {
		since, what := k.CreatedAt, "never used, created "+date(k.CreatedAt)
		if k.LastUsedAt != nil {
			since, what = *k.LastUsedAt, "last used "+date(*k.LastUsedAt)
		}
		t := since.Add(time.Duration(l.inactive+1) * day)
		if !ok || t.Before(at) {
			at, ok = t, true
			why = fmt.Sprintf("%s, limit %s without use: stale on %s unless used before", what, plural(l.inactive, "day"), date(t))
		}
	}
	if ok && l.override != "" {
		why += " (override " + l.override + ")"
	}
	return at, why, ok
}

// ErrBadEmail is wrapped by CheckEmail's errors.
var ErrBadEmail = errors.New("not an e-mail address")

// CheckEmail reports whether s is a bare e-mail address SES can send to:
// what net/mail parses as one address, with no display name, comment,
// quoting, angle brackets, spaces or control characters, in ASCII (SES does
// not support SMTPUTF8: a domain goes in punycode), with a dotted domain
// name, at most 254 characters. The error wraps ErrBadEmail and says why.
func CheckEmail(s string) error {
	if why := emailProblem(s); why != "" {
		return fmt.Errorf("%w: %s", ErrBadEmail, why)
	}
	return nil
}

// emailProblem says what is wrong with s as an address; "" when nothing.
func emailProblem(s string) string {
	switch {
	case s == "":
		return "empty"
	case len(s) > maxEmailLen:
		return fmt.Sprintf("longer than %d characters", maxEmailLen)
	}
	for _, r := range s {
		switch {
		case unicode.IsControl(r):
			return fmt.Sprintf("control character %U", r)
		case unicode.IsSpace(r):
			return "white space"
		case r > unicode.MaxASCII:
			return fmt.Sprintf("non-ASCII character %q (write the domain in punycode)", r)
		}
	}
	a, err := mail.ParseAddress(s)
	if err != nil {
		return strings.ReplaceAll(err.Error(), "mail: ", "")
	}
	if a.Name != "" || a.Address != s {
		return "a bare address only, without a display name, quotes or angle brackets"
	}
	_, domain, _ := strings.Cut(a.Address, "@")
	if strings.HasPrefix(domain, "[") || !strings.Contains(strings.Trim(domain, "."), ".") {
		return fmt.Sprintf("domain %q is not a dotted domain name", domain)
	}
	return ""
}

// validateNotify adds the problems of the notify section to ps.
func validateNotify(ps *problems, n *Notify) {
	if n == nil {
		return
	}
	const f = "notify"
	if len(n.WarnDays) > maxWarnDays {
		ps.add(f+".warnDays", "at most %d entries, got %d", maxWarnDays, len(n.WarnDays))
	} else {
		seen := map[int]int{}
		for i, d := range n.WarnDays {
			name := fmt.Sprintf("%s.warnDays[%d]", f, i)
			if d < 1 || d > maxWarnDaysValue {
				ps.add(name, "must be between 1 and %d, got %d", maxWarnDaysValue, d)
				continue
			}
			if j, dup := seen[d]; dup {
				ps.add(name, "duplicate of %s.warnDays[%d]", f, j)
				continue
			}
			seen[d] = i
		}
	}
	if n.OwnerEmailTag != "" {
		validTagKey(ps, f+".ownerEmailTag", n.OwnerEmailTag)
	}
	for _, a := range []struct{ field, v string }{{"fallbackEmail", n.FallbackEmail}, {"sender", n.Sender}} {
		if a.v == "" {
			continue
		}
		if why := emailProblem(a.v); why != "" {
			ps.add(f+"."+a.field, "must be an e-mail address (%s), got %q", why, a.v)
		}
	}
	seen := map[Event]int{}
	for i, e := range n.Events {
		name := fmt.Sprintf("%s.events[%d]", f, i)
		if !slices.Contains(Events, e) {
			ps.add(name, `must be one of "warning", "deactivated", "deleted", "revoked", got %q`, string(e))
			continue
		}
		if j, dup := seen[e]; dup {
			ps.add(name, "duplicate of %s.events[%d]", f, j)
			continue
		}
		seen[e] = i
	}
}

// item gives the section as plain values for Policy.Item.
func (n *Notify) item() map[string]any {
	m := map[string]any{}
	if len(n.WarnDays) > 0 {
		days := make([]any, len(n.WarnDays))
		for i, d := range n.WarnDays {
			days[i] = d
		}
		m["warnDays"] = days
	}
	if n.OwnerEmailTag != "" {
		m["ownerEmailTag"] = n.OwnerEmailTag
	}
	if n.FallbackEmail != "" {
		m["fallbackEmail"] = n.FallbackEmail
	}
	if len(n.Events) > 0 {
		events := make([]any, len(n.Events))
		for i, e := range n.Events {
			events[i] = string(e)
		}
		m["events"] = events
	}
	if n.Sender != "" {
		m["sender"] = n.Sender
	}
	if n.TeamTopic != nil {
		m["teamTopic"] = *n.TeamTopic
	}
	if n.WarnInAudit {
		m["warnInAudit"] = true
	}
	return m
}
