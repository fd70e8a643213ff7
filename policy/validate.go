package policy

import (
	"errors"
	"fmt"
	"regexp"
	"strings"
	"unicode"
	"unicode/utf8"
)

// ErrInvalid is wrapped by every error from Parse, FromItem and Validate, so
// a caller can map a bad policy document to HTTP 400 with errors.Is.
var ErrInvalid = errors.New("invalid policy")

// Bounds a policy document must stay within.
const (
	maxDays            = 3650   // maxKeyAgeDays, maxInactiveDays
	maxDeleteAfterDays = 365    // deleteAfterDays
	maxActionsBound    = 100000 // blastRadius.maxActions
	maxTagKeyLen       = 128    // IAM tag key length
	maxTagValueLen     = 256    // IAM tag value length
	defaultRule        = "default"
)

// Problem is one thing wrong with a policy document.
type Problem struct {
	// Field is the path in the document, e.g. "overrides[1].maxKeyAgeDays";
	// empty for the document as a whole.
	Field   string `json:"field,omitempty"`
	Message string `json:"message"`
}

func (p Problem) String() string {
	if p.Field == "" {
		return p.Message
	}
	return p.Field + ": " + p.Message
}

// InvalidError lists every problem found in a policy document. It wraps
// ErrInvalid; use errors.As to get at the problems, e.g. for an API response.
type InvalidError struct {
	Problems []Problem
}

func (e *InvalidError) Error() string {
	parts := make([]string, len(e.Problems))
	for i, p := range e.Problems {
		parts[i] = p.String()
	}
	return ErrInvalid.Error() + ": " + strings.Join(parts, "; ")
}

func (e *InvalidError) Unwrap() error { return ErrInvalid }

// problems collects Problems; err returns nil when there are none.
type problems []Problem

func (ps *problems) add(field, format string, args ...any) {
	*ps = append(*ps, Problem{Field: field, Message: fmt.Sprintf(format, args...)})
}

func (ps problems) err() error {
	if len(ps) == 0 {
		return nil
	}
	return &InvalidError{Problems: ps}
}

// IAM allows letters, digits, spaces and _.:/=+-@ in tag keys and values.
var tagChars = regexp.MustCompile(`^[\p{L}\p{Z}\p{N}_.:/=+\-@]*$`)

// Validate reports every problem in p, each named by its field. The error
// is an *InvalidError and wraps ErrInvalid.
func (p *Policy) Validate() error {
	var ps problems
	if strings.TrimSpace(p.Version) == "" {
		ps.add("version", "required")
	}
	switch p.Mode {
	case ModeAudit, ModeEnforce:
	case "":
		ps.add("mode", `required: "audit" or "enforce"`)
	default:
		ps.add("mode", `must be "audit" or "enforce", got %q`, string(p.Mode))
	}
	ageOK := inRange(&ps, "maxKeyAgeDays", p.MaxKeyAgeDays, maxDays)
	inactiveOK := inRange(&ps, "maxInactiveDays", p.MaxInactiveDays, maxDays)
	lifeOK := inRange(&ps, "maxKeyLifetimeDays", p.MaxKeyLifetimeDays, maxDays)
	if ageOK && inactiveOK && lifeOK && p.MaxKeyAgeDays == 0 && p.MaxInactiveDays == 0 && p.MaxKeyLifetimeDays == 0 {
		ps.add("maxKeyAgeDays", "at least one of maxKeyAgeDays, maxInactiveDays or maxKeyLifetimeDays must be > 0")
	}
	inRange(&ps, "deleteAfterDays", p.DeleteAfterDays, maxDeleteAfterDays)

	inRange(&ps, "blastRadius.maxActions", p.BlastRadius.MaxActions, maxActionsBound)
	// Written so that NaN fails too.
	if mp := p.BlastRadius.MaxPercent; !(mp >= 0 && mp <= 100) {
		ps.add("blastRadius.maxPercent", "must be between 0 and 100, got %v", mp)
	}

	ex := p.Exemptions
	names(&ps, "exemptions.users", ex.Users)
	names(&ps, "exemptions.accessKeyIds", ex.AccessKeyIDs)
	names(&ps, "exemptions.keyNamePrefixes", ex.KeyNamePrefixes)
	names(&ps, "exemptions.ownerIds", ex.OwnerIDs)
	names(&ps, "exemptions.scopes", ex.Scopes)
	for i, pp := range ex.PathPrefixes {
		validPath(&ps, fmt.Sprintf("exemptions.pathPrefixes[%d]", i), pp)
	}
	if ex.Tag != "" {
		validTagKey(&ps, "exemptions.tag", ex.Tag)
	}

	p.validateOverrides(&ps)
	validateOrg(&ps, p.Organization)
	validateNotify(&ps, p.Notify)
	return ps.err()
}

