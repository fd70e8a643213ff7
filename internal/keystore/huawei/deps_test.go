package huawei_test

import (
	"os/exec"
	"strings"
	"testing"
)

// TestShippedDependencies holds two rules on what the adapter links in: it
// imports the domain, never the engine; and the vendor SDK stays a
// test-only dependency (see the package doc for why).
func TestShippedDependencies(t *testing.T) {
	if testing.Short() {
		t.Skip("runs go list")
	}
	out, err := exec.Command("go", "list", "-deps", "github.com/keysweep/keysweep/internal/keystore/huawei").CombinedOutput()
	if err != nil {
		t.Fatalf("go list: %v\n%s", err, out)
	}
	for _, dep := range strings.Fields(string(out)) {
		switch {
		case dep == "github.com/keysweep/keysweep/internal/engine":
			t.Errorf("the adapter depends on the engine")
		case strings.HasPrefix(dep, "github.com/huaweicloud/"), strings.HasPrefix(dep, "go.mongodb.org/"):
			t.Errorf("the adapter links %s, a test-only dependency", dep)
		}
	}
}
