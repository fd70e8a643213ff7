package architecture

import (
	"strings"
	"testing"
)

// TestFunctionsShipNoTestSupport: the local stand-ins of Huawei's and GMI
// Cloud's APIs and the emulator launcher (internal/testenv) serve tests
// and `keysweep demo`; no Lambda binary may carry them.
func TestFunctionsShipNoTestSupport(t *testing.T) {
	for _, fn := range []string{"functions/sweeper", "functions/api", "functions/dispatcher", "functions/worker"} {
		for _, d := range deps(t, fn) {
			if strings.HasPrefix(d, module+"internal/testenv") || strings.HasPrefix(d, module+"internal/lambdatest") || d == "testing" {
				t.Errorf("%s reaches %s: test support must stay out of the Lambda binaries", fn, d)
			}
		}
	}
}
