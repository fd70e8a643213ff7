package trigger_test

import (
	"errors"
	"os"
	"testing"

	"github.com/keysweep/keysweep/internal/trigger"
)

// FuzzParseSweepEvent: any payload either parses into something sane or is
// refused with ErrBadEvent; it never panics.
func FuzzParseSweepEvent(f *testing.F) {
	for _, name := range []string{"schedule.json", "manual-audit.json", "manual-users.json", "manual-enforce.json"} {
		raw, err := os.ReadFile("../../events/" + name)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(raw)
	}
	for _, s := range []string{``, `null`, `{}`, `[]`, `{"users":null}`, `{"users":["a","b"]}`, `{"mode":"enforce","eventId":"x"}`,
		`{"detail-type":"Scheduled Event","source":"aws.events","id":"1"}`, `{"detail-type":1}`, `{"mode":"audit"} {}`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, raw []byte) {
		ev, err := trigger.Parse(raw)
		if err != nil {
			if !errors.Is(err, trigger.ErrBadEvent) {
				t.Fatalf("error %v does not wrap ErrBadEvent", err)
			}
			return
		}
		if ev.Kind != "schedule" && ev.Kind != "manual" {
			t.Fatalf("kind %q", ev.Kind)
		}
		if ev.AuditOnly && ev.Enforce {
			t.Fatal("audit and enforce at once")
		}
		if ev.Users != nil && len(ev.Users) == 0 {
			t.Fatal("empty user list accepted: it would sweep nobody, or everybody")
		}
	})
}
