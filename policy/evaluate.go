package policy

import (
	"fmt"
	"slices"
	"strings"
	"time"
)

const day = 24 * time.Hour

// limits are the effective limits for one key.
type limits struct {
	age, inactive, deleteAfter int
	lifetime                   int    // maxKeyLifetimeDays: the policy's own, overrides keep it
	rule                       string // Decision.Rule
	override                   string // how reasons name the override; "" for the default
}

// facts are the figures of one key under some limits.
type facts struct {
	age, inactive int
	stale         bool
	expired       bool   // past its expiry date
	why           string // the failing rules with figures, or the figures and limits when within
}

// Evaluate judges one key on its own against p at time now. It does not look
// at the mode: an audit run records the same decisions an enforce run acts on.
//
// A key whose Status is neither Active nor Inactive is kept. An inactive
// stale key with no DeactivatedAt is kept, and the reason says the delete
// clock starts now: the caller records now as the key's DeactivatedAt.
func (p *Policy) Evaluate(k Key, now time.Time) Decision {
	l := p.limitsFor(k)
	f := l.judge(k, now)
	d := Decision{Rule: l.rule, AgeDays: f.age, InactiveDays: f.inactive, Stale: f.stale}

	exempt, until, note := p.exemption(k, now)
	if exempt != "" {
		d.Verdict = Exempt
		d.ExemptUntil = until
		inner := f.why
		if l.override != "" {
			inner += ", override " + l.override
		}
		d.Reason = exempt + " (" + inner + ")"
		return d
	}

	why := f.why
	if l.override != "" {
		why += " (override " + l.override + ")"
	}
	n := l.deleteAfter
	if k.NoStatus {
		d.Verdict, why, d.DeleteDue = noticePeriod(k, f, n, why, now)
		if note != "" {
			why += "; " + note
		}
		d.Reason = why
		return d
	}
	switch {
	case k.Status != StatusActive && k.Status != StatusInactive:
		d.Verdict = Keep
		why = fmt.Sprintf("status %q unknown, not acted on; %s", string(k.Status), why)
	case !f.stale:
		d.Verdict = Keep
		if k.Status == StatusInactive {
			why = "inactive; " + why
		}
	case k.Status == StatusActive && n == 0:
		d.Verdict = Delete
		why += "; delete now (deleteAfterDays 0)"
	case k.Status == StatusActive:
		d.Verdict = Deactivate
		why += fmt.Sprintf("; deactivate, delete after %s", plural(n, "day"))
	case n == 0:
		d.Verdict = Delete
		why += "; inactive, delete now (deleteAfterDays 0)"
	case k.DeactivatedAt == nil:
		d.Verdict = Keep
		why += fmt.Sprintf("; inactive, keysweep starts the %d day delete clock now", n)
	default:
		due := k.DeactivatedAt.Add(time.Duration(n) * day)
		d.DeleteDue = &due
		if now.Before(due) {
			d.Verdict = Keep
			why += "; inactive, delete due " + date(due)
		} else {
			d.Verdict = Delete
			why += fmt.Sprintf("; inactive since %s (%s), delete after %d",
				date(*k.DeactivatedAt), plural(days(now, *k.DeactivatedAt), "day"), n)
		}
	}
	if note != "" {
		why += "; " + note
	}
	d.Reason = why
	return d
}

// NeedsTags reports whether judging a key needs its user's tags: when there
// is an exemption tag or a tag override.
func (p *Policy) NeedsTags() bool {
	if p.Exemptions.Tag != "" {
		return true
	}
	for _, o := range p.Overrides {
		if o.Tag != nil {
			return true
		}
	}
	return false
}

// Screen is a cheap pre-filter on partial facts, as a credential report
// gives them: UserTags nil means not loaded, UserPath "" means not known,
// AccessKeyID may be empty, DeactivatedAt is ignored, and LastUsedAt may lag
// behind the truth. It reports whether the key could get a Deactivate or
// Delete verdict once everything is known; it never reports false for a key
// that Evaluate with the full facts would act on. A false means the key may
// be skipped.
func (p *Policy) Screen(k Key, now time.Time) bool {
	if p.knownExempt(k, now) {
		return false
	}
	// Any of these limits could be the key's; if it is stale under any,
	// it could be acted on.
	for _, l := range p.candidateLimits(k) {
		if l.judge(k, now).stale {
			return true
		}
	}
	return false
}

