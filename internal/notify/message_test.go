package notify

import (
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/keysweep/keysweep/internal/domain"
	"github.com/keysweep/keysweep/policy"
)

var update = flag.Bool("update", false, "rewrite the golden files and docs/NOTIFY-SAMPLE.md")

func tp(t time.Time) *time.Time { return &t }

var (
	created  = time.Date(2026, 9, 1, 9, 15, 0, 0, time.UTC)
	lastUsed = time.Date(2026, 10, 20, 16, 2, 0, 0, time.UTC)
	acted    = time.Date(2026, 12, 1, 6, 0, 12, 0, time.UTC)
)

// awsFacts is a key of user alice as the engine would describe it.
func awsFacts() Facts {
	return Facts{
		Provider: domain.ProviderAWS, Account: "123456789012", Target: "aws", User: "alice",
		KeyID: "AKIAIOSFODNN7EXAMPLE", Status: domain.StatusActive,
		CreatedAt: created, LastUsedAt: &lastUsed,
		Reason:   "created 91 days ago, limit 90; deactivate, delete after 7 days",
		Rule:     "default",
		StaleAt:  created.Add(91 * 24 * time.Hour),
		StaleWhy: "created 2026-09-01, limit 90 days: stale on 2026-12-01",
		At:       acted, DeleteOn: tp(acted.Add(7 * 24 * time.Hour)), DeleteAfterDays: 7,
		ExemptionTag: "keysweep:exempt", RunID: "r-20261201T060000Z-8f2c", PolicyVersion: "2026-11-22.1",
	}
}

// goldenCases are the notices whose text and HTML are kept in testdata.
func goldenCases() map[string]struct {
	kind  Kind
	facts Facts
} {
	warning := awsFacts()
	warning.At = warning.StaleAt.Add(-3 * 24 * time.Hour)
	warning.Reason, warning.DeleteOn = "", nil

	deleted := awsFacts()
	deleted.Status, deleted.DeleteOn = domain.StatusInactive, nil
	deleted.Reason = "created 98 days ago, limit 90; inactive since 2026-12-01 (7 days), delete after 7"
	deleted.At = acted.Add(7 * 24 * time.Hour)

	revoked := awsFacts()
	revoked.Reason, revoked.DeleteOn = "", nil
	revoked.Action = domain.ActionDelete
	revoked.RequestedBy = "arn:aws:sts::123456789012:assumed-role/SecOps/bob"
	revoked.RequestReason = "found in a public build log"

	huawei := awsFacts()
	huawei.Provider, huawei.Account, huawei.Target = domain.ProviderHuawei, "0a1b2c3d4e5f", "otc-prod"
	huawei.KeyID, huawei.ExemptionTag = "HST3UQHSU7MWTDYZXK5Q", ""

	due := Facts{
		Provider: domain.ProviderGMI, Account: "org-7f3a", Target: "gmi", User: "carol@example.com",
		KeyID: "key_01HZX3", KeyName: "ci-deploy", CreatedAt: created,
		Reason:   "created 91 days ago, limit 90; mark due, delete after 14 days",
		StaleAt:  created.Add(91 * 24 * time.Hour),
		StaleWhy: "created 2026-09-01, limit 90 days: stale on 2026-12-01",
		At:       acted, DeleteOn: tp(acted.Add(14 * 24 * time.Hour)), DeleteAfterDays: 14,
		RunID: "r-20261201T060000Z-77aa", PolicyVersion: "gmi-3",
	}

	summary := Facts{
		Run: &domain.Run{
			RunID: "r-20261201T060000Z-8f2c", Account: "123456789012", Provider: domain.ProviderAWS,
			Trigger:   domain.Trigger{Kind: domain.TriggerSchedule, Source: "arn:aws:events:us-east-1:123456789012:rule/keysweep"},
			StartedAt: acted, DurationMs: 12345, PolicyVersion: "2026-11-22.1", PolicySource: "stored",
			Mode: policy.ModeEnforce, Inventory: "credential-report", Outcome: domain.RunCompleted,
			Counts: map[string]int{
				domain.CountEvaluated: 120, domain.CountKeep: 116, domain.CountExempt: 1, domain.CountDeactivate: 2,
				domain.CountDelete: 1, domain.CountDeactivated: 2, domain.CountDeleted: 1, domain.CountErrors: 0,
			},
		},
		Decisions: []domain.KeyDecision{
			{UserName: "alice", AccessKeyID: "AKIAIOSFODNN7EXAMPLE", Decision: policy.Decision{Verdict: policy.Deactivate, Reason: "created 91 days ago, limit 90; deactivate, delete after 7 days"}, Outcome: domain.KeyDone},
			{UserName: "build-bot", AccessKeyID: "AKIAI44QH8DHBEXAMPLE", Decision: policy.Decision{Verdict: policy.Deactivate, Reason: "last used 46 days ago, limit 45; deactivate, delete after 7 days"}, Outcome: domain.KeyDone},
			{UserName: "old-ci", AccessKeyID: "AKIAJ7EXAMPLEKEY0003", Decision: policy.Decision{Verdict: policy.Delete, Reason: "created 400 days ago, limit 90; inactive since 2026-11-24 (7 days), delete after 7"}, Outcome: domain.KeyDone},
			{UserName: "break-glass-admin", AccessKeyID: "AKIAJ7EXAMPLEKEY0004", Decision: policy.Decision{Verdict: policy.Exempt, Reason: "exempt: user break-glass-admin in exemptions.users (created 300 days ago, limit 90)"}},
		},
		Report: "s3://keysweep-reports-123456789012/runs/r-20261201T060000Z-8f2c/report.html",
	}
	return map[string]struct {
		kind  Kind
		facts Facts
	}{
		"warning":            {KindWarning, warning},
		"deactivated":        {KindDeactivated, awsFacts()},
		"deactivated-huawei": {KindDeactivated, huawei},
		"deleted":            {KindDeleted, deleted},
		"revoked":            {KindRevoked, revoked},
		"due":                {KindDue, due},
		"run-summary":        {KindRunSummary, summary},
	}
}

