package policy

import (
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestDefault(t *testing.T) {
	p := Default()
	if err := p.Validate(); err != nil {
		t.Fatalf("Default() is invalid: %v", err)
	}
	want := &Policy{Version: "builtin-default", Mode: ModeAudit, MaxKeyAgeDays: 90, MaxInactiveDays: 45, DeleteAfterDays: 7,
		Exemptions: Exemptions{Tag: "keysweep:exempt"}}
	if diff := cmp.Diff(want, p); diff != "" {
		t.Errorf("Default() (-want +got):\n%s", diff)
	}
	p.Exemptions.Users = append(p.Exemptions.Users, "x")
	if Default().Exemptions.Users != nil {
		t.Error("Default() shares state between calls")
	}
}

func TestLimits(t *testing.T) {
	tests := []struct {
		name        string
		br          BlastRadius
		wantActions int
		wantPercent float64
	}{
		{"defaults", BlastRadius{}, DefaultMaxActions, DefaultMaxPercent},
		{"own", BlastRadius{MaxActions: 3, MaxPercent: 50}, 3, 50},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			p := &Policy{BlastRadius: tc.br}
			a, pct := p.Limits()
			if diff := cmp.Diff([]any{tc.wantActions, tc.wantPercent}, []any{a, pct}); diff != "" {
				t.Errorf("Limits() (-want +got):\n%s", diff)
			}
		})
	}
}

func TestCapExceeded(t *testing.T) {
	tests := []struct {
		name       string
		br         BlastRadius
		actions    int
		total      int
		want       bool
		wantReason string
	}{
		{"nothing to do", BlastRadius{}, 0, 0, false, ""},
		{"within both", BlastRadius{}, 25, 250, false, ""},
		{"too many actions", BlastRadius{}, 40, 1000, true, "plan has 40 actions, cap 25"},
		{"too large a share", BlastRadius{}, 40, 320, true, "plan has 40 actions, cap 25"},
		{"too large a share, own action cap", BlastRadius{MaxActions: 100}, 40, 320, true, "plan acts on 12.5% of 320 keys, cap 10%"},
		{"exactly at the percent cap", BlastRadius{}, 10, 100, false, ""},
		{"just over, shown exactly", BlastRadius{MaxActions: 10000}, 1001, 10000, true, "plan acts on 10.01% of 10000 keys, cap 10%"},
		{"hair over the cap shows all digits", BlastRadius{MaxActions: 100000}, 10001, 100000, true, "plan acts on 10.001% of 100000 keys, cap 10%"},
		{"small account, one key", BlastRadius{}, 1, 5, true, "plan acts on 20% of 5 keys, cap 10%"},
		{"small account, percent cap off", BlastRadius{MaxPercent: 100}, 1, 5, false, ""},
		{"more actions than keys", BlastRadius{MaxPercent: 100}, 2, 1, true, "plan has 2 actions but only 1 keys"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			p := &Policy{BlastRadius: tc.br}
			got, reason := p.CapExceeded(tc.actions, tc.total)
			if diff := cmp.Diff([]any{tc.want, tc.wantReason}, []any{got, reason}); diff != "" {
				t.Errorf("CapExceeded(%d, %d) (-want +got):\n%s", tc.actions, tc.total, diff)
			}
		})
	}
}