// knownExempt reports exemptions that hold whatever the unknown facts are.
func (p *Policy) knownExempt(k Key, now time.Time) bool {
	ex := p.Exemptions
	if slices.Contains(ex.Users, k.UserName) {
		return true
	}
	if k.AccessKeyID != "" && slices.Contains(ex.AccessKeyIDs, k.AccessKeyID) {
		return true
	}
	if why, _ := storeExempt(ex, k); why != "" {
		return true
	}
	if k.UserPath != "" && pathExempt(ex.PathPrefixes, k.UserPath) != "" {
		return true
	}
	if k.UserTags != nil && ex.Tag != "" {
		if ok, _, _ := tagExempt(k.UserTags[ex.Tag], now); ok {
			return true
		}
	}
	return false
}

// candidateLimits lists the limits that could apply to k once its unknown
// facts are known, in first-match order: every override that could match
// up to the first one that surely matches, then the default when none
// surely matches.
func (p *Policy) candidateLimits(k Key) []limits {
	var out []limits
	for i := range p.Overrides {
		o := &p.Overrides[i]
		known := (o.Tag == nil && k.UserPath != "") || (o.Tag != nil && k.UserTags != nil)
		if known && !matches(o, k) {
			continue
		}
		out = append(out, p.overrideLimits(o))
		if known {
			return out
		}
	}
	return append(out, p.defaultLimits())
}

// exemption says why k is exempt ("" when it is not), when a time-limited
// exemption ends, and otherwise a note on an exemption tag that did not
// count (expired or not understood).
func (p *Policy) exemption(k Key, now time.Time) (why string, until *time.Time, note string) {
	ex := p.Exemptions
	if slices.Contains(ex.Users, k.UserName) {
		return fmt.Sprintf("exempt: user %s in exemptions.users", k.UserName), nil, ""
	}
	if k.AccessKeyID != "" && slices.Contains(ex.AccessKeyIDs, k.AccessKeyID) {
		return fmt.Sprintf("exempt: access key %s in exemptions.accessKeyIds", k.AccessKeyID), nil, ""
	}
	if why, ok := storeExempt(ex, k); ok {
		return why, nil, ""
	}
	if pp := pathExempt(ex.PathPrefixes, k.UserPath); pp != "" {
		return fmt.Sprintf("exempt: user path %s under %s", k.UserPath, pp), nil, ""
	}
	if ex.Tag == "" {
		return "", nil, ""
	}
	v, ok := k.UserTags[ex.Tag]
	if !ok {
		return "", nil, ""
	}
	exempt, t, malformed := tagExempt(v, now)
	switch {
	case malformed:
		// Fail safe: a value someone meant as an exemption but mistyped
		// holds the user's keys, and the reason says how to fix it.
		return fmt.Sprintf("exempt: user tag %s=%q is not \"true\", \"false\" or an RFC 3339 time; held as exempt until it is fixed", ex.Tag, v), nil, ""
	case exempt && t == nil:
		return fmt.Sprintf("exempt: user tag %s=%s", ex.Tag, v), nil, ""
	case exempt:
		return fmt.Sprintf("exempt: user tag %s until %s", ex.Tag, t.UTC().Format(time.RFC3339)), t, ""
	case t != nil:
		return "", nil, "exemption expired " + date(*t)
	default:
		return "", nil, fmt.Sprintf("exemption tag %s=%s: not exempt", ex.Tag, v)
	}
}

// tagExempt reads an exemption tag value: "true" in any case exempts;
// "false" (or nothing) does not; an RFC 3339 time exempts until then, and
// is returned either way. Any other value is malformed, and exempts: a
// mistyped exemption must not turn into a deletion.
func tagExempt(v string, now time.Time) (exempt bool, until *time.Time, malformed bool) {
	v = strings.TrimSpace(v)
	switch {
	case strings.EqualFold(v, "true"):
		return true, nil, false
	case v == "" || strings.EqualFold(v, "false"):
		return false, nil, false
	}
	t, err := time.Parse(time.RFC3339, v)
	if err != nil {
		return true, nil, true
	}
	return t.After(now), &t, false
}

func pathExempt(prefixes []string, path string) string {
	for _, pp := range prefixes {
		if pp != "" && strings.HasPrefix(path, pp) {
			return pp
		}
	}
	return ""
}

// limitsFor gives k's limits: the first matching override's, else the
// policy's own.
func (p *Policy) limitsFor(k Key) limits {
	for i := range p.Overrides {
		if o := &p.Overrides[i]; matches(o, k) {
			return p.overrideLimits(o)
		}
	}
	return p.defaultLimits()
}

