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
	"github.com/google/go-cmp/cmp"

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
	MessageAttributes map[string]struct{ Type, Value string }
}

// team reads the subscriber's queue: each message as its attributes
// "kind account provider user".
func (n *noticeEnv) team() []string {
	n.t.Helper()
	var out []string
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
			a := tm.MessageAttributes
			out = append(out, strings.TrimSpace(strings.Join([]string{a["kind"].Value, a["account"].Value, a["provider"].Value, a["user"].Value}, " ")))
			if _, err := n.sqs.DeleteMessage(n.ctx(), &sqs.DeleteMessageInput{QueueUrl: aws.String(n.queue), ReceiptHandle: m.ReceiptHandle}); err != nil {
				n.t.Fatal(err)
			}
		}
	}
	sort.Strings(out)
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

// A key 3 days from stale: one warning e-mail over three daily runs and
// two duplicate deliveries; its deactivation and its deletion each one
// e-mail; the team's subscriber gets every run summary and action with
// their attributes; Security Hub shows the finding FAILED, then RESOLVED
// and ARCHIVED once the key is deleted.
func TestNoticesThroughTheHandler(t *testing.T) {
	n := newNoticeEnv(t)
	n.user("alice", "/", map[string]string{"owner-email": "alice@example.com"})
	id := n.key("alice", 88, 1)
	n.user("bob", "/", nil)
	n.key("bob", 10, 1)
	n.putPolicy(noticePolicy)

	before := n.emu.Calls(t)
	for day := range 3 {
		n.at(day)
		ev := n.scheduled()
		n.sweep(ev)
		if day < 2 {
			if sum := n.sweep(ev); !sum.Duplicate { // a duplicate delivery
				t.Fatalf("day %d: the second delivery was not a duplicate", day)
			}
		}
		if day == 0 {
			logCalls(t, "first run with a warning", before, n.emu.Calls(t))
		}
	}
	warning := "alice@example.com: keysweep: access key " + id + " of alice becomes stale on " + n.now.Add(3*24*time.Hour).UTC().Format(time.DateOnly) + " (in 3 days)"
	if diff := cmp.Diff([]string{warning}, n.mails()); diff != "" {
		t.Fatalf("mail after three days (-want +got):\n%s", diff)
	}
	if got := n.finding(id); got != "FAILED NEW ACTIVE" {
		t.Errorf("finding while soon stale: %s", got)
	}
	summaries := []string{"run-summary 123456789012 aws", "run-summary 123456789012 aws", "run-summary 123456789012 aws"}
	if diff := cmp.Diff(summaries, n.team()); diff != "" {
		t.Errorf("team messages (-want +got):\n%s", diff)
	}

	n.at(3) // stale: deactivated
	before = n.emu.Calls(t)
	n.sweep(n.scheduled())
	logCalls(t, "run with a deactivation", before, n.emu.Calls(t))
	if n.state()[id] != "Inactive" {
		t.Fatalf("not deactivated: %v", n.state())
	}
	n.at(11) // 7 days after: deleted
	sum := n.sweep(n.scheduled())
	if _, ok := n.state()[id]; ok || sum.Counts[domain.CountDeleted] != 1 {
		t.Fatalf("not deleted: %v %v", n.state(), sum.Counts)
	}
	n.sweep(n.scheduled())
	var subjects []string
	for _, m := range n.mails() {
		subjects = append(subjects, m[strings.Index(m, ": ")+2:])
	}
	for _, want := range []string{"becomes stale on", "was deactivated; it will be deleted on", "was deleted"} {
		count := 0
		for _, s := range subjects {
			if strings.Contains(s, want) {
				count++
			}
		}
		if count != 1 {
			t.Errorf("%d e-mails %q, want 1: %v", count, want, subjects)
		}
	}
	if len(subjects) != 3 {
		t.Errorf("e-mails %v, want 3", subjects)
	}
	team := n.team()
	want := []string{"deactivated 123456789012 aws alice", "deleted 123456789012 aws alice",
		"run-summary 123456789012 aws", "run-summary 123456789012 aws", "run-summary 123456789012 aws"}
	if diff := cmp.Diff(want, team); diff != "" {
		t.Errorf("team messages (-want +got):\n%s", diff)
	}
	if got := n.finding(id); got != "PASSED RESOLVED ARCHIVED" {
		t.Errorf("finding after deletion: %s", got)
	}
	wantLog := []string{"warning email sending", "warning email sent", "deactivated email sending", "deactivated email sent",
		"deactivated sns sending", "deactivated sns sent", "deleted email sending", "deleted email sent", "deleted sns sending", "deleted sns sent"}
	if diff := cmp.Diff(wantLog, n.notices(id)); diff != "" {
		t.Errorf("notice records (-want +got):\n%s", diff)
	}
	if strings.Contains(n.metrics.String(), `"NoticesFailed":1`) {
		t.Errorf("a notice failed: %s", n.metrics.String())
	}
}

