package policy

import (
	"errors"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestValidate(t *testing.T) {
	tests := []struct {
		name   string
		change func(*Policy)
		want   []Problem
	}{
		{"valid", func(p *Policy) {}, nil},
		{"version required", func(p *Policy) { p.Version = " " }, []Problem{{"version", "required"}}},
		{"mode required", func(p *Policy) { p.Mode = "" }, []Problem{{"mode", `required: "audit" or "enforce"`}}},
		{"mode unknown", func(p *Policy) { p.Mode = "enforced" }, []Problem{{"mode", `must be "audit" or "enforce", got "enforced"`}}},
		{"limits out of range", func(p *Policy) { p.MaxKeyAgeDays, p.MaxInactiveDays, p.DeleteAfterDays = -3, 3651, 366 }, []Problem{
			{"maxKeyAgeDays", "must be between 0 and 3650, got -3"},
			{"maxInactiveDays", "must be between 0 and 3650, got 3651"},
			{"deleteAfterDays", "must be between 0 and 365, got 366"},
		}},
		{"both rules off", func(p *Policy) { p.MaxKeyAgeDays, p.MaxInactiveDays = 0, 0 }, []Problem{
			{"maxKeyAgeDays", "at least one of maxKeyAgeDays, maxInactiveDays or maxKeyLifetimeDays must be > 0"},
		}},
		{"caps out of range", func(p *Policy) { p.BlastRadius = BlastRadius{MaxActions: 100001, MaxPercent: 100.5} }, []Problem{
			{"blastRadius.maxActions", "must be between 0 and 100000, got 100001"},
			{"blastRadius.maxPercent", "must be between 0 and 100, got 100.5"},
		}},
		{"negative caps", func(p *Policy) { p.BlastRadius = BlastRadius{MaxActions: -1, MaxPercent: -1} }, []Problem{
			{"blastRadius.maxActions", "must be between 0 and 100000, got -1"},
			{"blastRadius.maxPercent", "must be between 0 and 100, got -1"},
		}},
		{"empty exemptions", func(p *Policy) {
			p.Exemptions = Exemptions{Users: []string{"a", ""}, AccessKeyIDs: []string{" "}, PathPrefixes: []string{"", "/a", "b/"}}
		}, []Problem{
			{"exemptions.users[1]", "must not be empty"},
			{"exemptions.accessKeyIds[0]", "must not be empty"},
			{"exemptions.pathPrefixes[0]", `must start and end with "/", got ""`},
			{"exemptions.pathPrefixes[1]", `must start and end with "/", got "/a"`},
			{"exemptions.pathPrefixes[2]", `must start and end with "/", got "b/"`},
		}},
		{"exemption tag reserved", func(p *Policy) { p.Exemptions.Tag = "AWS:exempt" }, []Problem{
			{"exemptions.tag", `must not start with the reserved prefix "aws:", got "AWS:exempt"`},
		}},
		{"exemption tag bad characters", func(p *Policy) { p.Exemptions.Tag = "exempt!" }, []Problem{
			{"exemptions.tag", `must be a valid IAM tag key (up to 128 letters, digits, spaces or _.:/=+-@), got "exempt!"`},
		}},
		{"overrides", func(p *Policy) {
			p.Overrides = []Override{
				{Name: "a"},
				{Name: "b", PathPrefix: "/x/", Tag: &TagMatch{Key: "k"}},
				{Name: "a", PathPrefix: "service", DeleteAfterDays: intP(400)},
				{Tag: &TagMatch{Value: "v"}, MaxKeyAgeDays: intP(-1)},
				{Name: "default", Tag: &TagMatch{Key: "team", Value: "o!ps"}},
				{PathPrefix: "/off/", MaxKeyAgeDays: intP(0), MaxInactiveDays: intP(0)},
			}
		}, []Problem{
			{"overrides[0]", "exactly one of pathPrefix or tag, got neither"},
			{"overrides[1]", "exactly one of pathPrefix or tag, got both"},
			{"overrides[2].pathPrefix", `must start and end with "/", got "service"`},
			{"overrides[2].name", `duplicate of overrides[0].name "a"`},
			{"overrides[2].deleteAfterDays", "must be between 0 and 365, got 400"},
			{"overrides[3].tag.key", "required"},
			{"overrides[3].maxKeyAgeDays", "must be between 0 and 3650, got -1"},
			{"overrides[4].tag.value", `must be a valid IAM tag value (up to 256 letters, digits, spaces or _.:/=+-@), got "o!ps"`},
			{"overrides[4].name", `must not be "default", which names the policy's own limits`},
			{"overrides[5]", "turns off both maxKeyAgeDays and maxInactiveDays; use exemptions to exempt users"},
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			p := testPolicy()
			tc.change(p)
			got := problemsOf(t, p.Validate())
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("problems (-want +got):\n%s", diff)
			}
		})
	}
}

func TestInvalidErrorMessage(t *testing.T) {
	p := testPolicy()
	p.Version, p.Mode = "", "enforced"
	want := `invalid policy: version: required; mode: must be "audit" or "enforce", got "enforced"`
	if err := p.Validate(); err == nil || err.Error() != want {
		t.Errorf("Validate() = %v, want %q", err, want)
	}
}

// problemsOf is the problems Validate reported in err (nil for none); err
// must be an *InvalidError that wraps ErrInvalid.
func problemsOf(t *testing.T, err error) []Problem {
	t.Helper()
	if err == nil {
		return nil
	}
	var ie *InvalidError
	if !errors.Is(err, ErrInvalid) || !errors.As(err, &ie) {
		t.Fatalf("Validate = %v (%T), want an *InvalidError wrapping ErrInvalid", err, err)
	}
	return ie.Problems
}
