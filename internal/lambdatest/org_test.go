package lambdatest_test

import (
	"context"
	"crypto/md5"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials/stscreds"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	"github.com/aws/aws-sdk-go-v2/service/organizations"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	sqstypes "github.com/aws/aws-sdk-go-v2/service/sqs/types"
	"github.com/aws/aws-sdk-go-v2/service/sts"
	"github.com/google/go-cmp/cmp"

	"github.com/keysweep/keysweep/internal/lambdatest"
)

// orgParams deploy the organization mode: the dispatcher, the account
// queue and the worker exist only then.
var orgParams = map[string]string{"OrganizationMode": "true", "ExternalId": "ext-rie-7f3a"}

// dispatched is what the tests read of the dispatcher's answer.
type dispatched struct {
	Run struct {
		RunID           string   `json:"runId"`
		Accounts        []string `json:"accounts"`
		AccountsPlanned int      `json:"accountsPlanned"`
	} `json:"run"`
	Sent int `json:"sent"`
}

// batchResponse is the worker's answer: the messages to deliver again.
type batchResponse struct {
	Failures []struct {
		ItemIdentifier string `json:"itemIdentifier"`
	} `json:"batchItemFailures"`
}

// accountMessage is the body of one account queue message.
type accountMessage struct {
	OrgRunID  string `json:"orgRunId"`
	AccountID string `json:"accountId"`
}

// memberIAM creates a member account in the organization and returns an
// IAM client acting in it through the member role, as the worker does.
func (e *env) memberIAM(name string) (string, *iam.Client) {
	e.t.Helper()
	ctx := context.Background()
	out, err := organizations.NewFromConfig(e.cfg).CreateAccount(ctx, &organizations.CreateAccountInput{
		AccountName: aws.String(name), Email: aws.String(name + "@example.com"),
	})
	if err != nil {
		e.t.Fatalf("create account: %v", err)
	}
	account := aws.ToString(out.CreateAccountStatus.AccountId)
	role := fmt.Sprintf("arn:aws:iam::%s:role/%s", account, e.ref("MemberRoleName"))
	cfg := e.cfg.Copy()
	cfg.Credentials = aws.NewCredentialsCache(stscreds.NewAssumeRoleProvider(sts.NewFromConfig(e.cfg), role, func(o *stscreds.AssumeRoleOptions) {
		o.ExternalID = aws.String(orgParams["ExternalId"])
	}))
	return account, iam.NewFromConfig(cfg)
}

// TestDispatcherAndWorker: the deployed dispatcher, on the scheduled
// event, plans an organization run and queues one message per account;
// the deployed worker, given the SQS event Lambda makes of the member's
// message, sweeps that account through the member role and records it in
// the central audit table under the account's run.
func TestDispatcherAndWorker(t *testing.T) {
	e := newEnv(t, orgParams)
	ctx := context.Background()
	if _, err := organizations.NewFromConfig(e.cfg).CreateOrganization(ctx, &organizations.CreateOrganizationInput{}); err != nil {
		t.Fatalf("create organization: %v", err)
	}
	member, memberIAM := e.memberIAM("member-1")
	stale := e.userWithKey(memberIAM, member, "bob", 400, 200)
	fresh := e.userWithKey(memberIAM, member, "alice", 30, 1)
	e.putPolicy(enforcePolicy)

	dispatcher := lambdatest.Run(t, e.stack, "DispatcherFunction")
	d := answer[dispatched](t, invoke(t, dispatcher, event(t, "schedule.json")))
	if d.Run.RunID == "" || d.Run.AccountsPlanned != 2 || d.Sent != 2 {
		t.Fatalf("dispatched run %q: %d accounts planned, %d messages sent; want 2 and 2 (management and member)", d.Run.RunID, d.Run.AccountsPlanned, d.Sent)
	}

	msg := e.receiveFor(member)
	worker := lambdatest.Run(t, e.stack, "WorkerFunction")
	batch := answer[batchResponse](t, invoke(t, worker, e.sqsEvent(msg)))
	if len(batch.Failures) != 0 {
		t.Fatalf("worker failed messages %v; want none", batch.Failures)
	}

	got := map[string]string{stale: e.keyStatus(memberIAM, "bob", stale), fresh: e.keyStatus(memberIAM, "alice", fresh)}
	if diff := cmp.Diff(map[string]string{stale: "Inactive", fresh: "Active"}, got); diff != "" {
		t.Errorf("member account's keys after the worker (-want +got):\n%s", diff)
	}
	accountRun := d.Run.RunID + "-" + member
	var steps []string
	for _, r := range e.records(stale) {
		steps = append(steps, fmt.Sprintf("%s:%s:%s %s %s", r.Kind, r.Action, r.Result, r.Account, r.RunID))
	}
	want := []string{
		fmt.Sprintf("intent:deactivate: %s %s", member, accountRun),
		fmt.Sprintf("outcome:deactivate:done %s %s", member, accountRun),
	}
	if diff := cmp.Diff(want, steps); diff != "" {
		t.Errorf("central audit records of the member's key (-want +got):\n%s", diff)
	}
	if got := e.runRecord(accountRun)["outcome"]; got != "completed" {
		t.Errorf("account run %s outcome %v, want completed", accountRun, got)
	}
}

// receiveFor takes the account queue's message for account off the queue.
func (e *env) receiveFor(account string) sqstypes.Message {
	e.t.Helper()
	q := sqs.NewFromConfig(e.cfg)
	out, err := q.ReceiveMessage(context.Background(), &sqs.ReceiveMessageInput{
		QueueUrl:                    aws.String(e.ref("AccountQueue")),
		MaxNumberOfMessages:         10,
		MessageSystemAttributeNames: []sqstypes.MessageSystemAttributeName{sqstypes.MessageSystemAttributeNameAll},
	})
	if err != nil {
		e.t.Fatalf("receive from the account queue: %v", err)
	}
	for _, m := range out.Messages {
		var body accountMessage
		if err := json.Unmarshal([]byte(aws.ToString(m.Body)), &body); err != nil {
			e.t.Fatalf("message %s: %v", aws.ToString(m.Body), err)
		}
		if body.AccountID == account {
			return m
		}
	}
	e.t.Fatalf("no message for %s among %d on the account queue", account, len(out.Messages))
	return sqstypes.Message{}
}

// sqsEvent is events/sqs-account-message.json (made by `sam local
// generate-event sqs receive-message`) carrying msg as Lambda's SQS event
// source would: its id, receipt handle, body, digest and attributes, and
// the queue's ARN.
func (e *env) sqsEvent(msg sqstypes.Message) []byte {
	e.t.Helper()
	var ev map[string][]map[string]any
	if err := json.Unmarshal(event(e.t, "sqs-account-message.json"), &ev); err != nil {
		e.t.Fatal(err)
	}
	arn, err := e.stack.GetAtt(context.Background(), "AccountQueue", "Arn")
	if err != nil {
		e.t.Fatal(err)
	}
	body := aws.ToString(msg.Body)
	sum := md5.Sum([]byte(body))
	rec := ev["Records"][0]
	rec["messageId"], rec["receiptHandle"], rec["body"] = aws.ToString(msg.MessageId), aws.ToString(msg.ReceiptHandle), body
	rec["md5OfBody"], rec["eventSourceARN"] = hex.EncodeToString(sum[:]), arn
	attrs := map[string]any{}
	for k, v := range msg.Attributes {
		attrs[k] = v
	}
	rec["attributes"] = attrs
	raw, err := json.Marshal(ev)
	if err != nil {
		e.t.Fatal(err)
	}
	return raw
}
