package lambda

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/keysweep/keysweep/internal/domain"
	"github.com/keysweep/keysweep/internal/engine"
	"github.com/keysweep/keysweep/internal/fanout"
)

// MetricsNamespace is the CloudWatch namespace of keysweep's metrics.
const MetricsNamespace = "keysweep"

// emfMetrics maps metric names to run counters.
var emfMetrics = []struct{ name, counter string }{
	{"KeysEvaluated", domain.CountEvaluated},
	{"KeysExempt", domain.CountExempt},
	{"KeysDeactivated", domain.CountDeactivated},
	{"KeysDeleted", domain.CountDeleted},
	{"KeysGone", domain.CountGone},
	{"KeysKeptOnRecheck", domain.CountKept},
	{"KeysAlreadyInactive", domain.CountAlreadyInactive},
	{"KeysMarkedDue", domain.CountMarkedDue},
	{"ChainBroken", domain.CountChainBroken},
	{"Errors", domain.CountErrors},
}

// EMFLine renders a run summary as one CloudWatch Embedded Metric Format
// record: CloudWatch Logs turns it into metrics with no API call.
func EMFLine(sum *engine.Summary, at time.Time) ([]byte, error) {
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
	doc["Target"] = sum.Target
	doc["Function"] = functionName()
	doc["RunId"] = sum.RunID
	doc["_aws"] = map[string]any{
		"Timestamp": at.UnixMilli(),
		"CloudWatchMetrics": []any{map[string]any{
			"Namespace": MetricsNamespace,
			// Dimension-less (what the alarms watch), by mode, by function.
			"Dimensions": [][]string{{}, {"Mode"}, {"Function"}},
			"Metrics":    metrics,
		}},
	}
	return json.Marshal(doc)
}

func (s *Sweeper) emitMetrics(sum *engine.Summary) {
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

// emitAccountMetrics writes an organization account's result as metrics:
// AccountRunsFailed and AccountRunsBlocked, which the template's alarms
// watch (an organization run must not hide a failed or blocked account).
func emitAccountMetrics(w io.Writer, out fanout.Swept) {
	if w == nil || out.Recorded == nil || out.Duplicate {
		return
	}
	failed, blocked := 0, 0
	switch {
	case out.Recorded.Status == domain.AccountFailed:
		failed = 1
	case out.Recorded.Outcome == domain.RunBlocked:
		blocked = 1
	}
	doc := map[string]any{
		"AccountRunsFailed": failed, "AccountRunsBlocked": blocked,
		"Account": out.Message.AccountID, "OrgRunId": out.Message.OrgRunID, "Outcome": out.Recorded.Outcome,
		"Function": functionName(),
		"_aws": map[string]any{
			"Timestamp": time.Now().UnixMilli(),
			"CloudWatchMetrics": []any{map[string]any{
				"Namespace":  MetricsNamespace,
				"Dimensions": [][]string{{}, {"Function"}},
				"Metrics": []map[string]string{
					{"Name": "AccountRunsFailed", "Unit": "Count"},
					{"Name": "AccountRunsBlocked", "Unit": "Count"},
				},
			}},
		},
	}
	if line, err := json.Marshal(doc); err == nil {
		fmt.Fprintf(w, "%s\n", line)
	}
}

// functionName is the Lambda function's name (the metrics' Function
// dimension); "local" outside Lambda.
func functionName() string {
	if n := os.Getenv("AWS_LAMBDA_FUNCTION_NAME"); n != "" {
		return n
	}
	return "local"
}

// NoticeMetricsLine renders the NoticesFailed metric of a run (notices
// and findings that did not get through, and notices a crashed run left
// unsettled), which NoticesFailedAlarm watches: namespace keysweep,
// dimensions none and Function (the function's name, fn). ok is false
// for a run that had nothing to count.
func NoticeMetricsLine(sum *engine.Summary, fn string, at time.Time) (line []byte, ok bool, err error) {
	failed := sum.Counts[domain.CountNoticesFailed] + sum.Counts[domain.CountNoticesUnknown]
	sent := sum.Counts[domain.CountNoticesSent]
	if failed == 0 && sent == 0 && sum.Counts[domain.CountFindings] == 0 {
		return nil, false, nil
	}
	doc := map[string]any{
		"NoticesFailed": failed, "NoticesSent": sent, "Function": fn, "Target": sum.Target, "RunId": sum.RunID,
		"_aws": map[string]any{
			"Timestamp": at.UnixMilli(),
			"CloudWatchMetrics": []any{map[string]any{
				"Namespace":  MetricsNamespace,
				"Dimensions": [][]string{{}, {"Function"}},
				"Metrics": []map[string]string{
					{"Name": "NoticesFailed", "Unit": "Count"},
					{"Name": "NoticesSent", "Unit": "Count"},
				},
			}},
		},
	}
	line, err = json.Marshal(doc)
	return line, err == nil, err
}

func (s *Sweeper) emitNoticeMetrics(sum *engine.Summary) {
	if s.Metrics == nil || sum == nil || sum.Duplicate {
		return
	}
	line, ok, err := NoticeMetricsLine(sum, functionName(), time.Now())
	if err != nil {
		s.log().Error("notice metrics", "err", err)
		return
	}
	if ok {
		fmt.Fprintf(s.Metrics, "%s\n", line)
	}
}
