package lambdatest_test

import (
	"errors"
	"os"
	"strings"
	"testing"

	"github.com/keysweep/keysweep/internal/lambdatest"
)

// TestBuildRecipe: the emulator tests build each bootstrap with the
// Makefile target `sam build` runs (Metadata BuildMethod makefile), and
// that recipe builds for the template's architecture: the tests change
// only GOARCH, to the host's.
func TestBuildRecipe(t *testing.T) {
	root, tmpl := repoRoot(t), repoTemplate(t)
	for _, id := range tmpl.Functions() {
		t.Run(id, func(t *testing.T) {
			if m := tmpl.Resources[id].Metadata["BuildMethod"]; m != "makefile" {
				t.Fatalf("BuildMethod %v; the tests build through the Makefile as sam build does with makefile", m)
			}
			props, err := tmpl.FunctionProperties(id)
			if err != nil {
				t.Fatal(err)
			}
			archs, _ := props["Architectures"].([]any)
			if len(archs) != 1 {
				t.Fatalf("Architectures %v; want one", props["Architectures"])
			}
			goarch, err := lambdatest.GoArch(archs[0].(string))
			if err != nil {
				t.Fatal(err)
			}
			recipe, err := lambdatest.BuildRecipe(t.Context(), root, id)
			if errors.Is(err, lambdatest.ErrNoMake) && os.Getenv("CI") != "true" {
				t.Skip(err)
			}
			if err != nil {
				t.Fatal(err)
			}
			for _, want := range []string{"GOOS=linux", "GOARCH=" + goarch + " ", "CGO_ENABLED=0", "go build", "-tags lambda.norpc",
				"-trimpath", `-ldflags "-s -w"`, "-o ARTIFACTS_DIR/bootstrap"} {
				if !strings.Contains(recipe, want) {
					t.Errorf("make build-%s runs\n  %s\nwithout %q", id, recipe, want)
				}
			}
		})
	}
}
