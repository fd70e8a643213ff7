// Package report renders keysweep's posture report: one self-contained
// HTML page of every key of one or more key stores, what the policy says of
// each now, what becomes due in the coming weeks, what was done lately, and
// the policy that judged them. The page fetches nothing: its style, charts
// (SVG made here) and the small script that sorts and filters the key table
// are all inline, and its Content-Security-Policy forbids any load.
//
// The package knows no cloud and no engine: the caller gathers the facts
// (the engine's plan now and at future dates, the journal's recent records
// and runs) into an Input, and Render writes the page. Upload puts a page
// in S3 and returns a presigned link to it.
package report

import (
	"fmt"
	"time"

	"github.com/keysweep/keysweep/internal/domain"
	"github.com/keysweep/keysweep/policy"
)

// Input is everything one report shows. Only Decisions is required; every
// other part may be empty and its section says so.
type Input struct {
	// GeneratedAt is when the report was made; time.Now when zero.
	GeneratedAt time.Time
	// At is the time the keys were judged at (the plan's --at); GeneratedAt
	// when zero. The forecast counts from it, and "acted on in the last 30
	// days" from it or from GeneratedAt, whichever is earlier.
	At time.Time
	// Targets are the key stores the report covers. A decision whose
	// provider and account match no target is shown under its account.
	Targets []domain.Target
	// Decisions are every key judged at At, keep verdicts included.
	Decisions []domain.KeyDecision
	// Forecast is the plan at the end of each coming week, in order (see
	// ForecastDates).
	Forecast []Week
	// Records are recent audit records (intents, outcomes, notices), any
	// order; the report shows the outcomes and counts the keys acted on.
	Records []domain.Record
	// Runs are recent runs, any order.
	Runs []domain.Run
	// Policy is the policy that judged the keys; nil when unknown.
	Policy *policy.Policy
	// Capabilities are what each kind of key store can do. The report
	// prints what they mean (CapabilityNotes), and where a store cannot
	// tell a key's last use it shows that as unknown and leaves its keys
	// out of the chart of days since last use. A provider not in the map
	// is taken to know last use.
	Capabilities map[domain.Provider]domain.Capabilities
	// Notes are further facts per kind of key store worth telling (an
	// inventory's fallback, say), printed with the capabilities.
	Notes map[domain.Provider][]string
}

// knowsLastUse reports whether keys of provider p carry their last use.
func (in *Input) knowsLastUse(p domain.Provider) bool {
	if p == "" {
		p = domain.ProviderAWS
	}
	c, ok := in.Capabilities[p]
	return !ok || c.LastUsed
}

// Week is the plan's judgement at the end of one forecast week.
type Week struct {
	// At is the time the plan judged the keys at: the end of the week. The
	// week starts at the previous week's At (the first at Input.At).
	At time.Time
	// Decisions are the plan's decisions at At. Keep verdicts may be left
	// out or included; only keys to deactivate or delete count.
	Decisions []domain.KeyDecision
}

// ForecastDates gives the ends of the n weeks after at: the times the
// caller judges the keys at for Input.Forecast.
func ForecastDates(at time.Time, n int) []time.Time {
	out := make([]time.Time, n)
	for i := range out {
		out[i] = at.AddDate(0, 0, 7*(i+1))
	}
	return out
}

// CapabilityNotes says in words what a key store of provider p cannot do
// and what the report's figures mean for it, from its capabilities.
func CapabilityNotes(p domain.Provider, c domain.Capabilities) []string {
	var out []string
	if !c.Deactivate {
		out = append(out, "keys have no active/inactive status: a stale key is marked due and deleted after the policy's deleteAfterDays")
	}
	if !c.LastUsed {
		out = append(out, "the store does not tell when a key was last used: the inactivity limit cannot be judged, only the age limit")
	}
	if c.Expiry {
		out = append(out, "keys may carry an expiry date of their own")
	}
	if !c.OwnerTags {
		out = append(out, "owners have no tags: tag exemptions and tag overrides never match")
	}
	if !c.OwnerPaths {
		out = append(out, "owners have no path: path exemptions and path overrides never match")
	}
	if c.Report {
		out = append(out, "the inventory comes from a report that may be hours old; every key is read again live before it is acted on")
	}
	if len(out) == 0 {
		out = append(out, fmt.Sprintf("%s serves every rule of the policy", p.Title()))
	}
	return out
}
