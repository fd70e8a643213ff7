package app

import (
	"encoding/json"
	"fmt"
	"time"

	"github.com/keysweep/keysweep/sweep"
)

// MetricsNamespace is the CloudWatch namespace of keysweep's metrics.
const MetricsNamespace = "keysweep"

// emfMetrics maps metric names to run counters.
var emfMetrics = []struct{ name, counter string }{
	{"KeysEvaluated", sweep.CountEvaluated},
	{"KeysExempt", sweep.CountExempt},
	{"KeysDeactivated", sweep.CountDeactivated},
	{"KeysDeleted", sweep.CountDeleted},
	{"KeysGone", sweep.CountGone},
	{"KeysKeptOnRecheck", sweep.CountKept},
	{"Errors", sweep.CountErrors},
}

// EMFLine renders a run summary as one CloudWatch Embedded Metric Format
// record: CloudWatch Logs turns it into metrics with no API call.
func EMFLine(sum *Summary, at time.Time) ([]byte, error) {
	metrics := make([]map[string]string, 0, len(emfMetrics))
	doc := map[string]any{}
	for _, m := range emfMetrics {
		metrics = append(metrics, map[string]string{"Name": m.name, "Unit": "Count"})
		doc[m.name] = sum.Counts[m.counter]
	}
	mode := string(sum.Mode)
	if mode == "" {
		mode = "none"
	}
	doc["Mode"] = mode
	doc["Outcome"] = sum.Outcome
	doc["RunId"] = sum.RunID
	doc["_aws"] = map[string]any{
		"Timestamp": at.UnixMilli(),
		"CloudWatchMetrics": []any{map[string]any{
			"Namespace":  MetricsNamespace,
			"Dimensions": [][]string{{"Mode"}},
			"Metrics":    metrics,
		}},
	}
	return json.Marshal(doc)
}

func (s *Sweeper) emitMetrics(sum *Summary) {
	if s.Metrics == nil || sum.Duplicate {
		return
	}
	line, err := EMFLine(sum, time.Now())
	if err != nil {
		s.log().Error("metrics", "err", err)
		return
	}
	fmt.Fprintf(s.Metrics, "%s\n", line)
}
