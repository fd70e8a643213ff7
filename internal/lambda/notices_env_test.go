package lambda_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/securityhub"
	"github.com/aws/aws-sdk-go-v2/service/sesv2"
	"github.com/aws/aws-sdk-go-v2/service/sns"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	sqstypes "github.com/aws/aws-sdk-go-v2/service/sqs/types"

	"github.com/keysweep/keysweep/internal/domain"
	"github.com/keysweep/keysweep/internal/engine"
	"github.com/keysweep/keysweep/internal/lambda"
	"github.com/keysweep/keysweep/internal/wiring"
)

const noticePolicy = `
version: n-1
mode: enforce
maxKeyAgeDays: 90
maxInactiveDays: 0
deleteAfterDays: 7
blastRadius: {maxActions: 100, maxPercent: 100}
notify:
  warnDays: [14, 3]
  ownerEmailTag: owner-email
`

const (
	sender  = "keysweep@example.com"
	account = "123456789012"
)

// noticeEnv is a scenario with every notice channel on the emulator: a
// verified SES sender, the team topic with an SQS subscriber, and
// Security Hub; the notifier is wiring's, as the functions build it.
type noticeEnv struct {
	*env
	cfg      wiring.NoticeConfig
	notifier engine.Notifier
	sqs      *sqs.Client
	hub      *securityhub.Client
	queue    string
	metrics  lockedBuffer
}

type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

func newNoticeEnv(t *testing.T) *noticeEnv {
	t.Helper()
	e := newEnv(t)
	cfg := e.emu.Config(t)
	ctx := t.Context()
	if _, err := sesv2.NewFromConfig(cfg).CreateEmailIdentity(ctx, &sesv2.CreateEmailIdentityInput{EmailIdentity: aws.String(sender)}); err != nil {
		t.Fatalf("CreateEmailIdentity: %v", err)
	}
	sn := sns.NewFromConfig(cfg)
	topic, err := sn.CreateTopic(ctx, &sns.CreateTopicInput{Name: aws.String("keysweep-notices")})
	if err != nil {
		t.Fatalf("CreateTopic: %v", err)
	}
	n := &noticeEnv{env: e, sqs: sqs.NewFromConfig(cfg), hub: securityhub.NewFromConfig(cfg)}
	q, err := n.sqs.CreateQueue(ctx, &sqs.CreateQueueInput{QueueName: aws.String("team")})
	if err != nil {
		t.Fatalf("CreateQueue: %v", err)
	}
	n.queue = aws.ToString(q.QueueUrl)
	attrs, err := n.sqs.GetQueueAttributes(ctx, &sqs.GetQueueAttributesInput{QueueUrl: q.QueueUrl, AttributeNames: []sqstypes.QueueAttributeName{sqstypes.QueueAttributeNameQueueArn}})
	if err != nil {
		t.Fatalf("GetQueueAttributes: %v", err)
	}
	if _, err := sn.Subscribe(ctx, &sns.SubscribeInput{TopicArn: topic.TopicArn, Protocol: aws.String("sqs"), Endpoint: aws.String(attrs.Attributes["QueueArn"])}); err != nil {
		t.Fatalf("Subscribe: %v", err)
	}
	if _, err := n.hub.EnableSecurityHub(ctx, &securityhub.EnableSecurityHubInput{}); err != nil {
		t.Fatalf("EnableSecurityHub: %v", err)
	}
	// moto has no BatchUpdateFindings (404), so the workflow update is
	// off here; docs/NOTIFY.md says how a deployment's differs.
	n.cfg = wiring.NoticeConfig{Sender: sender, TopicARN: aws.ToString(topic.TopicArn), SecurityHub: true}
	n.rewire()
	return n
}

// rewire builds the notifier from n.cfg, as wiring does from the
// environment.
func (n *noticeEnv) rewire() {
	n.notifier = wiring.NewNotifier(n.emu.Config(n.t), n.cfg, n.deps.Store.Account)
}

func (n *noticeEnv) handler() *lambda.Sweeper {
	clock := n.clock
	return &lambda.Sweeper{
		Targets: []engine.Target{{Name: domain.DefaultTarget, PolicyID: domain.DefaultPolicyID, Engine: &engine.Engine{
			Store: n.deps.Store, Journal: n.deps.Journal, Notifier: n.notifier, Now: func() time.Time { return clock }}}},
		Policies: n.deps.Journal,
		Metrics:  &n.metrics,
	}
}

