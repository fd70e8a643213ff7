package cfntemplate

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// TestParseAndRead: one YAML reading, two views of its short tags.
func TestParseAndRead(t *testing.T) {
	const doc = "A: !Ref X\nB: !If [C, !GetAtt T.Arn, x]\nC: ~\nD: &d !Sub a${B}\nE: *d\n"
	long, err := Parse([]byte(doc))
	if err != nil {
		t.Fatal(err)
	}
	wantLong := map[string]any{
		"A": map[string]any{"Ref": "X"},
		"B": map[string]any{"Fn::If": []any{"C", map[string]any{"Fn::GetAtt": "T.Arn"}, "x"}},
		"C": nil,
		"D": map[string]any{"Fn::Sub": "a${B}"},
		"E": map[string]any{"Fn::Sub": "a${B}"},
	}
	if diff := cmp.Diff(wantLong, long); diff != "" {
		t.Errorf("Parse (-want +got):\n%s", diff)
	}
	path := filepath.Join(t.TempDir(), "t.yaml")
	if err := os.WriteFile(path, []byte(doc), 0o600); err != nil {
		t.Fatal(err)
	}
	wantPlain := map[string]any{
		"A": "X",
		"B": map[string]any{"Fn::If": []any{"C", "T.Arn", "x"}},
		"C": "~",
		"D": "a${B}",
		"E": "a${B}",
	}
	if diff := cmp.Diff(wantPlain, Read(t, path)); diff != "" {
		t.Errorf("Read (-want +got):\n%s", diff)
	}
	for _, bad := range []string{"A: !Reference X\n", "- a\n", ""} {
		if _, err := Parse([]byte(bad)); err == nil {
			t.Errorf("Parse(%q): no error", bad)
		}
	}
}
