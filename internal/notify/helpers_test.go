package notify

import (
	"encoding/json"
	"io"
	"net/http"
	"os"
	"testing"

	"github.com/keysweep/keysweep/internal/testenv"
)

// emulator starts moto for a test. `go test -short` skips such tests,
// except in CI, where a missing emulator fails them.
func emulator(t *testing.T) *testenv.Emu {
	t.Helper()
	if testing.Short() && os.Getenv("CI") != "true" {
		t.Skip("needs the local AWS emulator; -short skips it")
	}
	emu := testenv.Emulator(t)
	emu.Reset(t)
	return emu
}

// sentEmail is a message moto's SES keeps, as /moto-api/data.json shows
// it. moto keeps one body: the HTML one when a message has both.
type sentEmail struct {
	ID           string              `json:"id"`
	Source       string              `json:"source"`
	Subject      string              `json:"subject"`
	Body         string              `json:"body"`
	Destinations map[string][]string `json:"destinations"`
}

// motoSentEmails reads the e-mails moto's SES backend has sent, through
// moto's model data endpoint (moto records sent messages instead of
// delivering them).
func motoSentEmails(t *testing.T, emu *testenv.Emu) []sentEmail {
	t.Helper()
	resp, err := http.Get(emu.URL + "/moto-api/data.json")
	if err != nil {
		t.Fatalf("moto data: %v", err)
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("moto data: %s: %v", resp.Status, err)
	}
	var data struct {
		SES struct {
			Message []sentEmail `json:"Message"`
		} `json:"ses"`
	}
	if err := json.Unmarshal(raw, &data); err != nil {
		t.Fatalf("moto data: %v", err)
	}
	return data.SES.Message
}
