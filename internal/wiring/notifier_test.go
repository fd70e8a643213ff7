package wiring

import (
	"context"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/google/go-cmp/cmp"

	"github.com/keysweep/keysweep/internal/engine"
)

// The notice channels come from the environment, checked: a sender that
// is not an address or a topic that is not an SNS ARN stops the function
// at its start, rather than failing every notice later.
func TestNoticeConfigFromEnv(t *testing.T) {
	for _, tc := range []struct {
		name               string
		sender, topic, hub string
		want               NoticeConfig
		err                string
	}{
		{name: "none"},
		{name: "all", sender: "keysweep@example.com", topic: "arn:aws:sns:us-east-1:111122223333:team", hub: "true",
			want: NoticeConfig{Sender: "keysweep@example.com", TopicARN: "arn:aws:sns:us-east-1:111122223333:team", SecurityHub: true, Workflow: true}},
		{name: "hub off", hub: "false"},
		{name: "bad sender", sender: "Keysweep <keysweep@example.com>", err: EnvNoticeSender},
		{name: "bad topic", topic: "team", err: EnvNoticeTopic},
		{name: "not sns", topic: "arn:aws:sqs:us-east-1:111122223333:team", err: EnvNoticeTopic},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Setenv(EnvNoticeSender, tc.sender)
			t.Setenv(EnvNoticeTopic, tc.topic)
			t.Setenv(EnvSecurityHub, tc.hub)
			got, err := NoticeConfigFromEnv()
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("err = %v, want one naming %s", err, tc.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("config (-want +got):\n%s", diff)
			}
		})
	}
}

// No channel, no notifier: the engine tells no one. Each channel set is
// one the engine sees.
func TestNewNotifierChannels(t *testing.T) {
	cfg := aws.Config{Region: "eu-central-1"}
	if n := NewNotifier(cfg, NoticeConfig{}, nil); n != nil {
		t.Fatalf("NewNotifier with no channel = %v, want nil", n)
	}
	n := NewNotifier(cfg, NoticeConfig{Sender: "keysweep@example.com", TopicARN: "arn:aws:sns:eu-central-1:111122223333:t", SecurityHub: true},
		func(context.Context) (string, error) { return "111122223333", nil })
	want := engine.Channels{Email: true, Topic: "arn:aws:sns:eu-central-1:111122223333:t", Findings: true}
	if diff := cmp.Diff(want, n.Channels()); diff != "" {
		t.Errorf("channels (-want +got):\n%s", diff)
	}
	if got := n.Findings(t.Context(), nil); len(got) != 0 {
		t.Errorf("no findings: %v", got)
	}
	for region, want := range map[string]string{"us-east-1": "aws", "cn-north-1": "aws-cn", "us-gov-west-1": "aws-us-gov"} {
		if got := partitionOf(region); got != want {
			t.Errorf("partitionOf(%s) = %s, want %s", region, got, want)
		}
	}
}
