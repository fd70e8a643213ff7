package policy

import (
	"encoding/json"
	"errors"
	"os"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestParse(t *testing.T) {
	want := &Policy{
		Version: "v1", Mode: ModeEnforce, MaxKeyAgeDays: 90, MaxInactiveDays: 45, DeleteAfterDays: 7,
		BlastRadius: BlastRadius{MaxActions: 10, MaxPercent: 12.5},
		Exemptions:  Exemptions{Users: []string{"root-ish"}, Tag: "keysweep:exempt"},
		Overrides: []Override{
			{PathPrefix: "/service/", MaxInactiveDays: intP(30)},
			{Name: "ops", Tag: &TagMatch{Key: "team", Value: "ops"}, MaxKeyAgeDays: intP(0), DeleteAfterDays: intP(0)},
		},
	}
	tests := []struct {
		name string
		doc  string
	}{
		{"yaml", `
version: v1
mode: enforce
maxKeyAgeDays: 90
maxInactiveDays: 45
deleteAfterDays: 7
blastRadius: {maxActions: 10, maxPercent: 12.5}
exemptions:
  users: [root-ish]
  accessKeyIds: []
  tag: keysweep:exempt
overrides:
  - pathPrefix: /service/
    maxInactiveDays: 30
  - name: ops
    tag: {key: team, value: ops}
    maxKeyAgeDays: 0
    deleteAfterDays: 0
`},
		{"json with tabs", "{\n\t\"version\": \"v1\", \"mode\": \"enforce\",\n\t\"maxKeyAgeDays\": 90, \"maxInactiveDays\": 45, \"deleteAfterDays\": 7,\n" +
			"\t\"blastRadius\": {\"maxActions\": 10, \"maxPercent\": 12.5},\n" +
			"\t\"exemptions\": {\"users\": [\"root-ish\"], \"tag\": \"keysweep:exempt\", \"pathPrefixes\": null},\n" +
			"\t\"overrides\": [{\"pathPrefix\": \"/service/\", \"maxInactiveDays\": 30},\n" +
			"\t\t{\"name\": \"ops\", \"tag\": {\"key\": \"team\", \"value\": \"ops\"}, \"maxKeyAgeDays\": 0, \"deleteAfterDays\": 0.0}]\n}\n"},
	}
	tests = append(tests, struct {
		name string
		doc  string
	}{"yaml flow mapping", `{version: v1, mode: enforce, maxKeyAgeDays: 90, maxInactiveDays: 45, deleteAfterDays: 7,
  blastRadius: {maxActions: 10, maxPercent: 12.5},
  exemptions: {users: [root-ish], tag: "keysweep:exempt"},
  overrides: [{pathPrefix: /service/, maxInactiveDays: 30},
    {name: ops, tag: {key: team, value: ops}, maxKeyAgeDays: 0, deleteAfterDays: 0}]}`})
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := Parse([]byte(tc.doc))
			if err != nil {
				t.Fatalf("Parse: %v", err)
			}
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("Parse mismatch (-want +got):\n%s", diff)
			}
		})
	}
}

