package report

import (
	"bufio"
	"crypto/sha256"
	"embed"
	"encoding/base64"
	"fmt"
	"html/template"
	"io"
	"strconv"
	"time"

	"github.com/keysweep/keysweep/internal/domain"
)

var (
	//go:embed templates/*.tmpl
	templateFS embed.FS
	//go:embed style.css
	styleText string
	//go:embed report.js
	scriptText string

	page = template.Must(template.New("report").Funcs(template.FuncMap{
		"f":   num,
		"add": func(a, b float64) float64 { return a + b },
	}).ParseFS(templateFS, "templates/*.tmpl"))

	// csp lets the page run its own style and script, by hash, and load
	// nothing at all: no font, image, frame or connection.
	csp = "default-src 'none'; style-src " + hash(styleText) + "; script-src " + hash(scriptText) +
		"; img-src data:; base-uri 'none'; form-action 'none'"
)

func hash(s string) string {
	sum := sha256.Sum256([]byte(s))
	return "'sha256-" + base64.StdEncoding.EncodeToString(sum[:]) + "'"
}

// num writes an SVG coordinate with one decimal at most.
func num(v float64) string {
	s := strconv.FormatFloat(v, 'f', 1, 64)
	if len(s) > 2 && s[len(s)-2:] == ".0" {
		return s[:len(s)-2]
	}
	return s
}

// knownLastUse gives the decisions on keys whose last use is known; the
// decisions themselves when all are.
func knownLastUse(in *Input) []domain.KeyDecision {
	for i := range in.Decisions {
		if !in.knowsLastUse(in.Decisions[i].Provider) {
			var out []domain.KeyDecision
			for _, d := range in.Decisions {
				if in.knowsLastUse(d.Provider) {
					out = append(out, d)
				}
			}
			return out
		}
	}
	return in.Decisions
}

// view is what the template shows.
type view struct {
	GeneratedAt, At string
	Targets         []string
	Sum             totalRow
	Totals          []totalRow
	Age, Idle       histogram
	Forecast        forecastView
	Table           tableView
	Actions         []actionRow
	MoreActions     int
	Runs            []runRow
	MoreRuns        int
	Policy          *policyView
	Capabilities    []capabilityView
	CSP             string
	Style           template.CSS
	Script          template.JS
}

// Render writes the report of in to w as one self-contained HTML page. On
// an error w may hold part of a page.
func Render(w io.Writer, in Input) error {
	v := build(&in)
	bw := bufio.NewWriterSize(w, 64<<10)
	if err := page.ExecuteTemplate(bw, "page", v); err != nil {
		return fmt.Errorf("render report: %w", err)
	}
	if err := bw.Flush(); err != nil {
		return fmt.Errorf("write report: %w", err)
	}
	return nil
}

func build(in *Input) *view {
	gen := in.GeneratedAt
	if gen.IsZero() {
		gen = time.Now()
	}
	at := in.At
	if at.IsZero() {
		at = gen
	}
	names := newStoreNames(in.Targets)
	v := &view{
		GeneratedAt: stamp(gen), At: day(at),
		CSP: csp, Style: template.CSS(styleText), Script: template.JS(scriptText),
	}
	for _, t := range in.Targets {
		v.Targets = append(v.Targets, t.Provider.Title()+": "+names.label(t.Provider, t.Account).Label())
	}
	// Actions are history: a report judged at a future date counts those
	// of the 30 days before it was made.
	acted := at
	if gen.Before(at) {
		acted = gen
	}
	v.Totals = buildTotals(in, acted, names)
	v.Sum = v.Totals[len(v.Totals)-1]
	if len(v.Totals) == 2 {
		v.Totals = v.Totals[:1] // one account: the sum says nothing more
	}
	v.Age = buildHistogram("ages", "Keys by age", "days since created", in.Decisions,
		func(d *domain.KeyDecision) int { return d.AgeDays }, chartLimits(in.Policy, true))
	v.Idle = buildHistogram("unused", "Keys by days since last use", "days since last use (or creation, if never used)", knownLastUse(in),
		func(d *domain.KeyDecision) int { return d.InactiveDays }, chartLimits(in.Policy, false))
	if n := len(in.Decisions) - v.Idle.Total; n > 0 {
		v.Idle.Desc += fmt.Sprintf(" Left out: %d keys of stores that do not tell last use.", n)
	}
	v.Forecast = buildForecast(in, at, names)
	v.Table = buildTable(in, names)
	v.Actions, v.MoreActions = buildActions(in.Records, names)
	v.Runs, v.MoreRuns = buildRuns(in.Runs, names)
	v.Policy = buildPolicy(in.Policy)
	v.Capabilities = buildCapabilities(in)
	return v
}
