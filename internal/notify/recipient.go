package notify

import (
	"fmt"
	"strings"

	"github.com/keysweep/keysweep/policy"
)

// Recipient resolves where a key owner's notices go: the address in the
// owner's tag named by n.OwnerEmailTag; else n.FallbackEmail; else none
// (ErrNoRecipient). ownerTags nil means the owner has no tags.
//
// A tag that holds something other than an address is a mistake someone
// must fix: err wraps ErrInvalidRecipient and names the tag, and address
// is still the fallback (empty without one), so that the caller can both
// tell someone and record the failure. Send nothing when address is empty.
func Recipient(ownerTags map[string]string, n *policy.Notify) (address string, err error) {
	if n == nil {
		return "", &SendError{Channel: ChannelEmail, Reason: ErrNoRecipient, Err: fmt.Errorf("the policy has no notify section")}
	}
	fallback := n.FallbackEmail
	if fallback != "" {
		if ferr := policy.CheckEmail(fallback); ferr != nil {
			// Validate refuses such a policy; a caller that skipped it
			// still sends nowhere wrong.
			return "", &SendError{Channel: ChannelEmail, Reason: ErrInvalidRecipient, Err: fmt.Errorf("notify.fallbackEmail: %w", ferr)}
		}
	}
	if n.OwnerEmailTag != "" {
		if v, ok := ownerTags[n.OwnerEmailTag]; ok && strings.TrimSpace(v) != "" {
			v = strings.TrimSpace(v)
			if terr := policy.CheckEmail(v); terr != nil {
				return fallback, &SendError{Channel: ChannelEmail, Reason: ErrInvalidRecipient,
					Err: fmt.Errorf("owner tag %s=%q: %w", n.OwnerEmailTag, v, terr)}
			}
			return v, nil
		}
	}
	if fallback != "" {
		return fallback, nil
	}
	why := "the policy names no owner tag and no fallback address"
	if n.OwnerEmailTag != "" {
		why = fmt.Sprintf("the owner has no %s tag and the policy no fallback address", n.OwnerEmailTag)
	}
	return "", &SendError{Channel: ChannelEmail, Reason: ErrNoRecipient, Err: fmt.Errorf("%s", why)}
}

// Sender picks the address e-mail comes from: the policy's notify.sender,
// else the deployment's (a template parameter). Empty when neither is set.
func Sender(n *policy.Notify, deployment string) string {
	if n != nil && n.Sender != "" {
		return n.Sender
	}
	return deployment
}
