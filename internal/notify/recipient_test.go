package notify

import (
	"errors"
	"testing"

	"github.com/keysweep/keysweep/policy"
)

func TestRecipient(t *testing.T) {
	withFallback := &policy.Notify{OwnerEmailTag: "owner-email", FallbackEmail: "security@example.com"}
	tagOnly := &policy.Notify{OwnerEmailTag: "owner-email"}
	tests := []struct {
		name    string
		tags    map[string]string
		n       *policy.Notify
		want    string
		wantErr error
	}{
		{"owner tag", map[string]string{"owner-email": "alice@example.com"}, withFallback, "alice@example.com", nil},
		{"owner tag with spaces", map[string]string{"owner-email": " alice@example.com "}, tagOnly, "alice@example.com", nil},
		{"no tag: fallback", map[string]string{"team": "ops"}, withFallback, "security@example.com", nil},
		{"tags not loaded: fallback", nil, withFallback, "security@example.com", nil},
		{"empty tag: fallback", map[string]string{"owner-email": " "}, withFallback, "security@example.com", nil},
		{"bad tag: fallback and the failure", map[string]string{"owner-email": "alice at example"}, withFallback, "security@example.com", ErrInvalidRecipient},
		{"bad tag, no fallback", map[string]string{"owner-email": "Alice <alice@example.com>"}, tagOnly, "", ErrInvalidRecipient},
		{"no tag, no fallback", map[string]string{}, tagOnly, "", ErrNoRecipient},
		{"fallback only", map[string]string{"owner-email": "alice@example.com"}, &policy.Notify{FallbackEmail: "security@example.com"}, "security@example.com", nil},
		{"bad fallback", nil, &policy.Notify{FallbackEmail: "security"}, "", ErrInvalidRecipient},
		{"no section", map[string]string{"owner-email": "alice@example.com"}, nil, "", ErrNoRecipient},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := Recipient(tc.tags, tc.n)
			if got != tc.want || !errors.Is(err, tc.wantErr) || (tc.wantErr == nil) != (err == nil) {
				t.Fatalf("Recipient = %q, %v; want %q, %v", got, err, tc.want, tc.wantErr)
			}
			var se *SendError
			if err != nil && (!errors.As(err, &se) || se.Channel != ChannelEmail) {
				t.Errorf("error %v is not an e-mail *SendError", err)
			}
		})
	}
}

func TestSender(t *testing.T) {
	if got := Sender(&policy.Notify{Sender: "a@example.com"}, "b@example.com"); got != "a@example.com" {
		t.Errorf("policy sender not preferred: %q", got)
	}
	if got := Sender(&policy.Notify{}, "b@example.com"); got != "b@example.com" {
		t.Errorf("deployment sender not used: %q", got)
	}
	if got := Sender(nil, ""); got != "" {
		t.Errorf("Sender = %q, want none", got)
	}
}