func matches(o *Override, k Key) bool {
	if o.Tag != nil {
		v, ok := k.UserTags[o.Tag.Key]
		return ok && (o.Tag.Value == "" || v == o.Tag.Value)
	}
	return o.PathPrefix != "" && strings.HasPrefix(k.UserPath, o.PathPrefix)
}

func (p *Policy) defaultLimits() limits {
	return limits{age: p.MaxKeyAgeDays, inactive: p.MaxInactiveDays, deleteAfter: p.DeleteAfterDays, lifetime: p.MaxKeyLifetimeDays, rule: defaultRule}
}

func (p *Policy) overrideLimits(o *Override) limits {
	l := p.defaultLimits()
	if o.MaxKeyAgeDays != nil {
		l.age = *o.MaxKeyAgeDays
	}
	if o.MaxInactiveDays != nil {
		l.inactive = *o.MaxInactiveDays
	}
	if o.DeleteAfterDays != nil {
		l.deleteAfter = *o.DeleteAfterDays
	}
	var match string
	switch {
	case o.Tag != nil && o.Tag.Value != "":
		match = "tag " + o.Tag.Key + "=" + o.Tag.Value
	case o.Tag != nil:
		match = "tag " + o.Tag.Key
	default:
		match = "path " + o.PathPrefix
	}
	l.rule, l.override = o.Name, o.Name
	if o.Name == "" {
		l.rule = match
		l.override = strings.TrimPrefix(match, "path ")
	}
	return l
}

// judge gives k's figures under l. Inactivity counts from the last use, or
// from creation when the key was never used; it is not judged when the
// store cannot tell the last use. A key past its expiry date is stale,
// and so is one whose lifetime exceeds the lifetime limit.
func (l limits) judge(k Key, now time.Time) facts {
	f := facts{age: days(now, k.CreatedAt)}
	since := k.CreatedAt
	if k.LastUsedAt != nil {
		since = *k.LastUsedAt
	}
	f.inactive = days(now, since)

	var over []string
	if k.ExpiresAt != nil && !now.Before(*k.ExpiresAt) {
		f.expired = true
		over = append(over, "expired on "+date(*k.ExpiresAt))
	}
	if l.age > 0 && f.age > l.age {
		over = append(over, fmt.Sprintf("created %s ago, limit %d", plural(f.age, "day"), l.age))
	}
	if l.inactive > 0 && !k.LastUseUnknown && f.inactive > l.inactive {
		if k.LastUsedAt == nil {
			over = append(over, fmt.Sprintf("never used, created %s ago, limit %d", plural(f.age, "day"), l.inactive))
		} else {
			over = append(over, fmt.Sprintf("last used %s ago, limit %d", plural(f.inactive, "day"), l.inactive))
		}
	}
	if l.lifetime > 0 && !f.expired {
		switch {
		case k.ExpiresAt == nil:
			over = append(over, fmt.Sprintf("never expires, lifetime limit %d", l.lifetime))
		case days(*k.ExpiresAt, k.CreatedAt) > l.lifetime:
			over = append(over, fmt.Sprintf("expires %s, %s after creation, lifetime limit %d",
				date(*k.ExpiresAt), plural(days(*k.ExpiresAt, k.CreatedAt), "day"), l.lifetime))
		}
	}
	if len(over) > 0 {
		f.stale = true
		f.why = strings.Join(over, "; ")
		return f
	}
	used := "never used"
	switch {
	case k.LastUseUnknown:
		used = "last use unknown"
	case k.LastUsedAt != nil:
		used = fmt.Sprintf("last used %s ago", plural(f.inactive, "day"))
	}
	f.why = fmt.Sprintf("created %s ago, %s; within limits %s/%s",
		plural(f.age, "day"), used, limit(l.age), limit(l.inactive))
	if k.ExpiresAt != nil {
		f.why += ", expires " + date(*k.ExpiresAt)
	}
	return f
}

// days counts whole days from t to now; never negative, so clock skew
// reads as 0.
func days(now, t time.Time) int {
	d := now.Sub(t)
	if d < 0 {
		return 0
	}
	return int(d / day)
}

func limit(n int) string {
	if n <= 0 {
		return "off"
	}
	return fmt.Sprint(n)
}

func plural(n int, unit string) string {
	if n == 1 {
		return "1 " + unit
	}
	return fmt.Sprintf("%d %ss", n, unit)
}

func date(t time.Time) string { return t.UTC().Format(time.DateOnly) }
