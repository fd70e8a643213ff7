package policy

import (
	"fmt"
	"slices"
	"strings"
	"time"
)

// noticePeriod judges a stale key of a store without status (GMI Cloud):
// it cannot be deactivated, so the grace period is a notice period. A key
// past its expiry date is deleted at once (it is dead weight); otherwise
// the first run that finds the key stale marks it due (the caller records
// now as DeactivatedAt), and it is deleted n days later unless it stopped
// being stale.
func noticePeriod(k Key, f facts, n int, why string, now time.Time) (Verdict, string, *time.Time) {
	switch {
	case !f.stale:
		if k.DeactivatedAt != nil {
			why += "; no longer stale: the notice period ends"
		}
		return Keep, why, nil
	case f.expired:
		return Delete, why + "; expired keys are deleted at once", nil
	case n == 0:
		return Delete, why + "; delete now (deleteAfterDays 0)", nil
	case k.DeactivatedAt == nil:
		due := now.Add(time.Duration(n) * day)
		return Keep, why + fmt.Sprintf("; cannot be deactivated: marked due now, delete on %s", date(due)), &due
	}
	due := k.DeactivatedAt.Add(time.Duration(n) * day)
	if now.Before(due) {
		return Keep, why + fmt.Sprintf("; due since %s, delete on %s", date(*k.DeactivatedAt), date(due)), &due
	}
	return Delete, why + fmt.Sprintf("; due since %s (%s), delete after %d", date(*k.DeactivatedAt), plural(days(now, *k.DeactivatedAt), "day"), n), &due
}

// storeExempt is the exemptions by what some stores say of a key besides
// its id and owner name: its name, its owner's id, its scope.
func storeExempt(ex Exemptions, k Key) (string, bool) {
	for _, p := range ex.KeyNamePrefixes {
		if k.KeyName != "" && strings.HasPrefix(k.KeyName, p) {
			return fmt.Sprintf("exempt: key name %s starts with %s (exemptions.keyNamePrefixes)", k.KeyName, p), true
		}
	}
	if k.OwnerID != "" && slices.Contains(ex.OwnerIDs, k.OwnerID) {
		return fmt.Sprintf("exempt: owner id %s in exemptions.ownerIds", k.OwnerID), true
	}
	if k.Scope != "" && slices.Contains(ex.Scopes, k.Scope) {
		return fmt.Sprintf("exempt: scope %s in exemptions.scopes", k.Scope), true
	}
	return "", false
}
