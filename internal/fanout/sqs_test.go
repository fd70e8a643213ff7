package fanout_test

import (
	"encoding/json"
	"github.com/keysweep/keysweep/internal/fanout"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	"github.com/aws/aws-sdk-go-v2/service/sqs/types"
	"github.com/google/go-cmp/cmp"

	"github.com/keysweep/keysweep/internal/domain"
	"github.com/keysweep/keysweep/internal/journal/mem"
	"github.com/keysweep/keysweep/internal/lambda"
	"github.com/keysweep/keysweep/policy"
)

// queues creates the account queue and its dead-letter queue as
// template.yaml does: redrive after three receives.
func (o *testOrg) queues(t *testing.T) (client *sqs.Client, url, dlqURL string) {
	t.Helper()
	ctx := t.Context()
	client = sqs.NewFromConfig(o.cfg)
	dlq, err := client.CreateQueue(ctx, &sqs.CreateQueueInput{QueueName: aws.String(t.Name() + "-dlq")})
	if err != nil {
		t.Fatalf("create dead-letter queue: %v", err)
	}
	attrs, err := client.GetQueueAttributes(ctx, &sqs.GetQueueAttributesInput{QueueUrl: dlq.QueueUrl, AttributeNames: []types.QueueAttributeName{types.QueueAttributeNameQueueArn}})
	if err != nil {
		t.Fatal(err)
	}
	redrive, _ := json.Marshal(map[string]any{"deadLetterTargetArn": attrs.Attributes["QueueArn"], "maxReceiveCount": fanout.DefaultMaxReceives})
	q, err := client.CreateQueue(ctx, &sqs.CreateQueueInput{QueueName: aws.String(t.Name()), Attributes: map[string]string{
		"RedrivePolicy": string(redrive), "VisibilityTimeout": "60",
	}})
	if err != nil {
		t.Fatalf("create queue: %v", err)
	}
	return client, aws.ToString(q.QueueUrl), aws.ToString(dlq.QueueUrl)
}

// receive takes up to ten messages off the queue as Lambda's event source
// mapping does and turns each into the event a worker with BatchSize 1
// gets (aws-lambda-go's events.SQSEvent, as in testdata/sqs-receive-message.json).
func receive(t *testing.T, client *sqs.Client, url string) []events.SQSEvent {
	t.Helper()
	out, err := client.ReceiveMessage(t.Context(), &sqs.ReceiveMessageInput{
		QueueUrl: aws.String(url), MaxNumberOfMessages: 10,
		MessageSystemAttributeNames: []types.MessageSystemAttributeName{types.MessageSystemAttributeNameAll},
	})
	if err != nil {
		t.Fatalf("receive: %v", err)
	}
	var evs []events.SQSEvent
	for _, m := range out.Messages {
		evs = append(evs, events.SQSEvent{Records: []events.SQSMessage{{
			MessageId:      aws.ToString(m.MessageId),
			ReceiptHandle:  aws.ToString(m.ReceiptHandle),
			Body:           aws.ToString(m.Body),
			Md5OfBody:      aws.ToString(m.MD5OfBody),
			Attributes:     m.Attributes,
			EventSource:    "aws:sqs",
			EventSourceARN: "arn:aws:sqs:us-east-1:" + managementAccount + ":" + url[strings.LastIndex(url, "/")+1:],
			AWSRegion:      "us-east-1",
		}}})
	}
	return evs
}

// settle does what the event source mapping does with the worker's answer:
// delete the messages that succeeded. The failed ones stay invisible for
// the queue's visibility timeout (a minute here) unless the worker's
// Delayer shortened it.
func settle(t *testing.T, client *sqs.Client, url string, ev events.SQSEvent, resp events.SQSEventResponse) {
	t.Helper()
	failed := map[string]bool{}
	for _, f := range resp.BatchItemFailures {
		failed[f.ItemIdentifier] = true
	}
	for _, r := range ev.Records {
		if failed[r.MessageId] {
			continue
		}
		if _, err := client.DeleteMessage(t.Context(), &sqs.DeleteMessageInput{QueueUrl: aws.String(url), ReceiptHandle: aws.String(r.ReceiptHandle)}); err != nil {
			t.Fatalf("delete message %s: %v", r.MessageId, err)
		}
	}
}

func queueBodies(t *testing.T, client *sqs.Client, url string) []string {
	t.Helper()
	var bodies []string
	for _, ev := range receive(t, client, url) {
		for _, r := range ev.Records {
			bodies = append(bodies, r.Body)
		}
	}
	return bodies
}

