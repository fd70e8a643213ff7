package report_test

import (
	"bytes"
	"crypto/sha256"
	"encoding/base64"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/keysweep/keysweep/internal/domain"
	"github.com/keysweep/keysweep/internal/report"
	"github.com/keysweep/keysweep/policy"
)

func render(t testing.TB, in report.Input) string {
	t.Helper()
	var buf bytes.Buffer
	if err := report.Render(&buf, in); err != nil {
		t.Fatalf("Render: %v", err)
	}
	return buf.String()
}

// attrs collects the values of a data- attribute, in page order.
func attrs(page, name string) []string {
	var out []string
	for _, m := range regexp.MustCompile(name+`="([^"]*)"`).FindAllStringSubmatch(page, -1) {
		out = append(out, m[1])
	}
	return out
}

// rowVerdicts gives the verdict of each row of the key table.
func rowVerdicts(page string) []string {
	var out []string
	for _, m := range regexp.MustCompile(`<tr data-s="\d+"[^>]*>.*?<i class="v-(\w+)">`).FindAllStringSubmatch(page, -1) {
		out = append(out, m[1])
	}
	return out
}

func TestRenderDemoFigures(t *testing.T) {
	page := render(t, demoInput())

	kpis := map[string]string{}
	for _, m := range regexp.MustCompile(`data-kpi="(\w+)">(\d+)<`).FindAllStringSubmatch(page, -1) {
		kpis[m[1]] = m[2]
	}
	// 15 keys; 2 inactive (dave, erin); stale: bob, carol, break-glass,
	// dave, erin, ops@, OTC ci-runner; due: bob, carol, erin, ops@,
	// ci-runner; acted on in 30 days: erin, dave, mallory (trent's
	// deletion failed).
	want := map[string]string{"keys": "15", "active": "13", "stale": "7", "due": "5", "exempt": "1", "acted": "3", "forecast": "5"}
	if diff := cmp.Diff(want, kpis); diff != "" {
		t.Errorf("key figures (-want +got):\n%s", diff)
	}
	// Week 1: alice's older key (unused 47 days), dave's deletion coming
	// due, svc-build (override 30 days); week 2: OTC backup-job's key
	// turns 91; week 3: frank's key turns 91.
	if diff := cmp.Diff([]string{"3", "1", "1", "0", "0", "0"}, attrs(page, "data-count")); diff != "" {
		t.Errorf("forecast bars (-want +got):\n%s", diff)
	}
	if got := len(rowVerdicts(page)); got != 15 {
		t.Errorf("key table rows = %d, want 15", got)
	}
	for _, s := range []string{
		"age limit 90", "inactivity limit 45", "service-users 30", "service-users 180", // limit lines
		"v-20260528T141500Z-9c1e2f3a", "arn:aws:iam::111122223333:user/secops", "revocation", // who asked
		"no outcome yet", "2026-05-demo", "path /service/", "exemptions.users",
		"owners have no tags", "within the cap (3 of 10 keys)", "inventory: credential report",
		"Left out: 2 keys of stores that do not tell last use.", "unknown",
		"otc-demo", "Huawei Cloud/OTC IAM", "no IAM v5",
	} {
		if !strings.Contains(page, s) {
			t.Errorf("page lacks %q", s)
		}
	}
}

func TestRenderSelfContained(t *testing.T) {
	page := render(t, demoInput())
	// Every reference the page makes is to itself or inline data.
	for _, m := range regexp.MustCompile(`(?i)\b(src|href|action|srcset|poster|data)\s*=\s*"([^"]*)"`).FindAllStringSubmatch(page, -1) {
		if m[2] != "data:," {
			t.Errorf("page refers to %s=%q", m[1], m[2])
		}
	}
	for _, bad := range []string{"url(", "@import", "<link rel=\"stylesheet", "<img", "<iframe", "fetch(", "XMLHttpRequest"} {
		if strings.Contains(page, bad) {
			t.Errorf("page contains %q", bad)
		}
	}
	if n := strings.Count(page, "<script"); n != 1 {
		t.Errorf("page has %d script elements, want 1", n)
	}
	// The Content-Security-Policy allows the inline script by its hash.
	script := page[strings.Index(page, "<script>")+len("<script>") : strings.Index(page, "</script>")]
	sum := sha256.Sum256([]byte(script))
	want := "script-src 'sha256-" + base64.StdEncoding.EncodeToString(sum[:]) + "'"
	csp := regexp.MustCompile(`http-equiv="Content-Security-Policy" content="([^"]*)"`).FindStringSubmatch(page)
	if csp == nil || !strings.Contains(strings.ReplaceAll(csp[1], "&#39;", "'"), want) {
		t.Errorf("CSP %q lacks %q", csp, want)
	}
}

