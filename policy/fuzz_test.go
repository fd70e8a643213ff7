package policy

import (
	"encoding/json"
	"errors"
	"os"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// FuzzParse feeds Parse outside input. Whatever it gets, it must not panic,
// every error must wrap ErrInvalid, and a policy it accepts must be valid
// and read back the same from its JSON.
func FuzzParse(f *testing.F) {
	if example, err := os.ReadFile("example.yaml"); err == nil {
		f.Add(example)
	}
	if def, err := json.Marshal(Default()); err == nil {
		f.Add(def)
	}
	for _, seed := range []string{
		"",
		"version: v\nmode: audit\nmaxKeyAgeDays: 90\n",
		"version: v\nmode: enforce\nmaxInactiveDays: 45\noverrides:\n- {tag: {key: team, value: ops}, maxKeyAgeDays: 365}\n- {pathPrefix: /service/}\n",
		`{"version": "v", "mode": "audit", "maxKeyAgeDays": 90, "blastRadius": {"maxPercent": 0.5}}`,
		`{"version": "v", "mode": "audit", "maxKeyAgeDays": 1e3, "exemptions": {"users": []}}`,
		"version: v\nmode: enforced\nmaxKeyAgeDays: -3\n",
		"version: 1\n",
		"a: &a [*a]\n",
		"version: v\nmode: audit\nmaxKeyAgeDays: 90\nblastRadius: {maxPercent: .nan}\n",
		"---\n---\n",
		"[1, 2]",
		"{\"version\": \"v\"} trailing",
	} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		p, err := Parse(data)
		if err != nil {
			if !errors.Is(err, ErrInvalid) {
				t.Fatalf("error %q does not wrap ErrInvalid", err)
			}
			return
		}
		if err := p.Validate(); err != nil {
			t.Fatalf("Parse accepted an invalid policy: %v", err)
		}
		js, err := json.Marshal(p)
		if err != nil {
			t.Fatalf("json.Marshal: %v", err)
		}
		again, err := Parse(js)
		if err != nil {
			t.Fatalf("Parse of its own JSON %s: %v", js, err)
		}
		if diff := cmp.Diff(p, again); diff != "" {
			t.Fatalf("JSON round trip (-first +again):\n%s", diff)
		}
		if diff := cmp.Diff(p, mustFromItem(t, p.Item())); diff != "" {
			t.Fatalf("item round trip (-first +again):\n%s", diff)
		}
	})
}

func mustFromItem(t *testing.T, m map[string]any) *Policy {
	t.Helper()
	p, err := FromItem(m)
	if err != nil {
		t.Fatalf("FromItem(Item()): %v", err)
	}
	return p
}
