package testenv

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/config"
)

// Emu is the running emulator shared by every test of one test binary.
type Emu struct {
	// URL is the emulator's base URL, also in AWS_ENDPOINT_URL.
	URL string

	stop   func()
	client *http.Client
}

var (
	emuOnce sync.Once
	emu     *Emu
	emuErr  error
)

// Emulator starts the emulator once per test binary and returns it. It also
// points the AWS SDK of the whole process at it: AWS_ENDPOINT_URL, region
// us-east-1, static dummy credentials, no IMDS, and empty shared config and
// credentials files so a developer's real profile is never read. Tests that
// share it must not run in parallel with tests that Reset it.
//
// A missing interpreter or moto fails the test: run `make test`, which
// creates .venv first.
func Emulator(t testing.TB) *Emu {
	t.Helper()
	emuOnce.Do(func() {
		python, err := FindPython()
		if err != nil {
			emuErr = err
			return
		}
		url, stop, err := StartLauncher(context.Background(), python)
		if err != nil {
			emuErr = err
			return
		}
		pointSDKAt(url)
		emu = &Emu{URL: url, stop: stop, client: &http.Client{Timeout: 30 * time.Second}}
	})
	if emuErr != nil {
		t.Fatalf("local AWS emulator unavailable (run `make test`, which installs it into .venv): %v", emuErr)
	}
	return emu
}

// Shutdown stops the emulator if Emulator started it. A package with a
// TestMain may call it after m.Run; without one, the emulator exits when the
// test binary does (it watches its stdin pipe).
func Shutdown() {
	if emu != nil {
		emu.stop()
	}
}

// pointSDKAt sets the process environment that config.LoadDefaultConfig reads.
func pointSDKAt(url string) {
	for _, kv := range os.Environ() {
		name, _, _ := strings.Cut(kv, "=")
		// A service-specific endpoint would win over AWS_ENDPOINT_URL.
		if strings.HasPrefix(name, "AWS_ENDPOINT_URL_") {
			_ = os.Unsetenv(name)
		}
	}
	for _, name := range []string{"AWS_SESSION_TOKEN", "AWS_PROFILE", "AWS_DEFAULT_PROFILE",
		"AWS_ROLE_ARN", "AWS_WEB_IDENTITY_TOKEN_FILE", "AWS_CA_BUNDLE"} {
		_ = os.Unsetenv(name)
	}
	for name, value := range map[string]string{
		"AWS_ENDPOINT_URL":            url,
		"AWS_REGION":                  "us-east-1",
		"AWS_DEFAULT_REGION":          "us-east-1",
		"AWS_ACCESS_KEY_ID":           "testing",
		"AWS_SECRET_ACCESS_KEY":       "testing",
		"AWS_EC2_METADATA_DISABLED":   "true",
		"AWS_CONFIG_FILE":             os.DevNull,
		"AWS_SHARED_CREDENTIALS_FILE": os.DevNull,
	} {
		_ = os.Setenv(name, value)
	}
}

// Config loads the SDK's default config, which the environment points at
// the emulator.
func (e *Emu) Config(t testing.TB) aws.Config {
	t.Helper()
	cfg, err := config.LoadDefaultConfig(context.Background())
	if err != nil {
		t.Fatalf("load AWS config: %v", err)
	}
	return cfg
}

// Reset empties every moto backend and clears faults, the report mode and
// the call counts.
func (e *Emu) Reset(t testing.TB) {
	t.Helper()
	e.control(t, http.MethodPost, "reset", struct{}{}, nil)
}

// SetKey backdates an access key of the default account: its creation time
// and its last use (nil: never used). A zero created leaves it as it is.
func (e *Emu) SetKey(t testing.TB, accessKeyID string, created time.Time, lastUsed *time.Time) {
	t.Helper()
	f := KeyFacts{Created: created, LastUsed: lastUsed, SetLastUsed: true}
	e.SetKeyFacts(t, accessKeyID, f)
}

// KeyFacts is what SetKeyFacts changes on a key.
type KeyFacts struct {
	Account         string    // empty: 123456789012
	Created         time.Time // zero: unchanged
	LastUsed        *time.Time
	SetLastUsed     bool   // false: last use unchanged; true: set to LastUsed (nil: never used)
	LastUsedService string // empty: "s3"
}

// SetKeyFacts is SetKey for another account or a chosen last-used service.
func (e *Emu) SetKeyFacts(t testing.TB, accessKeyID string, f KeyFacts) {
	t.Helper()
	body := map[string]any{}
	if f.Account != "" {
		body["account"] = f.Account
	}
	if !f.Created.IsZero() {
		body["createDate"] = f.Created.UTC().Format(time.RFC3339)
	}
	if f.SetLastUsed {
		if f.LastUsed == nil {
			body["lastUsed"] = nil
		} else {
			body["lastUsed"] = f.LastUsed.UTC().Format(time.RFC3339)
		}
	}
	if f.LastUsedService != "" {
		body["lastUsedService"] = f.LastUsedService
	}
	e.control(t, http.MethodPost, "iam/keys/"+accessKeyID, body, nil)
}

// ReportMode chooses how the credential report behaves: "live" (moto's own:
// every GetCredentialReport shows the current state) or "snapshot" (like IAM:
// GenerateCredentialReport takes a snapshot that is reused for four hours).
// refresh makes the next GenerateCredentialReport retake it.
func (e *Emu) ReportMode(t testing.TB, mode string, refresh bool) {
	t.Helper()
	e.control(t, http.MethodPost, "iam/report", map[string]any{"mode": mode, "refresh": refresh}, nil)
}

// Fault makes an operation ("IAM.GenerateCredentialReport", "DynamoDB.PutItem")
// answer with the given error code and HTTP status, count times (0: always).
// It replaces any faults set before.
func (e *Emu) Fault(t testing.TB, op, code string, status, count int) {
	t.Helper()
	spec := map[string]any{"code": code, "message": "injected by test", "status": status}
	if count > 0 {
		spec["count"] = count
	}
	e.control(t, http.MethodPost, "faults", map[string]any{op: spec}, nil)
}

// ClearFaults removes every injected fault.
func (e *Emu) ClearFaults(t testing.TB) {
	t.Helper()
	e.control(t, http.MethodPost, "faults", struct{}{}, nil)
}

// Calls returns how often each operation was served since the last Reset,
// keyed like "IAM.ListUsers", faulted calls included.
func (e *Emu) Calls(t testing.TB) map[string]int {
	t.Helper()
	got := map[string]int{}
	e.control(t, http.MethodGet, "calls", nil, &got)
	return got
}

func (e *Emu) control(t testing.TB, method, route string, in, out any) {
	t.Helper()
	var body io.Reader
	if in != nil {
		b, err := json.Marshal(in)
		if err != nil {
			t.Fatalf("emulator %s: encode: %v", route, err)
		}
		body = bytes.NewReader(b)
	}
	// Not t.Context(): it is already cancelled when t.Cleanup functions run,
	// and clearing faults in a cleanup is what tests want to do.
	req, err := http.NewRequestWithContext(context.Background(), method, e.URL+"/_keysweep/"+route, body)
	if err != nil {
		t.Fatalf("emulator %s: %v", route, err)
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := e.client.Do(req)
	if err != nil {
		t.Fatalf("emulator %s: %v", route, err)
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("emulator %s: read: %v", route, err)
	}
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("emulator %s %s: %s: %s", method, route, resp.Status, raw)
	}
	if out != nil {
		if err := json.Unmarshal(raw, out); err != nil {
			t.Fatalf("emulator %s: decode %s: %v", route, raw, err)
		}
	}
}