func TestRenderEscapes(t *testing.T) {
	in := demoInput()
	evil := `<script>alert(1)</script>"' onmouseover=x`
	in.Decisions[0].UserName = evil
	in.Decisions[0].Reason = evil
	in.Decisions[0].AccessKeyID = evil
	in.Targets[0].Name = evil
	in.Records[0].Actor = evil
	in.Runs[0].RunID = evil
	in.Policy.Version = evil
	in.Policy.Exemptions.Users = append(in.Policy.Exemptions.Users, evil)
	in.Forecast[0].Decisions[1].UserName = evil
	page := render(t, in)
	for _, bad := range []string{"<script>alert", `" onmouseover`, `' onmouseover`} {
		if strings.Contains(page, bad) {
			t.Errorf("page contains unescaped %q", bad)
		}
	}
	if !strings.Contains(page, "&lt;script&gt;alert(1)&lt;/script&gt;") {
		t.Error("page lacks the escaped name")
	}
}

func TestRenderEmpty(t *testing.T) {
	page := render(t, report.Input{})
	for _, s := range []string{"No forecast was given.", "No key to list.", "The policy was not given.", "No run records given."} {
		if !strings.Contains(page, s) {
			t.Errorf("page lacks %q", s)
		}
	}
}

// TestTableSummarisesPastLimit: past FullTableRows keys, the table lists
// the non-keep keys and counts the kept ones by reason.
func TestTableSummarisesPastLimit(t *testing.T) {
	in := scaleInput(report.FullTableRows+500, 40, 0)
	page := render(t, in)
	listed := rowVerdicts(page)
	for _, v := range listed {
		if v == string(policy.Keep) {
			t.Fatal("a kept key is listed")
		}
	}
	nonKeep := 0
	for _, d := range in.Decisions {
		if d.Verdict != policy.Keep {
			nonKeep++
		}
	}
	if len(listed) != nonKeep {
		t.Errorf("listed %d keys, want the %d non-keep ones", len(listed), nonKeep)
	}
	summary := regexp.MustCompile(`<tr><td>([^<]+)</td><td class="n">(\d+)</td></tr>`).FindAllStringSubmatch(page, -1)
	counted := 0
	for _, m := range summary {
		n, _ := strconv.Atoi(m[2])
		counted += n
	}
	if counted != len(in.Decisions)-nonKeep {
		t.Errorf("summary counts %d keys, want %d", counted, len(in.Decisions)-nonKeep)
	}
}

// TestRenderSizeW: the report of W (10,000 users, 20,000 keys) stays under
// 5 MB, and so does one where every key is stale.
func TestRenderSizeW(t *testing.T) {
	if testing.Short() {
		t.Skip("large input")
	}
	for _, tc := range []struct {
		name       string
		staleEvery int
	}{{"W", 40}, {"all stale", 1}} {
		t.Run(tc.name, func(t *testing.T) {
			page := render(t, scaleInput(20000, tc.staleEvery, 13))
			if len(page) > 5<<20 {
				t.Errorf("report is %d bytes, over 5 MB", len(page))
			}
			t.Logf("%d bytes", len(page))
		})
	}
}

func TestCapabilityNotes(t *testing.T) {
	all := domain.Capabilities{Deactivate: true, LastUsed: true, OwnerTags: true, OwnerPaths: true}
	if diff := cmp.Diff([]string{"AWS IAM serves every rule of the policy"}, report.CapabilityNotes(domain.ProviderAWS, all)); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
	if got := report.CapabilityNotes(domain.ProviderGMI, domain.Capabilities{}); len(got) != 4 {
		t.Errorf("GMI notes = %q, want 4", got)
	}
}

// TestActedWindow: a report judged at a future date still counts the
// actions of the 30 days before it was made.
func TestActedWindow(t *testing.T) {
	in := demoInput()
	in.At = demoAt.AddDate(0, 3, 0)
	in.Decisions = decide(in.Policy, demoKeys(), in.At)
	in.Forecast = nil
	if page := render(t, in); !strings.Contains(page, `data-kpi="acted">3<`) {
		t.Error("a report at a future date lost the actions of the last 30 days")
	}
}