// The dispatcher sends one message per account to a real queue; workers
// consume them; an account whose role cannot be assumed is retried, recorded
// failed on its third delivery and left in the dead-letter queue; redriven
// once the role is fixed, it turns done.
func TestSQSFanOut(t *testing.T) {
	o := newTestOrg(t, 3, nil)
	ctx := t.Context()
	m := o.members
	broken := m[2]
	o.putPolicy(t, testPolicy(&policy.OrgSelection{Accounts: ids(m...)}))
	client, url, dlqURL := o.queues(t)
	d := o.dispatcher(&fanout.SQSQueue{API: client, URL: url})
	w := o.worker()
	// The worker makes a failed message visible again itself; at once here
	// instead of after minutes.
	var delays []time.Duration
	w.Delay = &fanout.SQSDelayer{API: client, URL: url}
	w.RetryDelay = func(receive int) time.Duration { delays = append(delays, fanout.DefaultRetryDelay(receive)); return 0 }

	dres, err := d.Dispatch(ctx, fanout.DispatchRequest{Trigger: domain.Trigger{Kind: "schedule", EventID: "schedule:e1"}})
	if err != nil {
		t.Fatalf("dispatch: %v", err)
	}
	orgRunID := dres.Run.RunID
	if dres.Sent != 3 || dres.Run.AccountsPlanned != 3 || dres.Run.DispatchedAt == nil {
		t.Fatalf("dispatched: sent %d, planned %d, dispatchedAt %v", dres.Sent, dres.Run.AccountsPlanned, dres.Run.DispatchedAt)
	}

	o.emu.FaultMatching(t, "STS.AssumeRole", "AccessDenied", 403, 0, fanout.RoleARN("aws", broken.id, testRole))
	handled := map[string][]string{} // account → receive counts seen
	for round := 0; ; round++ {
		if round > 10 {
			t.Fatal("the queue never drained")
		}
		evs := receive(t, client, url)
		if len(evs) == 0 {
			break
		}
		for _, ev := range evs {
			msg, err := fanout.ParseMessage([]byte(ev.Records[0].Body))
			if err != nil {
				t.Fatalf("the dispatcher sent a bad message: %v", err)
			}
			if msg.OrgRunID != orgRunID {
				t.Fatalf("message of run %s, want %s", msg.OrgRunID, orgRunID)
			}
			handled[msg.AccountID] = append(handled[msg.AccountID], ev.Records[0].Attributes["ApproximateReceiveCount"])
			resp, err := lambda.Worker{Worker: &w}.HandleSQS(ctx, ev)
			if err != nil {
				t.Fatalf("worker: %v", err)
			}
			settle(t, client, url, ev, resp)
		}
	}
	o.emu.ClearFaults(t)

	wantHandled := map[string][]string{m[0].id: {"1"}, m[1].id: {"1"}, broken.id: {"1", "2", "3"}}
	if diff := cmp.Diff(wantHandled, handled); diff != "" {
		t.Errorf("deliveries by account (-want +got):\n%s", diff)
	}
	// Retried after 1 and 4 minutes; the third failure goes on at once.
	if diff := cmp.Diff([]time.Duration{time.Minute, 4 * time.Minute}, delays); diff != "" {
		t.Errorf("retry delays (-want +got):\n%s", diff)
	}
	dead := queueBodies(t, client, dlqURL)
	if want := []string{fanout.NewMessage(orgRunID, broken.id).Body()}; !cmp.Equal(want, dead) {
		t.Errorf("dead-letter queue = %q, want %q", dead, want)
	}
	run, err := o.journal.GetOrgRun(ctx, orgRunID)
	if err != nil {
		t.Fatal(err)
	}
	if got := [3]int{run.AccountsDone, run.AccountsFailed, run.Counts["deactivated"]}; got != [3]int{2, 1, 2} || run.Outcome != domain.RunWithFailures {
		t.Errorf("done, failed, deactivated = %v, outcome %s; want [2 1 2], %s", got, run.Outcome, domain.RunWithFailures)
	}
	ar, err := o.journal.GetRun(ctx, fanout.AccountRunID(orgRunID, broken.id))
	if err != nil || ar.Outcome != domain.RunFailed || !strings.Contains(strings.Join(ar.Errors, ";"), "not swept on delivery 3 of 3") {
		t.Fatalf("failed account run = %+v, %v", ar, err)
	}
	if got := o.keyStatus(t, broken, "bob", broken.stale); got != "Active" {
		t.Errorf("the broken account's stale key is %s", got)
	}

	// The role is fixed; an operator redrives the dead-letter queue.
	if _, err := client.SendMessage(ctx, &sqs.SendMessageInput{QueueUrl: aws.String(url), MessageBody: aws.String(dead[0])}); err != nil {
		t.Fatal(err)
	}
	for _, ev := range receive(t, client, url) {
		resp, err := lambda.Worker{Worker: &w}.HandleSQS(ctx, ev)
		if err != nil || len(resp.BatchItemFailures) != 0 {
			t.Fatalf("redriven message: %v, failures %v", err, resp.BatchItemFailures)
		}
		settle(t, client, url, ev, resp)
	}
	run, err = o.journal.GetOrgRun(ctx, orgRunID)
	if err != nil {
		t.Fatal(err)
	}
	if got := [3]int{run.AccountsDone, run.AccountsFailed, run.Counts["deactivated"]}; got != [3]int{3, 0, 3} || run.Outcome != domain.RunCompleted {
		t.Errorf("after the redrive: done, failed, deactivated = %v, outcome %s; want [3 0 3], %s", got, run.Outcome, domain.RunCompleted)
	}
	if got := o.keyStatus(t, broken, "bob", broken.stale); got != "Inactive" {
		t.Errorf("after the redrive the stale key is %s, want Inactive", got)
	}
}

