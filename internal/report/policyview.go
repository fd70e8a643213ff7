package report

import (
	"cmp"
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/keysweep/keysweep/internal/domain"
	"github.com/keysweep/keysweep/policy"
)

// policyView is the policy in words.
type policyView struct {
	Version, Mode                  string
	MaxKeyAge, MaxInactive, Delete string
	MaxActions, MaxPercent         string
	Exemptions                     []fact
	Overrides                      []overrideView
	Organization                   string
}

type fact struct{ Name, Value string }

type overrideView struct {
	Name, Match                    string
	MaxKeyAge, MaxInactive, Delete string
}

// capabilityView is one provider's capability notes.
type capabilityView struct {
	Provider string
	Notes    []string
}

func buildPolicy(p *policy.Policy) *policyView {
	if p == nil {
		return nil
	}
	maxActions, maxPercent := p.Limits()
	v := &policyView{
		Version: p.Version, Mode: string(p.Mode),
		MaxKeyAge: days(p.MaxKeyAgeDays, "off"), MaxInactive: days(p.MaxInactiveDays, "off"),
		Delete:     days(p.DeleteAfterDays, "at once"),
		MaxActions: strconv.Itoa(maxActions), MaxPercent: strconv.FormatFloat(maxPercent, 'f', -1, 64) + "%",
	}
	ex := p.Exemptions
	add := func(name string, vals []string) {
		if len(vals) > 0 {
			v.Exemptions = append(v.Exemptions, fact{name, strings.Join(vals, ", ")})
		}
	}
	add("users", ex.Users)
	add("access keys", ex.AccessKeyIDs)
	add("path prefixes", ex.PathPrefixes)
	if ex.Tag != "" {
		add("owner tag", []string{ex.Tag + ` = "true" or a future RFC 3339 time`})
	}
	for _, o := range p.Overrides {
		match := "path " + o.PathPrefix
		if o.Tag != nil {
			match = "tag " + o.Tag.Key
			if o.Tag.Value != "" {
				match += " = " + o.Tag.Value
			}
		}
		v.Overrides = append(v.Overrides, overrideView{
			Name: o.Name, Match: match,
			MaxKeyAge:   overrideDays(o.MaxKeyAgeDays, "off"),
			MaxInactive: overrideDays(o.MaxInactiveDays, "off"),
			Delete:      overrideDays(o.DeleteAfterDays, "at once"),
		})
	}
	if p.Organization != nil {
		v.Organization = "this policy also selects the accounts of an organization sweep"
	}
	return v
}

func days(n int, zero string) string {
	if n <= 0 {
		return zero
	}
	return fmt.Sprintf("%d days", n)
}

func overrideDays(n *int, zero string) string {
	if n == nil {
		return "policy's"
	}
	return days(*n, zero)
}

func buildCapabilities(in *Input) []capabilityView {
	notes := map[domain.Provider][]string{}
	for p, c := range in.Capabilities {
		notes[p] = CapabilityNotes(p, c)
	}
	for p, n := range in.Notes {
		notes[p] = append(notes[p], n...)
	}
	out := make([]capabilityView, 0, len(notes))
	for p, n := range notes {
		if len(n) > 0 {
			out = append(out, capabilityView{p.Title(), n})
		}
	}
	slices.SortFunc(out, func(a, b capabilityView) int { return cmp.Compare(a.Provider, b.Provider) })
	return out
}
