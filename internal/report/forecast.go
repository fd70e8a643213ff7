package report

import (
	"fmt"
	"math"
	"strconv"
	"time"

	"github.com/keysweep/keysweep/internal/domain"
	"github.com/keysweep/keysweep/policy"
)

// MaxForecastListed is how many keys each forecast week lists by name.
const MaxForecastListed = 100

// openForecastBelow: a forecast of fewer keys shows its lists unfolded.
const openForecastBelow = 25

// forecastView is the forecast chart and its lists.
type forecastView struct {
	W, H           float64
	Weeks          []weekView
	YTicks         []tick
	X0, X1, Y0, Y1 float64
	Total          int
	Open           bool // the lists are short enough to show unfolded
}

type weekView struct {
	Index          int
	From, To       string // dates; To is the judgement's day
	Label          string // short date under the bar
	Count          int
	X, W, Y, H     float64
	LabelX, CountY float64
	Keys           []forecastKey
	More           int // keys not listed
}

type forecastKey struct {
	User                 string
	Store                store
	Key, Verdict, Reason string
}

// due is what the plan at some time would do to each key: its verdict,
// for the keys it would act on.
type due map[ref]policy.Verdict

func dueOf(ds []domain.KeyDecision) due {
	out := due{}
	for i := range ds {
		if ds[i].Verdict.Acts() {
			out[keyRef(&ds[i])] = ds[i].Verdict
		}
	}
	return out
}

// buildForecast counts, for each week, the keys newly due then: keys the
// plan at the week's end acts on that the plan at its start did not (or
// did otherwise: a deletion coming due for a deactivated key).
func buildForecast(in *Input, at time.Time, names *storeNames) forecastView {
	f := forecastView{W: chartW, H: chartH, X0: padL, X1: padL + plotW, Y0: padT, Y1: padT + plotH}
	prev := dueOf(in.Decisions)
	from := at
	for i, w := range in.Forecast {
		wv := weekView{Index: i + 1, From: day(from), To: day(w.At), Label: w.At.UTC().Format("Jan 2")}
		cur := make(due, len(prev))
		for j := range w.Decisions {
			d := &w.Decisions[j]
			if !d.Verdict.Acts() {
				continue
			}
			k := keyRef(d)
			cur[k] = d.Verdict
			if prev[k] == d.Verdict {
				continue
			}
			wv.Count++
			if len(wv.Keys) < MaxForecastListed {
				wv.Keys = append(wv.Keys, forecastKey{ownerLabel(d), names.label(d.Provider, d.Account), keyLabel(d), string(d.Verdict), d.Reason})
			}
		}
		wv.More = wv.Count - len(wv.Keys)
		f.Total += wv.Count
		f.Weeks = append(f.Weeks, wv)
		prev, from = cur, w.At
	}
	f.Open = f.Total <= openForecastBelow
	f.layout()
	return f
}

func (f *forecastView) layout() {
	if len(f.Weeks) == 0 {
		return
	}
	peak := 0
	for _, w := range f.Weeks {
		peak = max(peak, w.Count)
	}
	top, ticks := niceScale(peak)
	y := func(v int) float64 { return padT + plotH - float64(v)/float64(top)*plotH }
	for _, v := range ticks {
		f.YTicks = append(f.YTicks, tick{y(v), strconv.Itoa(v)})
	}
	slot := plotW / float64(len(f.Weeks))
	for i := range f.Weeks {
		w := &f.Weeks[i]
		w.W = math.Max(slot*(1-forecastBarGap), 1)
		w.X = padL + float64(i)*slot + (slot-w.W)/2
		w.Y = y(w.Count)
		w.H = padT + plotH - w.Y
		w.LabelX = w.X + w.W/2
		w.CountY = w.Y - 5
	}
}

// Title says what a week's bar means, for its <title>.
func (w weekView) Title() string {
	return fmt.Sprintf("week %d, %s to %s: %d keys newly due", w.Index, w.From, w.To, w.Count)
}

// ShowLabel thins the date labels when there are many weeks.
func (f forecastView) ShowLabel(i int) bool {
	every := max(1, (len(f.Weeks)+11)/12)
	return i%every == 0
}
