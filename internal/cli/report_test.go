package cli

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/keysweep/keysweep/internal/wiring"
)

// TestReport: report writes one self-contained page of every key, the
// recent runs and revocations, and prints its path.
func TestReport(t *testing.T) {
	_, ids := account(t)
	runID := sweepEnforced(t)
	if code, _, stderr := cli(t, "revoke", ids["alice"], "--reason", "left the company"); code != ExitOK {
		t.Fatalf("revoke: %d %s", code, stderr)
	}
	out := filepath.Join(t.TempDir(), "posture.html")
	code, stdout, stderr := cli(t, "report", "-o", out, "--all", "--days", "28")
	if code != ExitOK {
		t.Fatalf("report: %d\n%s%s", code, stdout, stderr)
	}
	if strings.TrimSpace(stdout) != out {
		t.Errorf("stdout %q, want the report's path %q", stdout, out)
	}
	page, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	html := string(page)
	// Every key by id, the sweep's run, the revocation and who asked.
	wantContains(t, "report", html, "<!DOCTYPE html>", ids["alice"], ids["bob"], ids["carol"], runID, "cli-1", "revocation", "cli:"+osUser())
	for _, ref := range []string{`src="http`, `href="http`, `src="//`, `href="//`} {
		if strings.Contains(html, ref) {
			t.Errorf("the report loads something from elsewhere: %s", ref)
		}
	}
	wantContains(t, "report's summary", stderr, "4 weeks ahead", "1 key store")
	entries, _ := os.ReadDir(filepath.Dir(out))
	if len(entries) != 1 {
		t.Errorf("files next to the report: %v (a temporary file was left)", entries)
	}

	// --at a future date, one named target; and --output names the file too.
	out2 := filepath.Join(t.TempDir(), "later.html")
	at := time.Now().AddDate(0, 0, 30).Format(time.DateOnly)
	if code, stdout, stderr := cli(t, "report", "--target", "aws", "--at", at, "--output", out2); code != ExitOK || strings.TrimSpace(stdout) != out2 {
		t.Errorf("report --at: %d\n%s%s", code, stdout, stderr)
	}
	for _, tc := range []struct {
		args []string
		code int
	}{
		{[]string{"report", "--target", "nope", "-o", filepath.Join(t.TempDir(), "x.html")}, ExitUsage},
		{[]string{"report", "--at", "someday"}, ExitUsage},
		{[]string{"report", "-o", filepath.Join(t.TempDir(), "missing-dir", "x.html")}, ExitFailure},
	} {
		if code, _, stderr := cli(t, tc.args...); code != tc.code {
			t.Errorf("%v: exit %d, want %d\n%s", tc.args, code, tc.code, stderr)
		}
	}

	// Before keysweep is deployed (no tables), the report judges with the
	// built-in default and shows no history.
	t.Setenv(wiring.EnvPolicyTable, "")
	t.Setenv(wiring.EnvAuditTable, "")
	out3 := filepath.Join(t.TempDir(), "before.html")
	if code, _, stderr := cli(t, "report", "-o", out3); code != ExitOK || !strings.Contains(stderr, "built-in default") {
		t.Errorf("report without tables: %d\n%s", code, stderr)
	}
}
