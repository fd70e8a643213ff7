package fanout

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	"github.com/aws/aws-sdk-go-v2/service/sqs/types"
)

// Queue takes the dispatcher's account messages.
type Queue interface {
	// Send sends every message and returns those it could not send, with
	// why. An error for a whole request fails each message in it.
	Send(ctx context.Context, msgs []Message) []SendFailure
}

// SendFailure is a message that was not sent.
type SendFailure struct {
	Message Message
	Err     error
}

// SQSAPI is the part of the SQS client the dispatcher uses; *sqs.Client
// satisfies it.
type SQSAPI interface {
	SendMessageBatch(ctx context.Context, params *sqs.SendMessageBatchInput, optFns ...func(*sqs.Options)) (*sqs.SendMessageBatchOutput, error)
}

var _ SQSAPI = (*sqs.Client)(nil)

// SQSBatchSize is the most messages one SendMessageBatch takes.
const SQSBatchSize = 10

// SQSQueue sends account messages to an SQS queue, ten per request.
type SQSQueue struct {
	API SQSAPI
	URL string
}

var _ Queue = (*SQSQueue)(nil)

// Send implements Queue. The SDK retryer retries a failed request; an entry
// the queue refused (BatchResultErrorEntry) is reported, not resent: SQS
// refuses an entry for what it is (too large, invalid), which a resend does
// not change.
func (q *SQSQueue) Send(ctx context.Context, msgs []Message) []SendFailure {
	var failed []SendFailure
	for start := 0; start < len(msgs); start += SQSBatchSize {
		batch := msgs[start:min(start+SQSBatchSize, len(msgs))]
		entries := make([]types.SendMessageBatchRequestEntry, len(batch))
		byID := make(map[string]Message, len(batch))
		for i, m := range batch {
			// Account ids are unique in a run and valid entry ids.
			entries[i] = types.SendMessageBatchRequestEntry{Id: aws.String(m.AccountID), MessageBody: aws.String(m.Body())}
			byID[m.AccountID] = m
		}
		out, err := q.API.SendMessageBatch(ctx, &sqs.SendMessageBatchInput{QueueUrl: aws.String(q.URL), Entries: entries})
		if err != nil {
			for _, m := range batch {
				failed = append(failed, SendFailure{Message: m, Err: fmt.Errorf("send message: %w", err)})
			}
			continue
		}
		for _, e := range out.Failed {
			m, ok := byID[aws.ToString(e.Id)]
			if !ok {
				continue
			}
			failed = append(failed, SendFailure{Message: m, Err: fmt.Errorf("send message: %s: %s", aws.ToString(e.Code), aws.ToString(e.Message))})
		}
	}
	return failed
}

// MemQueue keeps the messages in memory, for the in-process fan-out.
type MemQueue struct {
	mu   sync.Mutex
	msgs []Message
}

var _ Queue = (*MemQueue)(nil)

// Send implements Queue.
func (q *MemQueue) Send(_ context.Context, msgs []Message) []SendFailure {
	q.mu.Lock()
	defer q.mu.Unlock()
	q.msgs = append(q.msgs, msgs...)
	return nil
}

// Take returns the messages sent so far and forgets them.
func (q *MemQueue) Take() []Message {
	q.mu.Lock()
	defer q.mu.Unlock()
	out := q.msgs
	q.msgs = nil
	return out
}

// Delayer makes a received message visible again after d.
type Delayer interface {
	Delay(ctx context.Context, receiptHandle string, d time.Duration) error
}

// SQSVisibilityAPI is the part of the SQS client a Delayer uses;
// *sqs.Client satisfies it.
type SQSVisibilityAPI interface {
	ChangeMessageVisibility(ctx context.Context, params *sqs.ChangeMessageVisibilityInput, optFns ...func(*sqs.Options)) (*sqs.ChangeMessageVisibilityOutput, error)
}

var _ SQSVisibilityAPI = (*sqs.Client)(nil)

// SQSDelayer changes a message's visibility on the account queue.
type SQSDelayer struct {
	API SQSVisibilityAPI
	URL string
}

var _ Delayer = (*SQSDelayer)(nil)

// Delay implements Delayer.
func (q *SQSDelayer) Delay(ctx context.Context, receiptHandle string, d time.Duration) error {
	_, err := q.API.ChangeMessageVisibility(ctx, &sqs.ChangeMessageVisibilityInput{
		QueueUrl: aws.String(q.URL), ReceiptHandle: aws.String(receiptHandle), VisibilityTimeout: int32(d / time.Second),
	})
	if err != nil {
		return fmt.Errorf("change message visibility: %w", err)
	}
	return nil
}
