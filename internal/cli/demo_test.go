package cli

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestDemo runs what `make demo` runs, on its own emulator: the story of
// the sample account, then its posture report, whose path ends the output.
func TestDemo(t *testing.T) {
	if testing.Short() {
		t.Skip("starts its own emulator; run without -short")
	}
	for _, k := range []string{"AWS_ENDPOINT_URL", "AWS_REGION", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_EC2_METADATA_DISABLED", "AWS_PROFILE", "AWS_SESSION_TOKEN"} {
		// Restored after the demo points them at its own emulator.
		if v, ok := os.LookupEnv(k); ok {
			t.Cleanup(func() { os.Setenv(k, v) })
		} else {
			t.Cleanup(func() { os.Unsetenv(k) })
		}
	}
	report := filepath.Join(t.TempDir(), "demo.html")
	code, stdout, stderr := cli(t, "demo", "--report", report)
	if code != 0 {
		t.Fatalf("demo: %d\n%s\n%s", code, stdout, stderr)
	}
	wantContains(t, "demo output", stdout, "built-in default", "deactivated 4", "already handled", "deleted 5", "History of bob's key", "Posture report")
	lines := strings.Split(strings.TrimSpace(stdout), "\n")
	if last := lines[len(lines)-1]; last != "The posture report: "+report {
		t.Errorf("the demo's last line is %q, want the report's path", last)
	}
	page, err := os.ReadFile(report)
	if err != nil {
		t.Fatal(err)
	}
	wantContains(t, "demo report", string(page), "heidi", "alice", "demo-1")
}
