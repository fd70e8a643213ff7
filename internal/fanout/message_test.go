package fanout_test

import (
	"errors"
	"regexp"
	"strings"
	"testing"

	"github.com/keysweep/keysweep/internal/fanout"

	"github.com/google/go-cmp/cmp"
)

func TestParseMessage(t *testing.T) {
	good := fanout.NewMessage("org-20250101T000000Z-0a1b2c3d", "111122223333")
	tests := []struct {
		name string
		body string
		want string // error substring; "" for success
	}{
		{"round trip", good.Body(), ""},
		{"not json", "hello", "invalid account message"},
		{"unknown field", `{"orgRunId":"o","accountId":"111122223333","eventId":"org:o:111122223333","mode":"enforce"}`, "unknown field"},
		{"short account", `{"orgRunId":"o","accountId":"1111","eventId":"org:o:1111"}`, "accountId: want a 12-digit account id"},
		{"bad run id", `{"orgRunId":"o/../x","accountId":"111122223333","eventId":"org:o/../x:111122223333"}`, "orgRunId"},
		{"event id of another account", `{"orgRunId":"o","accountId":"111122223333","eventId":"org:o:444455556666"}`, `eventId: want "org:o:111122223333"`},
		{"missing event id", `{"orgRunId":"o","accountId":"111122223333"}`, "eventId"},
		{"trailing data", good.Body() + "{}", "data after the JSON object"},
		{"too large", `{"orgRunId":"` + strings.Repeat("a", fanout.MaxMessageBytes) + `"}`, "limit"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := fanout.ParseMessage([]byte(tc.body))
			if tc.want == "" {
				if err != nil {
					t.Fatalf("ParseMessage: %v", err)
				}
				if diff := cmp.Diff(good, got); diff != "" {
					t.Errorf("message (-want +got):\n%s", diff)
				}
				return
			}
			if !errors.Is(err, fanout.ErrBadMessage) || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("fanout.ParseMessage = %v, want an fanout.ErrBadMessage containing %q", err, tc.want)
			}
		})
	}
}

func TestIDs(t *testing.T) {
	got := []string{fanout.EventID("org-1", "111122223333"), fanout.AccountRunID("org-1", "111122223333"), fanout.RoleARN("aws-cn", "111122223333", "keysweep-member")}
	want := []string{"org:org-1:111122223333", "org-1-111122223333", "arn:aws-cn:iam::111122223333:role/keysweep-member"}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("ids (-want +got):\n%s", diff)
	}
	if id := fanout.NewOrgRunID(fixedNow); !regexp.MustCompile(`^[A-Za-z0-9._-]{1,100}$`).MatchString(id) || !strings.HasPrefix(id, "org-20260315T120000Z-") {
		t.Errorf("fanout.NewOrgRunID = %q", id)
	}
	if n := fanout.RoleSessionName(strings.Repeat("x", 100)); len(n) != 64 {
		t.Errorf("fanout.RoleSessionName is %d characters, IAM allows 64", len(n))
	}
}

// FuzzParseMessage: a queue message is outside input. Whatever it is,
// fanout.ParseMessage must not panic, every error must wrap fanout.ErrBadMessage, and an
// accepted message must encode back to one that parses the same.
func FuzzParseMessage(f *testing.F) {
	f.Add([]byte(fanout.NewMessage("org-20250101T000000Z-0a1b2c3d", "111122223333").Body()))
	f.Add([]byte(`{"orgRunId":"o","accountId":"111122223333","eventId":"org:o:111122223333"}`))
	f.Add([]byte(`{"orgRunId":1}`))
	f.Add([]byte(`[]`))
	f.Add([]byte(``))
	f.Fuzz(func(t *testing.T, body []byte) {
		m, err := fanout.ParseMessage(body)
		if err != nil {
			if !errors.Is(err, fanout.ErrBadMessage) {
				t.Fatalf("error %q does not wrap fanout.ErrBadMessage", err)
			}
			return
		}
		again, err := fanout.ParseMessage([]byte(m.Body()))
		if err != nil {
			t.Fatalf("fanout.ParseMessage of its own body %s: %v", m.Body(), err)
		}
		if again != m {
			t.Fatalf("round trip: %+v, then %+v", m, again)
		}
	})
}
