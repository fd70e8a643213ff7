package cli

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/keysweep/keysweep/internal/keystore/gmi"
	"github.com/keysweep/keysweep/internal/keystore/huawei"
	"github.com/keysweep/keysweep/internal/wiring"
)

// TestDemo runs what `make demo` runs, on its own emulator and local
// stand-ins: the story of the sample AWS account, OTC domain and GMI
// organization swept side by side, their audit trail, then the posture
// report of all three, whose path ends the output.
func TestDemo(t *testing.T) {
	if testing.Short() {
		t.Skip("starts its own emulator; run without -short")
	}
	for _, k := range append([]string{"AWS_ENDPOINT_URL", "AWS_REGION", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_EC2_METADATA_DISABLED", "AWS_PROFILE", "AWS_SESSION_TOKEN"}, demoEnv...) {
		// Restored after the demo points them at its own emulator and
		// stand-ins.
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
	wantContains(t, "demo output", stdout, "built-in default", "deactivated 4", "already handled", "deleted 5", "History of bob's key", "Posture report",
		// The other clouds, said plainly to be local stand-ins.
		"Huawei Cloud / Open Telekom Cloud IAM: a local stand-in on http://127.0.0.1:", "GMI Cloud IAM API: a local stand-in on http://127.0.0.1:",
		"No Huawei Cloud, OTC or GMI Cloud account is touched", wiring.EnvTargets+"=",
		// Their runs: the OTC domain deactivates, then deletes; the GMI
		// organization deletes an expired key, marks two due, then deletes them.
		"[otc-demo] run", "policy otc-demo-1 (stored); evaluated 6, keep 2, exempt 1, deactivate 3, deactivated 3",
		"evaluated 6, keep 2, exempt 1, delete 3, deleted 3",
		"[gmi-demo] run", "policy gmi-demo-1 (stored); evaluated 6, keep 4, exempt 1, delete 1, deleted 1, markedDue 2",
		"evaluated 5, keep 2, exempt 1, delete 2, deleted 2", "(training-job)", "marked due now, delete on",
		"Audit trail of sweep 2 on otc-demo", "Audit trail of sweep 2 on gmi-demo",
		"History of ci-runner's key in the OTC domain", "History of the GMI key training-job")
	lines := strings.Split(strings.TrimSpace(stdout), "\n")
	if last := lines[len(lines)-1]; last != "The posture report: "+report {
		t.Errorf("the demo's last line is %q, want the report's path", last)
	}
	page, err := os.ReadFile(report)
	if err != nil {
		t.Fatal(err)
	}
	wantContains(t, "demo report", string(page), "heidi", "alice", "demo-1", "otc-demo", "ci-runner", "gmi-demo")
	// The demo's credentials are in the environment the CLI reads, never
	// on the screen (still set here: the cleanup restores them).
	for _, k := range []string{huawei.EnvSecretAccessKey, gmi.EnvAccessToken, gmi.EnvRefreshToken} {
		if v := os.Getenv(k); v == "" || strings.Contains(stdout+stderr, v) {
			t.Errorf("%s is %q, and the demo's output shows it: %v", k, v, v != "" && strings.Contains(stdout+stderr, v))
		}
	}
}