func TestComposeGolden(t *testing.T) {
	for name, tc := range goldenCases() {
		t.Run(name, func(t *testing.T) {
			m := Compose(tc.kind, tc.facts)
			golden(t, filepath.Join("testdata", name+".txt"), "Subject: "+m.Subject+"\n\n"+m.Text)
			golden(t, filepath.Join("testdata", name+".html"), m.HTML)
			checkHTML(t, m.HTML)
			if m.Kind != tc.kind || strings.ContainsAny(m.Subject, "\r\n") {
				t.Errorf("message kind %q, subject %q", m.Kind, m.Subject)
			}
		})
	}
}

// TestNotifySample writes the sample e-mail the README shows: the one an
// owner gets when keysweep deactivates a key.
func TestNotifySample(t *testing.T) {
	w := goldenCases()["warning"]
	warning := Compose(w.kind, w.facts)
	deact := Compose(KindDeactivated, awsFacts())
	var b strings.Builder
	b.WriteString("# What an owner receives\n\n")
	b.WriteString("<!-- Generated by `go test ./internal/notify -run TestNotifySample -update`; do not edit. -->\n\n")
	b.WriteString("keysweep e-mails a key's owner (the address in the user tag named by `notify.ownerEmailTag`,\n")
	b.WriteString("else `notify.fallbackEmail`) a plain-text and an HTML body. The plain-text bodies of a warning\n")
	b.WriteString("three days ahead and of the deactivation that follows:\n\n")
	for _, m := range []Message{warning, deact} {
		b.WriteString("```text\nFrom: keysweep@example.com\nTo: alice@example.com\nSubject: " + m.Subject + "\n\n" + m.Text + "```\n\n")
	}
	b.WriteString("The HTML bodies say the same with inline styles only; nothing is loaded from elsewhere.\n")
	golden(t, filepath.Join("..", "..", "docs", "NOTIFY-SAMPLE.md"), b.String())
}

func TestComposeCleansOutsideInput(t *testing.T) {
	f := Facts{
		Provider: domain.ProviderGMI, Account: "org-1", User: "mallory\r\nBcc: x@evil.example",
		KeyID: "k1", KeyName: "<script>alert(1)</script>\u2028", Reason: "a\x00b", At: acted, DeleteOn: tp(acted),
	}
	for _, kind := range Kinds {
		m := Compose(kind, f)
		if strings.ContainsAny(m.Subject, "\r\n\x00\u2028") {
			t.Errorf("%s: subject %q spans lines or holds control characters", kind, m.Subject)
		}
		if strings.ContainsAny(m.Text, "\r\x00\u2028") {
			t.Errorf("%s: text holds control characters", kind)
		}
		if strings.Contains(m.HTML, "<script>") {
			t.Errorf("%s: HTML does not escape the key name", kind)
		}
		checkHTML(t, m.HTML)
	}
}

func TestKindEvent(t *testing.T) {
	got := map[Kind]policy.Event{}
	for _, k := range Kinds {
		got[k] = k.Event()
	}
	want := map[Kind]policy.Event{
		KindWarning: policy.EventWarning, KindDue: policy.EventWarning, KindDeactivated: policy.EventDeactivated,
		KindDeleted: policy.EventDeleted, KindRevoked: policy.EventRevoked, KindRunSummary: "",
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("Event (-want +got):\n%s", diff)
	}
}

func TestWrap(t *testing.T) {
	tests := []struct {
		in, first, rest, want string
		width                 int
	}{
		{"a b c", "", "", "a b c", 10},
		{"aaa bbb ccc", "", "", "aaa bbb\nccc", 7},
		{"aaa bbb", "> ", "  ", "> aaa\n  bbb", 6},
		{"averyveryverylongword x", "", "", "averyveryverylongword\nx", 5},
		{"", "  K  ", "", "  K", 72},
	}
	for _, tc := range tests {
		if got := wrap(tc.in, tc.width, tc.first, tc.rest); got != tc.want {
			t.Errorf("wrap(%q, %d) = %q, want %q", tc.in, tc.width, got, tc.want)
		}
	}
}

// checkHTML holds an HTML body to what mail clients show safely: inline
// styles only, nothing loaded from elsewhere, no script.
func checkHTML(t *testing.T, html string) {
	t.Helper()
	lower := strings.ToLower(html)
	for _, bad := range []string{"<script", "<link", "<img", "<style", "src=", "href=", "url(", "@import"} {
		if strings.Contains(lower, bad) {
			t.Errorf("HTML body contains %q", bad)
		}
	}
}

// golden compares got with the file at path, or writes it with -update.
func golden(t *testing.T, path, got string) {
	t.Helper()
	if *update {
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run with -update to create it)", err)
	}
	if diff := cmp.Diff(string(want), got); diff != "" {
		t.Errorf("%s differs (-want +got; -update rewrites it):\n%s", path, diff)
	}
}
