package notify

import (
	"context"
	"encoding/json"
	"errors"
	"sort"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sns"
	snstypes "github.com/aws/aws-sdk-go-v2/service/sns/types"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	sqstypes "github.com/aws/aws-sdk-go-v2/service/sqs/types"
	"github.com/google/go-cmp/cmp"
)

var _ SNSAPI = (*sns.Client)(nil)

// envelope is what an SQS subscription receives from SNS (no raw delivery).
type envelope struct {
	Type              string
	Subject           string
	Message           string
	MessageId         string
	MessageAttributes map[string]struct{ Type, Value string }
}

// subscribeQueue creates a queue, subscribes it to topic with the filter
// policy (empty: none) and returns its URL.
func subscribeQueue(t *testing.T, sq *sqs.Client, sn *sns.Client, topic, name, filter string) string {
	t.Helper()
	ctx := t.Context()
	q, err := sq.CreateQueue(ctx, &sqs.CreateQueueInput{QueueName: aws.String(name)})
	if err != nil {
		t.Fatalf("CreateQueue: %v", err)
	}
	attrs, err := sq.GetQueueAttributes(ctx, &sqs.GetQueueAttributesInput{QueueUrl: q.QueueUrl, AttributeNames: []sqstypes.QueueAttributeName{sqstypes.QueueAttributeNameQueueArn}})
	if err != nil {
		t.Fatalf("GetQueueAttributes: %v", err)
	}
	in := &sns.SubscribeInput{TopicArn: aws.String(topic), Protocol: aws.String("sqs"), Endpoint: aws.String(attrs.Attributes["QueueArn"])}
	if filter != "" {
		in.Attributes = map[string]string{"FilterPolicy": filter, "FilterPolicyScope": "MessageAttributes"}
	}
	if _, err := sn.Subscribe(ctx, in); err != nil {
		t.Fatalf("Subscribe: %v", err)
	}
	return aws.ToString(q.QueueUrl)
}

// drain reads the queue until it has want messages and one more poll
// finds none (or a few polls in a row find none), sorted by subject.
func drain(t *testing.T, sq *sqs.Client, url string, want int) []envelope {
	t.Helper()
	var got []envelope
	for empty := 0; empty < 3; {
		out, err := sq.ReceiveMessage(t.Context(), &sqs.ReceiveMessageInput{QueueUrl: aws.String(url), MaxNumberOfMessages: 10, WaitTimeSeconds: 1})
		if err != nil {
			t.Fatalf("ReceiveMessage: %v", err)
		}
		if len(out.Messages) == 0 {
			if len(got) >= want {
				break
			}
			empty++
		}
		for _, m := range out.Messages {
			var e envelope
			if err := json.Unmarshal([]byte(aws.ToString(m.Body)), &e); err != nil {
				t.Fatalf("SNS envelope: %v: %s", err, aws.ToString(m.Body))
			}
			got = append(got, e)
		}
	}
	sort.Slice(got, func(i, j int) bool { return got[i].Subject < got[j].Subject })
	return got
}

func attrsOf(e envelope) map[string]string {
	m := map[string]string{}
	for k, v := range e.MessageAttributes {
		if v.Type != "String" {
			m[k] = v.Type + ":" + v.Value
			continue
		}
		m[k] = v.Value
	}
	return m
}

// teamOnMoto creates a topic with two SQS subscriptions: one takes every
// message, one has a filter policy on kind.
func teamOnMoto(t *testing.T) (sn *sns.Client, sq *sqs.Client, topic, all, actions string) {
	t.Helper()
	cfg := emulator(t).Config(t)
	sn, sq = sns.NewFromConfig(cfg), sqs.NewFromConfig(cfg)
	out, err := sn.CreateTopic(t.Context(), &sns.CreateTopicInput{Name: aws.String("keysweep-team")})
	if err != nil {
		t.Fatalf("CreateTopic: %v", err)
	}
	topic = aws.ToString(out.TopicArn)
	all = subscribeQueue(t, sq, sn, topic, "team-all", "")
	actions = subscribeQueue(t, sq, sn, topic, "team-actions", `{"kind": ["deactivated", "deleted"]}`)
	return sn, sq, topic, all, actions
}

