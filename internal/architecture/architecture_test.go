package architecture

import (
	"encoding/json"
	"os/exec"
	"strings"
	"testing"
)

const module = "github.com/keysweep/keysweep/"

// deps lists the packages pkg reaches (go list -deps), test files left out:
// what ships.
func deps(t *testing.T, pkg string) []string {
	t.Helper()
	out, err := exec.Command("go", "list", "-deps", "-json=ImportPath", module+pkg).Output()
	if err != nil {
		t.Fatalf("go list -deps %s: %v", pkg, err)
	}
	var list []string
	dec := json.NewDecoder(strings.NewReader(string(out)))
	for dec.More() {
		var p struct{ ImportPath string }
		if err := dec.Decode(&p); err != nil {
			t.Fatal(err)
		}
		list = append(list, p.ImportPath)
	}
	return list
}

// cloudSDK reports a package of a cloud's SDK: an AWS service (or the
// SDK's transport), Huawei's SDK.
func cloudSDK(p string) bool {
	return strings.HasPrefix(p, "github.com/aws/aws-sdk-go-v2/service/") ||
		strings.HasPrefix(p, "github.com/aws/aws-lambda-go") ||
		strings.HasPrefix(p, "github.com/huaweicloud/")
}

func TestCoreReachesNoCloud(t *testing.T) {
	for _, pkg := range []string{"internal/engine", "internal/domain", "policy", "internal/journal"} {
		for _, d := range deps(t, pkg) {
			if cloudSDK(d) || strings.HasPrefix(d, "github.com/aws/") {
				t.Errorf("%s reaches %s: the core must know no cloud", pkg, d)
			}
		}
	}
}

func TestAdaptersDoNotImportTheEngine(t *testing.T) {
	adapters := []string{
		"internal/keystore/awsiam", "internal/keystore/huawei", "internal/keystore/gmi",
		"internal/journal/dynamo", "internal/journal/mem", "internal/notify", "internal/report", "internal/archive",
	}
	for _, pkg := range adapters {
		for _, d := range deps(t, pkg) {
			if d == module+"internal/engine" || strings.HasPrefix(d, module+"internal/lambda") ||
				strings.HasPrefix(d, module+"internal/wiring") || strings.HasPrefix(d, module+"internal/cli") {
				t.Errorf("adapter %s imports %s: adapters import the domain, never the engine or an entry point", pkg, d)
			}
		}
	}
}

// TestEntryPointsOnly: only the entry points (the Lambda functions, the
// CLI, wiring) reach the Lambda runtime; the fan-out and the API handler
// hold no Lambda types.
func TestLambdaTypesStayInTheLambdaPackage(t *testing.T) {
	for _, pkg := range []string{"internal/fanout", "internal/httpapi", "internal/engine"} {
		for _, d := range deps(t, pkg) {
			if strings.HasPrefix(d, "github.com/aws/aws-lambda-go") {
				t.Errorf("%s reaches %s: Lambda's types belong to internal/lambda", pkg, d)
			}
		}
	}
}
