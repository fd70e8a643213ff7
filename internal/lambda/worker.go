package lambda

import (
	"context"
	"io"
	"strconv"

	"github.com/aws/aws-lambda-go/events"

	"github.com/keysweep/keysweep/internal/fanout"
)

// Worker is the organization worker Lambda's handler: one member account
// per SQS message.
type Worker struct {
	*fanout.Worker
	// Metrics receives CloudWatch Embedded Metric Format lines (failed and
	// blocked account runs, which the template alarms on); nil: none.
	Metrics io.Writer
}

// HandleSQS reports every message to be retried as a batch item failure
// (the event source mapping has ReportBatchItemFailures on). A message that
// cannot be parsed is reported too, so it ends in the dead-letter queue for
// someone to look at.
func (w Worker) HandleSQS(ctx context.Context, ev events.SQSEvent) (events.SQSEventResponse, error) {
	var resp events.SQSEventResponse
	log := w.Log()
	for _, rec := range ev.Records {
		msg, err := fanout.ParseMessage([]byte(rec.Body))
		if err != nil {
			log.Error("refused message", "messageId", rec.MessageId, "err", err)
			resp.BatchItemFailures = append(resp.BatchItemFailures, events.SQSBatchItemFailure{ItemIdentifier: rec.MessageId})
			continue
		}
		n := receiveCount(rec)
		out := w.Sweep(ctx, msg, n)
		if out.Retry {
			resp.BatchItemFailures = append(resp.BatchItemFailures, events.SQSBatchItemFailure{ItemIdentifier: rec.MessageId})
			w.delay(ctx, rec, n)
		}
		emitAccountMetrics(w.Metrics, out)
	}
	return resp, nil
}

// delay shortens a failed message's invisibility. Failing that, the queue's
// visibility timeout applies: later, never lost.
func (w Worker) delay(ctx context.Context, rec events.SQSMessage, receive int) {
	if w.Delay == nil || rec.ReceiptHandle == "" {
		return
	}
	if err := w.Delay.Delay(ctx, rec.ReceiptHandle, w.RetryDelayFor(receive)); err != nil {
		w.Log().Warn("shorten the retry delay; the queue's visibility timeout applies", "messageId", rec.MessageId, "err", err)
	}
}

// receiveCount is the message's delivery number, 1 for the first.
func receiveCount(rec events.SQSMessage) int {
	n, err := strconv.Atoi(rec.Attributes["ApproximateReceiveCount"])
	if err != nil || n < 1 {
		return 1
	}
	return n
}