// TestTeamOnMoto publishes a run summary and an action to moto's SNS and
// reads them from the SQS subscriptions.
func TestTeamOnMoto(t *testing.T) {
	sn, sq, topic, all, actions := teamOnMoto(t)
	summary := Compose(KindRunSummary, goldenCases()["run-summary"].facts)
	deact := Compose(KindDeactivated, awsFacts())
	team := &Team{API: sn, TopicARN: topic}
	ids := map[string]bool{}
	for _, m := range []Message{summary, deact} {
		id, err := team.Publish(t.Context(), m)
		if err != nil || id == "" {
			t.Fatalf("Publish %s = %q, %v", m.Kind, id, err)
		}
		ids[id] = true
	}

	got := drain(t, sq, all, 2)
	if len(got) != 2 {
		t.Fatalf("unfiltered queue got %d messages, want 2: %+v", len(got), got)
	}
	want := []map[string]string{
		{"kind": "deactivated", "account": "123456789012", "provider": "aws", "user": "alice"},
		{"kind": "run-summary", "account": "123456789012", "provider": "aws"},
	}
	for i, e := range got {
		if diff := cmp.Diff(want[i], attrsOf(e)); diff != "" {
			t.Errorf("message %d attributes (-want +got):\n%s", i, diff)
		}
		if !ids[e.MessageId] || e.Type != "Notification" {
			t.Errorf("message %d: id %s, type %s", i, e.MessageId, e.Type)
		}
	}
	if got[0].Message != deact.Text || got[0].Subject != snsSubject(deact.Subject) {
		t.Errorf("deactivated notice arrived as %q / %q", got[0].Subject, got[0].Message)
	}
	if got[1].Message != summary.Text {
		t.Errorf("run summary body differs from its text")
	}

	filtered := drain(t, sq, actions, 1)
	if len(filtered) != 1 || filtered[0].MessageAttributes["kind"].Value != "deactivated" {
		t.Errorf("filtered queue got %+v, want only the deactivated notice", filtered)
	}
}

func TestTeamChatbotOnMoto(t *testing.T) {
	sn, sq, topic, _, actions := teamOnMoto(t)
	deact := Compose(KindDeactivated, awsFacts())
	if _, err := (&Team{API: sn, TopicARN: topic, Chatbot: true}).Publish(t.Context(), deact); err != nil {
		t.Fatal(err)
	}
	got := drain(t, sq, actions, 1)
	if len(got) != 1 || got[0].MessageAttributes["user"].Value != "alice" {
		t.Fatalf("got %+v, want 1 message with the attributes", got)
	}
	var cn struct {
		Version, Source string
		Content         struct{ TextType, Title, Description string }
		Metadata        struct {
			EventType         string
			AdditionalContext map[string]string
		}
	}
	if err := json.Unmarshal([]byte(got[0].Message), &cn); err != nil {
		t.Fatalf("not a Chatbot custom notification: %v", err)
	}
	if cn.Version != "1.0" || cn.Source != "custom" || cn.Content.TextType != "client-markdown" ||
		cn.Content.Title != deact.Subject || !strings.HasPrefix(cn.Content.Description, "keysweep deactivated") ||
		cn.Metadata.EventType != "keysweep-deactivated" || cn.Metadata.AdditionalContext["keyId"] != "AKIAIOSFODNN7EXAMPLE" {
		t.Errorf("custom notification %+v", cn)
	}
}

func TestTeamMissingTopicOnMoto(t *testing.T) {
	sn, _, _, _, _ := teamOnMoto(t)
	summary := Compose(KindRunSummary, goldenCases()["run-summary"].facts)
	_, err := (&Team{API: sn, TopicARN: "arn:aws:sns:us-east-1:123456789012:gone"}).Publish(t.Context(), summary)
	var nf *snstypes.NotFoundException
	if !errors.Is(err, ErrChannelMissing) || !errors.As(err, &nf) {
		t.Errorf("Publish = %v, want ErrChannelMissing from NotFound", err)
	}
	if _, err := (&Team{API: sn}).Publish(t.Context(), summary); !errors.Is(err, ErrNotConfigured) {
		t.Errorf("Publish without a topic = %v, want ErrNotConfigured", err)
	}
}

type snsFake struct{ err error }

func (f snsFake) Publish(context.Context, *sns.PublishInput, ...func(*sns.Options)) (*sns.PublishOutput, error) {
	return nil, f.err
}

func TestTeamErrors(t *testing.T) {
	tests := []struct {
		err  error
		want string
	}{
		{&snstypes.NotFoundException{}, "channel-missing"},
		{&snstypes.AuthorizationErrorException{}, "access-denied"},
		{&snstypes.ThrottledException{}, "throttled"},
		{&snstypes.InvalidParameterException{}, "rejected"},
		{&snstypes.KMSDisabledException{}, "failed"},
	}
	for _, tc := range tests {
		_, err := (&Team{API: snsFake{tc.err}, TopicARN: "arn:aws:sns:us-east-1:123456789012:t"}).Publish(t.Context(), Message{Kind: KindRunSummary})
		if got := FailureCode(err); got != tc.want || !errors.Is(err, tc.err) {
			t.Errorf("%T: FailureCode = %q (%v), want %q", tc.err, got, err, tc.want)
		}
	}
}

func TestSNSSubject(t *testing.T) {
	long := strings.Repeat("x", 150)
	tests := map[string]string{
		"keysweep: key “ci” of bob": "keysweep: key ?ci? of bob",
		"a\nb\tc":                   "a b c",
		"":                          "keysweep",
		long:                        long[:96] + "...",
	}
	for in, want := range tests {
		if got := snsSubject(in); got != want || len(got) >= 100 {
			t.Errorf("snsSubject(%q) = %q, want %q", in, got, want)
		}
	}
}
