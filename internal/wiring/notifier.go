package wiring

import (
	"context"
	"fmt"
	"os"
	"strings"
	"sync"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/securityhub"
	"github.com/aws/aws-sdk-go-v2/service/sesv2"
	"github.com/aws/aws-sdk-go-v2/service/sns"

	"github.com/keysweep/keysweep/internal/engine"
	"github.com/keysweep/keysweep/internal/notify"
	"github.com/keysweep/keysweep/policy"
)

// Environment variables of the notice channels (template parameters
// NoticeSender, NoticeTopicArn/the stack's topic, SecurityHubFindings).
const (
	EnvNoticeSender = "KEYSWEEP_NOTICE_SENDER"
	EnvNoticeTopic  = "KEYSWEEP_NOTICE_TOPIC_ARN"
	EnvSecurityHub  = "KEYSWEEP_SECURITY_HUB"
)

// NoticeConfig is the deployment's notice channels. None set: keysweep
// tells no one, whatever the policy asks.
type NoticeConfig struct {
	// Sender is the address e-mail comes from, an SES verified identity
	// (the policy's notify.sender may name another); "" sends no e-mail.
	Sender string
	// TopicARN is the team topic; "" publishes nothing.
	TopicARN string
	// SecurityHub keeps a finding per stale key in Security Hub.
	SecurityHub bool
	// Workflow also marks resolved findings RESOLVED with
	// BatchUpdateFindings (which Security Hub needs: an import cannot
	// change a finding's workflow). On with SecurityHub in a deployment.
	Workflow bool
}

// NoticeConfigFromEnv reads the notice channels; a sender that is not an
// address or a topic that is not an SNS ARN is a configuration error.
func NoticeConfigFromEnv() (NoticeConfig, error) {
	c := NoticeConfig{
		Sender:      strings.TrimSpace(os.Getenv(EnvNoticeSender)),
		TopicARN:    strings.TrimSpace(os.Getenv(EnvNoticeTopic)),
		SecurityHub: os.Getenv(EnvSecurityHub) == "true",
	}
	c.Workflow = c.SecurityHub
	if c.Sender != "" {
		if err := policy.CheckEmail(c.Sender); err != nil {
			return c, fmt.Errorf("%s: %w", EnvNoticeSender, err)
		}
	}
	if c.TopicARN != "" && (!strings.HasPrefix(c.TopicARN, "arn:") || !strings.Contains(c.TopicARN, ":sns:")) {
		return c, fmt.Errorf("%s: an SNS topic ARN, got %q", EnvNoticeTopic, c.TopicARN)
	}
	return c, nil
}

// Notifier is the engine's Notifier on Amazon SES v2 (owner e-mail), SNS
// (the team topic) and Security Hub (findings), through package notify.
type Notifier struct {
	ses      notify.SESAPI
	sender   string
	team     *notify.Team
	findings *notify.Findings
	// account gives the importing account of findings once.
	account func(context.Context) (string, error)
	once    sync.Mutex
}

var _ engine.Notifier = (*Notifier)(nil)

// NewNotifier builds the channels c turns on from cfg; nil when it turns
// none on. account tells the account findings are imported in (the
// deployment's own).
func NewNotifier(cfg aws.Config, c NoticeConfig, account func(context.Context) (string, error)) engine.Notifier {
	if c.Sender == "" && c.TopicARN == "" && !c.SecurityHub {
		return nil
	}
	n := &Notifier{sender: c.Sender, account: account}
	if c.Sender != "" {
		n.ses = sesv2.NewFromConfig(cfg)
	}
	if c.TopicARN != "" {
		n.team = &notify.Team{API: sns.NewFromConfig(cfg), TopicARN: c.TopicARN}
	}
	if c.SecurityHub {
		hub := securityhub.NewFromConfig(cfg)
		n.findings = &notify.Findings{API: hub, Region: cfg.Region, Partition: partitionOf(cfg.Region)}
		if c.Workflow {
			n.findings.Workflow = hub
		}
	}
	return n
}

// partitionOf is the AWS partition of a region.
func partitionOf(region string) string {
	switch {
	case strings.HasPrefix(region, "cn-"):
		return "aws-cn"
	case strings.HasPrefix(region, "us-gov-"):
		return "aws-us-gov"
	case strings.HasPrefix(region, "us-iso-"):
		return "aws-iso"
	case strings.HasPrefix(region, "us-isob-"):
		return "aws-iso-b"
	}
	return "aws"
}

// Channels says which channels are configured.
func (n *Notifier) Channels() engine.Channels {
	ch := engine.Channels{Email: n.sender != "", Findings: n.findings != nil}
	if n.team != nil {
		ch.Topic = n.team.TopicARN
	}
	return ch
}

// Email sends the notice through SES, from the policy's sender or the
// deployment's.
func (n *Notifier) Email(ctx context.Context, to string, in engine.Notice) (string, error) {
	from := notify.Sender(&policy.Notify{Sender: in.Sender}, n.sender)
	e := &notify.Email{API: n.ses, From: from}
	if e.API == nil {
		return "", &notify.SendError{Channel: notify.ChannelEmail, Reason: notify.ErrNotConfigured,
			Err: fmt.Errorf("the deployment has no sender (%s), so e-mail is off", EnvNoticeSender)}
	}
	return e.Send(ctx, to, notify.Compose(notify.Kind(in.Kind), in))
}

// Team publishes the notice to the team topic.
func (n *Notifier) Team(ctx context.Context, in engine.Notice) (string, error) {
	if n.team == nil {
		return "", &notify.SendError{Channel: notify.ChannelTeam, Reason: notify.ErrNotConfigured, Err: fmt.Errorf("no topic (%s)", EnvNoticeTopic)}
	}
	return n.team.Publish(ctx, notify.Compose(notify.Kind(in.Kind), in))
}

// Findings imports the findings into Security Hub.
func (n *Notifier) Findings(ctx context.Context, fs []engine.Finding) []engine.FindingFailure {
	if len(fs) == 0 {
		return nil
	}
	if n.findings == nil {
		return failAll(fs, &notify.SendError{Channel: notify.ChannelFindings, Reason: notify.ErrNotConfigured, Err: fmt.Errorf("%s is not true", EnvSecurityHub)})
	}
	n.once.Lock()
	if n.findings.Account == "" && n.account != nil {
		acct, err := n.account(ctx)
		if err != nil {
			n.once.Unlock()
			return failAll(fs, &notify.SendError{Channel: notify.ChannelFindings, Reason: notify.ErrFailed, Err: fmt.Errorf("the account to import findings in: %w", err)})
		}
		n.findings.Account = acct
	}
	n.once.Unlock()
	rep := n.findings.Import(ctx, fs)
	out := make([]engine.FindingFailure, 0, len(rep.Failed))
	for _, f := range rep.Failed {
		out = append(out, engine.FindingFailure{KeyID: f.KeyID, Err: f.Err})
	}
	return out
}

func failAll(fs []engine.Finding, err error) []engine.FindingFailure {
	out := make([]engine.FindingFailure, len(fs))
	for i, f := range fs {
		out[i] = engine.FindingFailure{KeyID: f.KeyID, Err: err}
	}
	return out
}