// A message delivered twice does not act twice: the second delivery finds
// the account's run by its event id, changes no key and counts nothing.
func TestMessageDeliveredTwice(t *testing.T) {
	o := newTestOrg(t, 2, nil)
	ctx := t.Context()
	m := o.members
	// Deleting at once makes a second action visible: a deactivation
	// would be followed by a deletion.
	p := testPolicy(&policy.OrgSelection{Accounts: ids(m...)})
	p.DeleteAfterDays = 0
	o.putPolicy(t, p)
	client, url, _ := o.queues(t)
	d := o.dispatcher(&fanout.SQSQueue{API: client, URL: url})
	w := o.worker()
	dres, err := d.Dispatch(ctx, fanout.DispatchRequest{Trigger: domain.Trigger{Kind: "schedule", EventID: "schedule:e2"}})
	if err != nil {
		t.Fatal(err)
	}
	evs := receive(t, client, url)
	if len(evs) != 2 {
		t.Fatalf("%d messages on the queue, want 2", len(evs))
	}
	ev := evs[0]
	msg, _ := fanout.ParseMessage([]byte(ev.Records[0].Body))
	mb := m[0]
	if msg.AccountID != mb.id {
		mb = m[1]
	}

	resp, err := lambda.Worker{Worker: &w}.HandleSQS(ctx, ev)
	if err != nil || len(resp.BatchItemFailures) != 0 {
		t.Fatalf("first delivery: %v, failures %v", err, resp.BatchItemFailures)
	}
	after1 := o.emu.Calls(t)
	run1, _ := o.journal.GetOrgRun(ctx, dres.Run.RunID)
	recs1, _ := o.journal.ByKey(ctx, mb.stale)

	// The same message again: SQS delivers at least once.
	resp, err = lambda.Worker{Worker: &w}.HandleSQS(ctx, ev)
	if err != nil || len(resp.BatchItemFailures) != 0 {
		t.Fatalf("second delivery: %v, failures %v", err, resp.BatchItemFailures)
	}
	after2 := o.emu.Calls(t)
	for _, op := range []string{"IAM.UpdateAccessKey", "IAM.DeleteAccessKey", "IAM.ListAccessKeys", "IAM.GetCredentialReport"} {
		if after2[op] != after1[op] {
			t.Errorf("the second delivery called %s (%d → %d)", op, after1[op], after2[op])
		}
	}
	run2, _ := o.journal.GetOrgRun(ctx, dres.Run.RunID)
	if diff := cmp.Diff(run1, run2); diff != "" {
		t.Errorf("the second delivery changed the organization run (-first +second):\n%s", diff)
	}
	recs2, _ := o.journal.ByKey(ctx, mb.stale)
	if diff := cmp.Diff(recs1, recs2); diff != "" {
		t.Errorf("the second delivery wrote records (-first +second):\n%s", diff)
	}
	if run2.AccountsDone != 1 || run2.Counts["deleted"] != 1 {
		t.Errorf("done %d, deleted %d: want 1, 1", run2.AccountsDone, run2.Counts["deleted"])
	}
	if got := o.keyStatus(t, mb, "bob", mb.stale); got != "gone" {
		t.Errorf("the stale key is %s, want gone (deleted once)", got)
	}
	// Through Sweep, the second delivery says what it found.
	if sw := w.Sweep(ctx, msg, 2); !sw.Duplicate || sw.Retry || sw.Recorded == nil || sw.Recorded.Status != domain.AccountDone {
		t.Errorf("Sweep of a redelivered message = %+v", sw)
	}
}

// The fixture is what `sam local generate-event sqs receive-message` gives:
// a real event whose body is not an account message. It is refused as a
// batch item failure (on to the dead-letter queue), never swept.
func TestWorkerRefusesForeignMessage(t *testing.T) {
	raw, err := os.ReadFile("testdata/sqs-receive-message.json")
	if err != nil {
		t.Fatal(err)
	}
	var ev events.SQSEvent
	if err := json.Unmarshal(raw, &ev); err != nil {
		t.Fatal(err)
	}
	w := &fanout.Worker{Journal: mem.New(), Policies: mem.New(), Accounts: failingOpener{}, Logger: quietLogger()}
	resp, err := lambda.Worker{Worker: w}.HandleSQS(t.Context(), ev)
	if err != nil {
		t.Fatal(err)
	}
	want := events.SQSEventResponse{BatchItemFailures: []events.SQSBatchItemFailure{{ItemIdentifier: "19dd0b57-b21e-4ac1-bd88-01bbb068cb78"}}}
	if diff := cmp.Diff(want, resp); diff != "" {
		t.Errorf("response (-want +got):\n%s", diff)
	}
}