func inRange(ps *problems, field string, v, hi int) bool {
	if v < 0 || v > hi {
		ps.add(field, "must be between 0 and %d, got %d", hi, v)
		return false
	}
	return true
}

// names checks a list of names a key or owner is matched by exactly: none
// empty, none longer than 128 characters, and none with a control or
// formatting character (a right-to-left override would make a name read
// as another, so that an owner looks exempt and is not).
func names(ps *problems, field string, list []string) {
	for i, s := range list {
		f := fmt.Sprintf("%s[%d]", field, i)
		switch {
		case strings.TrimSpace(s) == "":
			ps.add(f, "must not be empty")
		case utf8.RuneCountInString(s) > maxNameLen:
			ps.add(f, "must be at most %d characters", maxNameLen)
		case !utf8.ValidString(s) || strings.IndexFunc(s, invisible) >= 0:
			ps.add(f, "must not contain control or formatting characters, got %q", s)
		}
	}
}

// maxNameLen bounds a name in an exemption list.
const maxNameLen = 128

// invisible reports a control or formatting character (bidirectional
// overrides, zero-width characters).
func invisible(r rune) bool { return unicode.IsControl(r) || unicode.Is(unicode.Cf, r) }

func validPath(ps *problems, field, path string) {
	if !strings.HasPrefix(path, "/") || !strings.HasSuffix(path, "/") {
		ps.add(field, `must start and end with "/", got %q`, path)
	}
}

func validTagKey(ps *problems, field, key string) {
	switch {
	case key == "":
		ps.add(field, "required")
	case len(key) > maxTagKeyLen || !tagChars.MatchString(key):
		ps.add(field, "must be a valid IAM tag key (up to %d letters, digits, spaces or _.:/=+-@), got %q", maxTagKeyLen, key)
	case strings.HasPrefix(strings.ToLower(key), "aws:"):
		ps.add(field, `must not start with the reserved prefix "aws:", got %q`, key)
	}
}

// validateOverrides checks each override: one match, a unique name, limits
// in range, and not both rules off.
func (p *Policy) validateOverrides(ps *problems) {
	names := map[string]int{}
	for i, o := range p.Overrides {
		f := fmt.Sprintf("overrides[%d]", i)
		switch {
		case o.PathPrefix == "" && o.Tag == nil:
			ps.add(f, "exactly one of pathPrefix or tag, got neither")
		case o.PathPrefix != "" && o.Tag != nil:
			ps.add(f, "exactly one of pathPrefix or tag, got both")
		case o.PathPrefix != "":
			validPath(ps, f+".pathPrefix", o.PathPrefix)
		default:
			validTagKey(ps, f+".tag.key", o.Tag.Key)
			if len(o.Tag.Value) > maxTagValueLen || !tagChars.MatchString(o.Tag.Value) {
				ps.add(f+".tag.value", "must be a valid IAM tag value (up to %d letters, digits, spaces or _.:/=+-@), got %q", maxTagValueLen, o.Tag.Value)
			}
		}
		if o.Name != "" {
			if j, dup := names[o.Name]; dup {
				ps.add(f+".name", "duplicate of overrides[%d].name %q", j, o.Name)
			} else {
				names[o.Name] = i
			}
			if o.Name == defaultRule {
				ps.add(f+".name", "must not be %q, which names the policy's own limits", defaultRule)
			}
		}
		ok := true
		if o.MaxKeyAgeDays != nil {
			ok = inRange(ps, f+".maxKeyAgeDays", *o.MaxKeyAgeDays, maxDays) && ok
		}
		if o.MaxInactiveDays != nil {
			ok = inRange(ps, f+".maxInactiveDays", *o.MaxInactiveDays, maxDays) && ok
		}
		if o.DeleteAfterDays != nil {
			inRange(ps, f+".deleteAfterDays", *o.DeleteAfterDays, maxDeleteAfterDays)
		}
		// An override that turns off both rules is a hidden exemption: its
		// keys would show as "keep", never as "exempt".
		if l := p.overrideLimits(&p.Overrides[i]); ok && l.age == 0 && l.inactive == 0 {
			ps.add(f, "turns off both maxKeyAgeDays and maxInactiveDays; use exemptions to exempt users")
		}
	}
}