// logCalls records what a run cost in emulator calls.
func logCalls(t *testing.T, what string, before, after map[string]int) {
	t.Helper()
	var parts []string
	for op, c := range after {
		if d := c - before[op]; d > 0 {
			parts = append(parts, fmt.Sprintf("%s %d", op, d))
		}
	}
	sort.Strings(parts)
	t.Logf("%s: %s", what, strings.Join(parts, ", "))
}

// Bad input never blocks or triggers an action: the key is deactivated,
// the failure is on the notice record, counted on the run and in the
// NoticesFailed metric.
func TestBadNoticeInputOnTheEmulator(t *testing.T) {
	for _, tc := range []struct {
		name  string
		tag   string
		setup func(*noticeEnv)
		want  []string
	}{
		{name: "owner tag not an address", tag: "alice at example",
			want: []string{"deactivated email failed", "deactivated sns sending", "deactivated sns sent"}},
		{name: "unverified sender", tag: "alice@example.com",
			setup: func(n *noticeEnv) { n.cfg.Sender = "keysweep@unverified.example.net" },
			want:  []string{"deactivated email sending", "deactivated email failed", "deactivated sns sending", "deactivated sns sent"}},
		{name: "missing topic", tag: "alice@example.com",
			setup: func(n *noticeEnv) { n.cfg.TopicARN = "arn:aws:sns:us-east-1:123456789012:no-such-topic" },
			want:  []string{"deactivated email sending", "deactivated email sent", "deactivated sns sending", "deactivated sns failed"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			n := newNoticeEnv(t)
			if tc.setup != nil {
				tc.setup(n)
				n.rewire()
			}
			n.user("alice", "/", map[string]string{"owner-email": tc.tag})
			id := n.key("alice", 400, 1)
			n.putPolicy(noticePolicy)
			sum := n.sweep(n.scheduled())
			if n.state()[id] != "Inactive" || sum.Outcome != domain.RunCompleted {
				t.Fatalf("key %s, outcome %s, errors %v", n.state()[id], sum.Outcome, sum.Errors)
			}
			if diff := cmp.Diff(tc.want, n.notices(id)); diff != "" {
				t.Errorf("notice records (-want +got):\n%s", diff)
			}
			failed := sum.Counts[domain.CountNoticesFailed]
			if failed < 1 || sum.Counts[domain.CountErrors] != 0 {
				t.Errorf("counts %v: want the failure counted, and no error", sum.Counts)
			}
			if !strings.Contains(n.metrics.String(), fmt.Sprintf(`"NoticesFailed":%d`, failed)) ||
				!strings.Contains(n.metrics.String(), `"Dimensions":[[],["Function"]]`) {
				t.Errorf("metrics %s, want NoticesFailed %d", n.metrics.String(), failed)
			}
			recs, _ := n.deps.Journal.ByKey(n.ctx(), id)
			for _, r := range recs {
				if r.Notice != nil && r.Notice.Status == domain.NoticeFailed && r.Notice.Error == "" {
					t.Errorf("failed notice without its error: %+v", r.Notice)
				}
			}
		})
	}
}

// Two runs at once (two events, two handlers) send each notice once.
func TestTwoRunsAtOnceSendEachNoticeOnce(t *testing.T) {
	n := newNoticeEnv(t)
	var ids []string
	for i := range 4 {
		name := fmt.Sprintf("user%d", i)
		n.user(name, "/", map[string]string{"owner-email": name + "@example.com"})
		ids = append(ids, n.key(name, 400, 1), n.key(name, 88, 1))
	}
	n.putPolicy(noticePolicy)
	var wg sync.WaitGroup
	for range 2 {
		ev := n.scheduled()
		wg.Go(func() { n.sweep(ev) })
	}
	wg.Wait()
	mails := n.mails()
	seen := map[string]int{}
	for _, m := range mails {
		seen[m]++
	}
	for m, c := range seen {
		if c != 1 {
			t.Errorf("%d times: %s", c, m)
		}
	}
	if len(mails) != 8 { // a deactivation and a warning for each user
		t.Errorf("%d e-mails, want 8: %v", len(mails), mails)
	}
	actions := 0
	for _, m := range n.team() {
		if strings.HasPrefix(m, "deactivated ") {
			actions++
		}
	}
	if actions != 4 {
		t.Errorf("%d team messages of deactivations, want 4", actions)
	}
}
