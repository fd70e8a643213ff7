package policy

import (
	"fmt"
	"strconv"
)

// Blast-radius caps used when a policy leaves them zero.
const (
	DefaultMaxActions = 25
	DefaultMaxPercent = 10.0
)

// DefaultTag is the user tag that exempts a user in the built-in policy.
const DefaultTag = "keysweep:exempt"

// Default is the built-in policy used when none is stored. It only audits.
func Default() *Policy {
	return &Policy{
		Version:         "builtin-default",
		Mode:            ModeAudit,
		MaxKeyAgeDays:   90,
		MaxInactiveDays: 45,
		DeleteAfterDays: 7,
		Exemptions:      Exemptions{Tag: DefaultTag},
	}
}

// Limits gives the effective blast-radius caps: the policy's own, or the
// defaults where it leaves them zero.
func (p *Policy) Limits() (maxActions int, maxPercent float64) {
	maxActions, maxPercent = p.BlastRadius.MaxActions, p.BlastRadius.MaxPercent
	if maxActions <= 0 {
		maxActions = DefaultMaxActions
	}
	if maxPercent <= 0 {
		maxPercent = DefaultMaxPercent
	}
	return maxActions, maxPercent
}

// CapExceeded reports whether a plan of actions (deactivations plus
// deletions) out of totalKeys keys exceeds a blast-radius cap, and if so why,
// with the figures. A plan with no actions never exceeds a cap.
//
// The percent cap counts too in small accounts: under the default 10%, an
// account with fewer than 10 keys cannot act on even one key. Set
// blastRadius.maxPercent to 100 to rely on maxActions alone.
func (p *Policy) CapExceeded(actions, totalKeys int) (bool, string) {
	if actions <= 0 {
		return false, ""
	}
	maxActions, maxPercent := p.Limits()
	if actions > maxActions {
		return true, fmt.Sprintf("plan has %d actions, cap %d", actions, maxActions)
	}
	if totalKeys < actions {
		// Cannot happen with a sound inventory; refuse rather than guess.
		return true, fmt.Sprintf("plan has %d actions but only %d keys", actions, totalKeys)
	}
	// Compare exactly; the percentage is only for the reason.
	if float64(actions)*100 > maxPercent*float64(totalKeys) {
		pct := float64(actions) * 100 / float64(totalKeys)
		return true, fmt.Sprintf("plan acts on %s%% of %d keys, cap %s%%", percent(pct, maxPercent), totalKeys, percent(maxPercent, -1))
	}
	return false, ""
}

// percent formats x with at most two decimals, or exactly when two decimals
// would make it look equal to the cap.
func percent(x, limit float64) string {
	s := strconv.FormatFloat(x, 'f', 2, 64)
	for s[len(s)-1] == '0' {
		s = s[:len(s)-1]
	}
	s = trimDot(s)
	if limit >= 0 && s == percent(limit, -1) {
		return strconv.FormatFloat(x, 'f', -1, 64)
	}
	return s
}

func trimDot(s string) string {
	if s[len(s)-1] == '.' {
		return s[:len(s)-1]
	}
	return s
}
