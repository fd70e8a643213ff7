package report

import (
	"fmt"
	"math"
	"strconv"

	"github.com/keysweep/keysweep/internal/domain"
	"github.com/keysweep/keysweep/policy"
)

// Chart geometry, in SVG user units (the SVG scales to its box).
const (
	chartW, chartH         = 600.0, 260.0
	padL, padR, padT, padB = 52.0, 16.0, 34.0, 46.0
	plotW, plotH           = chartW - padL - padR, chartH - padT - padB
	maxBins                = 24
	forecastBarGap         = 0.28 // share of a slot left empty
	limitLabelStep         = 13.0
)

// binWidths are the histogram bin widths tried, in days: the first that
// fits the data in maxBins bins.
var binWidths = []int{7, 14, 30, 60, 90, 180, 365, 730}

// histogram is an SVG bar chart of keys by days, each bar split into keys
// within their limits and keys over one.
type histogram struct {
	ID, Title, Desc, XLabel string
	W, H                    float64
	Bars                    []hbar
	Lines                   []limitLine
	XTicks, YTicks          []tick
	Total, BinDays          int
	X0, X1, Y0, Y1          float64 // the plot area's edges
}

type hbar struct {
	X, W             float64
	From, To         int // days, To exclusive
	Within, Stale    int
	YWithin, HWithin float64
	YStale, HStale   float64
	Label            string
}

type limitLine struct {
	X, LabelY float64
	Label     string
	Override  bool
	Anchor    string // text-anchor: end when the line is near the right edge
	LabelX    float64
}

type tick struct {
	Pos   float64
	Label string
}

// limitOf is one limit drawn on a chart.
type limitOf struct {
	Days     int
	Label    string
	Override bool
}

// chartLimits lists the policy's limit for one rule and each override's
// that differs from it.
func chartLimits(p *policy.Policy, age bool) []limitOf {
	if p == nil {
		return nil
	}
	base, name := p.MaxInactiveDays, "inactivity limit"
	if age {
		base, name = p.MaxKeyAgeDays, "age limit"
	}
	var out []limitOf
	if base > 0 {
		out = append(out, limitOf{base, fmt.Sprintf("%s %d", name, base), false})
	}
	for _, o := range p.Overrides {
		v := o.MaxInactiveDays
		if age {
			v = o.MaxKeyAgeDays
		}
		if v == nil || *v <= 0 || *v == base {
			continue
		}
		out = append(out, limitOf{*v, fmt.Sprintf("%s %d", overrideName(o), *v), true})
	}
	return out
}

func overrideName(o policy.Override) string {
	switch {
	case o.Name != "":
		return o.Name
	case o.Tag != nil:
		return "tag " + o.Tag.Key
	}
	return o.PathPrefix
}

// buildHistogram counts the decisions by days (ages, or days since last
// use) into bins and lays out the chart.
func buildHistogram(id, title, xlabel string, ds []domain.KeyDecision, days func(*domain.KeyDecision) int, limits []limitOf) histogram {
	h := histogram{ID: id, Title: title, XLabel: xlabel, W: chartW, H: chartH, Total: len(ds),
		X0: padL, X1: padL + plotW, Y0: padT, Y1: padT + plotH}
	top := 1
	for i := range ds {
		top = max(top, days(&ds[i])+1)
	}
	for _, l := range limits {
		top = max(top, l.Days+1)
	}
	h.BinDays = binWidths[len(binWidths)-1]
	for _, w := range binWidths {
		if (top+w-1)/w <= maxBins {
			h.BinDays = w
			break
		}
	}
	n := max(1, (top+h.BinDays-1)/h.BinDays)
	h.Bars = make([]hbar, n)
	for i := range ds {
		b := &h.Bars[min(n-1, days(&ds[i])/h.BinDays)]
		if ds[i].Stale {
			b.Stale++
		} else {
			b.Within++
		}
	}
	h.layout(limits)
	stale := 0
	for _, b := range h.Bars {
		stale += b.Stale
	}
	h.Desc = fmt.Sprintf("%d keys in %d-day bins: %d within their limits, %d over a limit.", h.Total, h.BinDays, h.Total-stale, stale)
	return h
}

// layout places the bars, ticks and limit lines.
func (h *histogram) layout(limits []limitOf) {
	peak := 0
	for _, b := range h.Bars {
		peak = max(peak, b.Within+b.Stale)
	}
	ymax, yticks := niceScale(peak)
	slot := plotW / float64(len(h.Bars))
	spanDays := float64(len(h.Bars) * h.BinDays)
	y := func(v int) float64 { return padT + plotH - float64(v)/float64(ymax)*plotH }
	for i := range h.Bars {
		b := &h.Bars[i]
		b.From, b.To = i*h.BinDays, (i+1)*h.BinDays
		b.X, b.W = padL+float64(i)*slot+1, math.Max(slot-2, 1)
		b.YWithin = y(b.Within)
		b.HWithin = padT + plotH - b.YWithin
		b.YStale = y(b.Within + b.Stale)
		b.HStale = b.YWithin - b.YStale
		b.Label = fmt.Sprintf("%d–%d days: %d within limits, %d over a limit", b.From, b.To-1, b.Within, b.Stale)
	}
	for _, v := range yticks {
		h.YTicks = append(h.YTicks, tick{y(v), strconv.Itoa(v)})
	}
	every := max(1, len(h.Bars)/8)
	for i := 0; i <= len(h.Bars); i += every {
		h.XTicks = append(h.XTicks, tick{padL + float64(i)*slot, strconv.Itoa(i * h.BinDays)})
	}
	for i, l := range limits {
		x := padL + float64(l.Days)/spanDays*plotW
		ll := limitLine{X: x, Label: l.Label, Override: l.Override, LabelY: padT - 6 - float64(i%2)*limitLabelStep, Anchor: "start", LabelX: x + 3}
		if x > padL+plotW*0.7 {
			ll.Anchor, ll.LabelX = "end", x-3
		}
		h.Lines = append(h.Lines, ll)
	}
}

// niceScale gives a round axis maximum at or above peak, and its ticks
// values: at most five steps of 1, 2 or 5 times a power of ten.
func niceScale(peak int) (top int, ticks []int) {
	peak = max(peak, 1)
	step := 1
search:
	for mag := 1; ; mag *= 10 {
		for _, m := range []int{1, 2, 5} {
			if step = m * mag; (peak+step-1)/step <= 5 {
				break search
			}
		}
	}
	top = (peak + step - 1) / step * step
	for v := 0; v <= top; v += step {
		ticks = append(ticks, v)
	}
	return top, ticks
}