func TestParseErrors(t *testing.T) {
	const valid = minimalDoc
	tests := []struct {
		name string
		doc  string
		want []string // each must appear in the message
	}{
		{"empty", "", []string{"empty document"}},
		{"blank", " \n\t\n", []string{"empty document"}},
		{"only comments", "# nothing\n", []string{"empty document"}},
		{"null", "null", []string{"empty document"}},
		{"not a mapping", "- a\n- b\n", []string{"document must be a mapping"}},
		{"yaml syntax", "version: [\n", []string{"yaml:"}},
		{"json syntax", `{"version": }`, []string{"json:"}},
		{"json trailing data", `{"version": "v"} {}`, []string{"data after the document"}},
		{"two yaml documents", valid + "---\n" + valid, []string{"more than one document"}},
		{"unknown top-level field", valid + "maxAge: 3\n", []string{"maxAge: unknown field"}},
		{"unknown nested field", valid + "overrides:\n  - pathPrefix: /a/\n  - pathPrefix: /b/\n    maxAgeDays: 3\n",
			[]string{"overrides[1].maxAgeDays: unknown field"}},
		{"field names are case sensitive", valid + "MaxInactiveDays: 3\n", []string{"MaxInactiveDays: unknown field"}},
		{"unquoted number for a string", "version: 1.0\nmode: audit\nmaxKeyAgeDays: 90\n", []string{"version: must be a string, got number 1 (quote it)"}},
		{"fraction for a whole number", "version: v\nmode: audit\nmaxKeyAgeDays: 90.5\n", []string{"maxKeyAgeDays: must be a whole number, got number 90.5"}},
		{"huge number", `{"version": "v", "mode": "audit", "maxKeyAgeDays": 1e30}`, []string{"maxKeyAgeDays: must be a whole number"}},
		{"string for a number", "version: v\nmode: audit\nmaxKeyAgeDays: \"90\"\n", []string{`maxKeyAgeDays: must be a whole number, got "90"`}},
		{"list for a mapping", valid + "exemptions: [a]\n", []string{"exemptions: must be a mapping, got a list"}},
		{"mapping for a list", valid + "overrides: {a: 1}\n", []string{"overrides: must be a list, got a mapping"}},
		{"non-string key", valid + "exemptions: {1: a}\n", []string{"exemptions: must be a mapping"}},
		{"infinite percent", valid + "blastRadius: {maxPercent: .inf}\n", []string{"blastRadius.maxPercent: must be between 0 and 100, got +Inf"}},
		{"NaN percent", valid + "blastRadius: {maxPercent: .nan}\n", []string{"blastRadius.maxPercent: must be between 0 and 100, got NaN"}},
		{"several problems at once", "version: v\nmode: enforced\nmaxKeyAgeDays: -3\n",
			[]string{`mode: must be "audit" or "enforce", got "enforced"`, "maxKeyAgeDays: must be between 0 and 3650, got -3"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			p, err := Parse([]byte(tc.doc))
			if err == nil {
				t.Fatalf("Parse = %+v, want an error", p)
			}
			if !errors.Is(err, ErrInvalid) {
				t.Errorf("error %q does not wrap ErrInvalid", err)
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not mention %q", err, w)
				}
			}
		})
	}
}

func TestExampleParses(t *testing.T) {
	p := parseExample(t)
	got := struct {
		Mode      Mode
		Limits    [3]int
		Tag       string
		Overrides int
		NeedsTags bool
	}{p.Mode, [3]int{p.MaxKeyAgeDays, p.MaxInactiveDays, p.DeleteAfterDays}, p.Exemptions.Tag, len(p.Overrides), p.NeedsTags()}
	want := got
	want.Mode, want.Limits, want.Tag, want.Overrides, want.NeedsTags = ModeEnforce, [3]int{90, 45, 7}, DefaultTag, 2, true
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("example.yaml (-want +got):\n%s", diff)
	}
}

func TestItemRoundTrip(t *testing.T) {
	for _, p := range []*Policy{Default(), parseExample(t)} {
		t.Run(p.Version, func(t *testing.T) {
			got, err := FromItem(p.Item())
			if err != nil {
				t.Fatalf("FromItem(Item()): %v", err)
			}
			if diff := cmp.Diff(p, got); diff != "" {
				t.Errorf("as Go values (-want +got):\n%s", diff)
			}

			// attributevalue gives numbers back as float64, or as Number
			// strings with UseNumber; a JSON trip gives both kinds.
			for _, useNumber := range []bool{false, true} {
				item := jsonTrip(t, p.Item(), useNumber)
				item["id"], item["updatedAt"], item["updatedBy"] = "default", "2026-11-22T12:00:00Z", "ci"
				got, err := FromItem(item)
				if err != nil {
					t.Fatalf("FromItem (useNumber %v): %v", useNumber, err)
				}
				if diff := cmp.Diff(p, got); diff != "" {
					t.Errorf("through JSON, useNumber %v (-want +got):\n%s", useNumber, diff)
				}
			}
		})
	}
}

