package report_test

import (
	"bytes"
	"testing"

	"github.com/keysweep/keysweep/internal/report"
)

// BenchmarkRenderW renders the report of W: 10,000 users with 20,000
// keys, 500 of them stale, a 13-week forecast, 1,000 audit records and 100
// runs. It reports the page's size.
func BenchmarkRenderW(b *testing.B) { benchRender(b, scaleInput(20000, 40, 13)) }

// BenchmarkRenderAllStale is W with every key stale: the table lists
// MaxListedRows keys and counts the rest.
func BenchmarkRenderAllStale(b *testing.B) { benchRender(b, scaleInput(20000, 1, 13)) }

func benchRender(b *testing.B, in report.Input) {
	var buf bytes.Buffer
	b.ReportAllocs()
	for b.Loop() {
		buf.Reset()
		if err := report.Render(&buf, in); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(buf.Len()), "page-bytes")
}
