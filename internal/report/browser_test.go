package report_test

import (
	"bytes"
	"context"
	"image/png"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/emulation"
	"github.com/chromedp/chromedp"
	"github.com/google/go-cmp/cmp"
)

// screenshotPath is where the browser test leaves its picture of the demo
// report, which the README shows.
var screenshotPath = filepath.Join("..", "..", "docs", "report-screenshot.png")

// TestReportInBrowser opens the demo report in headless Chromium and
// checks what a person sees: the totals, the forecast's bars, that a
// column sorts and a filter filters, that print and dark mode apply, and
// that the page made no network request and raised no error.
func TestReportInBrowser(t *testing.T) {
	file := filepath.Join(t.TempDir(), "report.html")
	if err := os.WriteFile(file, []byte(render(t, demoInput())), 0o600); err != nil {
		t.Fatal(err)
	}
	self := "file://" + file
	ctx := browser(t, 1280, 1600)
	w := watch(t, ctx)
	do(t, ctx, "open the report", chromedp.EmulateViewport(1280, 1600),
		chromedp.Navigate(self), chromedp.WaitVisible(chromedp.CSS("#keys tbody tr")))
	screenshot(t, ctx)

	t.Run("totals", func(t *testing.T) {
		got := eval[[]string](t, ctx, `[...document.querySelectorAll("#totals tr.sum > *")].map(c => c.textContent.trim())`)
		want := []string{"All key stores", "", "15", "13", "7", "1", "5", "3", ""}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("totals row (-want +got):\n%s", diff)
		}
	})
	t.Run("forecast bars", func(t *testing.T) {
		type bar struct {
			Count  int
			Height float64
		}
		bars := eval[[]bar](t, ctx, `[...document.querySelectorAll("#forecast rect[data-count]")].map(r => ({Count: +r.dataset.count, Height: r.getBBox().height}))`)
		var counts []int
		for _, b := range bars {
			counts = append(counts, b.Count)
		}
		if diff := cmp.Diff([]int{3, 1, 1, 0, 0, 0}, counts); diff != "" {
			t.Fatalf("bar counts (-want +got):\n%s", diff)
		}
		// Drawn to scale: the bar of 3 is three times the bar of 1.
		if h1, h3 := bars[2].Height, bars[0].Height; h1 <= 0 || h3 < 2.99*h1 || h3 > 3.01*h1 {
			t.Errorf("bar heights %v and %v are not 3 to 1", h3, h1)
		}
	})
	t.Run("sort", func(t *testing.T) { checkSort(t, ctx) })
	t.Run("filter", func(t *testing.T) { checkFilter(t, ctx) })
	t.Run("print and dark mode", func(t *testing.T) { checkMedia(t, ctx) })

	w.check(t, self)
}

// screenshot saves the top of the page as a PNG.
func screenshot(t *testing.T, ctx context.Context) {
	t.Helper()
	shot, err := chromedp.Run(ctx, chromedp.CaptureScreenshot())
	if err != nil {
		t.Fatalf("screenshot: %v", err)
	}
	if _, err := png.Decode(bytes.NewReader(shot)); err != nil {
		t.Fatalf("screenshot is not a PNG: %v", err)
	}
	if err := os.WriteFile(screenshotPath, shot, 0o644); err != nil {
		t.Fatalf("save screenshot: %v", err)
	}
}

// column reads a column of the key table's shown rows.
func column(t *testing.T, ctx context.Context, n int) []string {
	t.Helper()
	return eval[[]string](t, ctx, `[...document.querySelectorAll("#keys tbody tr")].filter(r => !r.hidden).map(r => r.cells[`+itoa(n)+`].textContent)`)
}

func checkSort(t *testing.T, ctx context.Context) {
	ages := func() []int {
		var out []int
		for _, s := range column(t, ctx, 4) {
			out = append(out, atoi(t, s))
		}
		return out
	}
	ageButton := chromedp.CSS("#keys thead th:nth-child(5) button")
	do(t, ctx, "sort by age", chromedp.Click(ageButton))
	if got := ages(); !slices.IsSorted(got) {
		t.Errorf("ages after one click = %v, want ascending", got)
	}
	if got := eval[string](t, ctx, `document.querySelector("#keys thead th:nth-child(5)").getAttribute("aria-sort")`); got != "ascending" {
		t.Errorf("aria-sort = %q, want ascending", got)
	}
	do(t, ctx, "sort by age again", chromedp.Click(ageButton))
	got := ages()
	if !slices.IsSortedFunc(got, func(a, b int) int { return b - a }) || got[0] != 400 {
		t.Errorf("ages after two clicks = %v, want descending from 400", got)
	}
	do(t, ctx, "sort by user", chromedp.Click(chromedp.CSS("#keys thead th:nth-child(1) button")))
	if users := column(t, ctx, 0); !slices.IsSorted(users) || users[0] != "alice" {
		t.Errorf("users = %v, want sorted from alice", users)
	}
}

func checkFilter(t *testing.T, ctx context.Context) {
	do(t, ctx, "type a user", chromedp.SendKeys(chromedp.ID("f-user"), "ali"))
	if diff := cmp.Diff([]string{"alice", "alice"}, column(t, ctx, 0)); diff != "" {
		t.Errorf("rows for \"ali\" (-want +got):\n%s", diff)
	}
	if got := eval[string](t, ctx, `document.getElementById("shown").textContent`); got != "2 of 15 keys shown" {
		t.Errorf("count = %q", got)
	}
	// Clear the box, and choose "deactivate" in the decision list by its
	// text, with the events a person's input gives.
	do(t, ctx, "clear the user and choose a decision", chromedp.Evaluate[chromedp.Void](`(() => {
		const u = document.getElementById("f-user");
		u.value = "";
		u.dispatchEvent(new Event("input"));
		const s = document.getElementById("f-verdict");
		s.value = [...s.options].find(o => o.text === "deactivate").value;
		s.dispatchEvent(new Event("change"));
	})()`))
	users := column(t, ctx, 0)
	slices.Sort(users)
	if diff := cmp.Diff([]string{"bob", "carol", "ci-runner", "ops@example.com"}, users); diff != "" {
		t.Errorf("rows to deactivate (-want +got):\n%s", diff)
	}
}

func checkMedia(t *testing.T, ctx context.Context) {
	media := func(p emulation.SetEmulatedMediaParams) {
		t.Helper()
		do(t, ctx, "emulate media", func(ctx context.Context, tg *chromedp.Target) (chromedp.Void, error) {
			_, err := cdp.Call(ctx, tg, emulation.SetEmulatedMedia, p)
			return chromedp.Void{}, err
		})
	}
	media(emulation.SetEmulatedMediaParams{Media: "print"})
	if got := eval[string](t, ctx, `getComputedStyle(document.querySelector(".filters")).display`); got != "none" {
		t.Errorf("filters in print: display %q, want none", got)
	}
	media(emulation.SetEmulatedMediaParams{Features: []*emulation.MediaFeature{{Name: "prefers-color-scheme", Value: "dark"}}})
	if got := eval[string](t, ctx, `getComputedStyle(document.body).backgroundColor`); got != "rgb(15, 18, 23)" {
		t.Errorf("dark mode background = %q", got)
	}
	media(emulation.SetEmulatedMediaParams{})
}