// The optional sections a document leaves out stay nil, and out of the item.
func TestAbsentSectionsStayNil(t *testing.T) {
	p := mustParse(t, minimalDoc)
	if p.Notify != nil {
		t.Errorf("notify = %+v, want nil", p.Notify)
	}
	if p.Organization != nil {
		t.Errorf("organization = %+v, want nil", p.Organization)
	}
	for _, attr := range []string{"notify", "organization"} {
		if _, ok := p.Item()[attr]; ok {
			t.Errorf("Item has a %s attribute for a policy without the section", attr)
		}
	}
}

func TestItemOmitsEmptyParts(t *testing.T) {
	p := &Policy{Version: "v", Mode: ModeAudit, MaxKeyAgeDays: 90}
	want := map[string]any{"version": "v", "mode": "audit", "maxKeyAgeDays": 90, "maxInactiveDays": 0, "deleteAfterDays": 0}
	if diff := cmp.Diff(want, p.Item()); diff != "" {
		t.Errorf("Item (-want +got):\n%s", diff)
	}
}

func TestFromItemErrors(t *testing.T) {
	base := func() map[string]any {
		return map[string]any{"id": "default", "version": "v", "mode": "audit", "maxKeyAgeDays": int64(90)}
	}
	tests := []struct {
		name   string
		change func(map[string]any)
		want   string
	}{
		{"unknown attribute", func(m map[string]any) { m["owner"] = "me" }, "owner: unknown field"},
		{"unknown nested attribute", func(m map[string]any) {
			m["overrides"] = []any{map[string]any{"pathPrefix": "/a/", "maxAge": 3.0}}
		}, "overrides[0].maxAge: unknown field"},
		{"string set for a string", func(m map[string]any) { m["version"] = []string{"v"} }, "version: must be a string, got a list"},
		{"invalid", func(m map[string]any) { m["mode"] = "loud" }, `mode: must be "audit" or "enforce", got "loud"`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			m := base()
			tc.change(m)
			_, err := FromItem(m)
			if err == nil || !errors.Is(err, ErrInvalid) || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("FromItem error = %v, want one wrapping ErrInvalid and mentioning %q", err, tc.want)
			}
		})
	}
	if _, err := FromItem(nil); !errors.Is(err, ErrInvalid) {
		t.Errorf("FromItem(nil) error = %v, want ErrInvalid", err)
	}
	// A string set (SS) comes back as []string: fine for a list.
	m := base()
	m["exemptions"] = map[string]any{"users": []string{"a", "b"}}
	p, err := FromItem(m)
	if err != nil {
		t.Fatalf("FromItem with a string set: %v", err)
	}
	if diff := cmp.Diff([]string{"a", "b"}, p.Exemptions.Users); diff != "" {
		t.Errorf("users (-want +got):\n%s", diff)
	}
}

// minimalDoc is the least a valid policy document says.
const minimalDoc = "version: v\nmode: audit\nmaxKeyAgeDays: 90\n"

func parseExample(t *testing.T) *Policy {
	t.Helper()
	data, err := os.ReadFile("example.yaml")
	if err != nil {
		t.Fatal(err)
	}
	return mustParse(t, string(data))
}

func mustParse(t *testing.T, doc string) *Policy {
	t.Helper()
	p, err := Parse([]byte(doc))
	if err != nil {
		t.Fatalf("Parse: %v", err)
	}
	return p
}

// checkItemTrip holds FromItem to give p back from p.Item() after a trip
// through JSON, with numbers as float64 and as json.Number.
func checkItemTrip(t *testing.T, p *Policy) {
	t.Helper()
	for _, useNumber := range []bool{false, true} {
		got, err := FromItem(jsonTrip(t, p.Item(), useNumber))
		if err != nil {
			t.Fatalf("FromItem: %v", err)
		}
		if diff := cmp.Diff(p, got); diff != "" {
			t.Errorf("useNumber %v (-want +got):\n%s", useNumber, diff)
		}
	}
}

func jsonTrip(t *testing.T, m map[string]any, useNumber bool) map[string]any {
	t.Helper()
	data, err := json.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	dec := json.NewDecoder(strings.NewReader(string(data)))
	if useNumber {
		dec.UseNumber()
	}
	var out map[string]any
	if err := dec.Decode(&out); err != nil {
		t.Fatal(err)
	}
	return out
}