func (n *noticeEnv) sweep(event []byte) *lambda.Summary {
	n.t.Helper()
	sum, err := n.handler().Handle(n.ctx(), event)
	if err != nil {
		n.t.Fatalf("sweep: %v", err)
	}
	return sum
}

// mail is a message moto's SES sent, as /moto-api/data.json shows it.
type mail struct {
	ID           string              `json:"id"`
	Source       string              `json:"source"`
	Subject      string              `json:"subject"`
	Destinations map[string][]string `json:"destinations"`
}

// mails reads what moto's SES sent, as "to: subject".
func (n *noticeEnv) mails() []string {
	n.t.Helper()
	resp, err := http.Get(n.emu.URL + "/moto-api/data.json")
	if err != nil {
		n.t.Fatalf("moto data: %v", err)
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	if err != nil {
		n.t.Fatal(err)
	}
	var data struct {
		SES struct {
			Message []mail `json:"Message"`
		} `json:"ses"`
	}
	if err := json.Unmarshal(raw, &data); err != nil {
		n.t.Fatalf("moto data: %v", err)
	}
	var out []string
	for _, m := range data.SES.Message {
		if m.Source != sender {
			n.t.Errorf("mail from %s", m.Source)
		}
		out = append(out, strings.Join(m.Destinations["ToAddresses"], ",")+": "+m.Subject)
	}
	sort.Strings(out)
	return out
}

// teamMessage is what the SQS subscriber gets from SNS.
type teamMessage struct {
	Subject           string
	Message           string
	MessageAttributes map[string]struct{ Type, Value string }
}

// team reads the subscriber's queue: each message as its attributes
// "kind account provider user".
func (n *noticeEnv) team() []string {
	n.t.Helper()
	var out []string
	for _, tm := range n.teamMessages() {
		a := tm.MessageAttributes
		out = append(out, strings.TrimSpace(strings.Join([]string{a["kind"].Value, a["account"].Value, a["provider"].Value, a["user"].Value}, " ")))
	}
	sort.Strings(out)
	return out
}

// teamMessages reads (and removes) every message on the subscriber's
// queue.
func (n *noticeEnv) teamMessages() []teamMessage {
	n.t.Helper()
	var out []teamMessage
	for empty := 0; empty < 2; {
		got, err := n.sqs.ReceiveMessage(n.ctx(), &sqs.ReceiveMessageInput{QueueUrl: aws.String(n.queue), MaxNumberOfMessages: 10, WaitTimeSeconds: 1})
		if err != nil {
			n.t.Fatalf("ReceiveMessage: %v", err)
		}
		if len(got.Messages) == 0 {
			empty++
		}
		for _, m := range got.Messages {
			var tm teamMessage
			if err := json.Unmarshal([]byte(aws.ToString(m.Body)), &tm); err != nil {
				n.t.Fatalf("SNS envelope: %v", err)
			}
			out = append(out, tm)
			if _, err := n.sqs.DeleteMessage(n.ctx(), &sqs.DeleteMessageInput{QueueUrl: aws.String(n.queue), ReceiptHandle: m.ReceiptHandle}); err != nil {
				n.t.Fatal(err)
			}
		}
	}
	return out
}

// finding reads a key's Security Hub finding: compliance, workflow and
// record state.
func (n *noticeEnv) finding(id string) string {
	n.t.Helper()
	out, err := n.hub.GetFindings(n.ctx(), &securityhub.GetFindingsInput{MaxResults: aws.Int32(100)})
	if err != nil {
		n.t.Fatalf("GetFindings: %v", err)
	}
	for _, f := range out.Findings {
		if aws.ToString(f.Id) == "keysweep/"+account+"/aws/"+id {
			return fmt.Sprintf("%s %s %s", f.Compliance.Status, f.Workflow.Status, f.RecordState)
		}
	}
	return "none"
}

// notices lists a key's notice records as "kind channel status".
func (n *noticeEnv) notices(id string) []string {
	n.t.Helper()
	recs, err := n.deps.Journal.ByKey(n.ctx(), id)
	if err != nil {
		n.t.Fatal(err)
	}
	var out []string
	for _, r := range recs {
		if nt := r.Notice; nt != nil {
			out = append(out, nt.Kind+" "+nt.Channel+" "+nt.Status)
		}
	}
	return out
}

func (n *noticeEnv) at(days int) { n.clock = n.now.Add(time.Duration(days) * 24 * time.Hour) }
