package notify

import (
	"os/exec"
	"strings"
	"testing"
)

// TestNoEngineDependency holds the package to the ports-and-adapters rule:
// it may import the domain and policy packages, never the engine.
func TestNoEngineDependency(t *testing.T) {
	out, err := exec.Command("go", "list", "-deps", ".").Output()
	if err != nil {
		t.Fatalf("go list -deps: %v", err)
	}
	for _, dep := range strings.Fields(string(out)) {
		if strings.HasSuffix(dep, "/internal/engine") || strings.Contains(dep, "/internal/engine/") {
			t.Errorf("notify depends on %s", dep)
		}
	}
}
