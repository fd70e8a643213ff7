package notify

import (
	"context"
	"encoding/json"
	"errors"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sns"
	"github.com/aws/aws-sdk-go-v2/service/sns/types"
)

// SNSAPI is the part of the SNS client Team uses; *sns.Client satisfies it.
type SNSAPI interface {
	Publish(ctx context.Context, params *sns.PublishInput, optFns ...func(*sns.Options)) (*sns.PublishOutput, error)
}

// Message attributes of every team message, for subscription filter
// policies, e.g. {"kind": ["deactivated", "deleted"]}. An attribute
// whose value would be empty (user, in a run summary) is left out.
const (
	AttrKind     = "kind"
	AttrAccount  = "account"
	AttrProvider = "provider"
	AttrUser     = "user"
)

// Team publishes notices and run summaries to the stack's SNS topic.
type Team struct {
	API      SNSAPI
	TopicARN string
	// Chatbot publishes AWS Chatbot's custom notification JSON instead of
	// the plain text, for a topic that AWS Chatbot (Amazon Q Developer in
	// chat applications) subscribes to: Chatbot ignores plain text. SNS
	// delivers message attributes only with a plain (string) message
	// structure, so one message cannot carry both a per-protocol body and
	// the attributes: a topic with e-mail and Chatbot subscribers needs
	// two Team channels on two topics.
	Chatbot bool
	Limits
}

// Publish sends m to the topic, with m's subject and the message
// attributes, and returns SNS's message id. The body is m's plain text (or,
// with Chatbot, the custom notification JSON). Errors are *SendError:
// ErrNotConfigured (no topic), ErrChannelMissing (the topic does not
// exist), ErrAccessDenied, ErrThrottled, ErrFailed.
func (t *Team) Publish(ctx context.Context, m Message) (messageID string, err error) {
	if t.TopicARN == "" {
		return "", &SendError{Channel: ChannelTeam, Reason: ErrNotConfigured, Err: errors.New("no topic")}
	}
	body := m.Text
	if t.Chatbot {
		body = chatbotMessage(m)
	}
	attrs := map[string]types.MessageAttributeValue{}
	for name, v := range map[string]string{
		AttrKind: string(m.Kind), AttrAccount: m.Account, AttrProvider: string(m.Provider), AttrUser: m.User,
	} {
		if v != "" {
			attrs[name] = types.MessageAttributeValue{DataType: aws.String("String"), StringValue: aws.String(v)}
		}
	}
	in := &sns.PublishInput{
		TopicArn:          aws.String(t.TopicARN),
		Message:           aws.String(body),
		Subject:           aws.String(snsSubject(m.Subject)),
		MessageAttributes: attrs,
	}
	ctx, cancel := t.context(ctx)
	defer cancel()
	out, err := t.API.Publish(ctx, in, func(o *sns.Options) { o.Retryer = t.retryer() })
	if err != nil {
		return "", classify(ChannelTeam, err, snsReason)
	}
	return aws.ToString(out.MessageId), nil
}

// chatbotMessage is m as a Chatbot custom notification.
func chatbotMessage(m Message) string {
	type content struct {
		TextType    string `json:"textType"`
		Title       string `json:"title"`
		Description string `json:"description"`
	}
	type metadata struct {
		Summary           string            `json:"summary"`
		EventType         string            `json:"eventType"`
		AdditionalContext map[string]string `json:"additionalContext,omitempty"`
	}
	ctx := map[string]string{"account": m.Account, "provider": string(m.Provider)}
	for k, v := range map[string]string{"user": m.User, "keyId": m.KeyID, "runId": m.RunID} {
		if v != "" {
			ctx[k] = v
		}
	}
	b, _ := json.Marshal(struct {
		Version  string   `json:"version"`
		Source   string   `json:"source"`
		Content  content  `json:"content"`
		Metadata metadata `json:"metadata"`
	}{
		Version: "1.0", Source: "custom",
		Content:  content{TextType: "client-markdown", Title: m.Subject, Description: m.Summary},
		Metadata: metadata{Summary: m.Subject, EventType: "keysweep-" + string(m.Kind), AdditionalContext: ctx},
	})
	return string(b)
}

// snsSubject fits a subject to SNS's rules: ASCII, one line, under 100
// characters, starting with a letter, digit or punctuation.
func snsSubject(s string) string {
	s = strings.Map(func(r rune) rune {
		switch {
		case r < ' ' || r == 0x7f:
			return ' '
		case r > 0x7e:
			return '?'
		}
		return r
	}, s)
	s = strings.TrimLeft(strings.Join(strings.Fields(s), " "), " ")
	if len(s) > 99 {
		s = s[:96] + "..."
	}
	if s == "" {
		s = "keysweep"
	}
	return s
}

// snsReason maps SNS's modeled Publish errors.
func snsReason(err error) error {
	var (
		notFound *types.NotFoundException
		authz    *types.AuthorizationErrorException
		throttle *types.ThrottledException
		param    *types.InvalidParameterException
		value    *types.InvalidParameterValueException
	)
	switch {
	case errors.As(err, &notFound):
		return ErrChannelMissing
	case errors.As(err, &authz):
		return ErrAccessDenied
	case errors.As(err, &throttle):
		return ErrThrottled
	case errors.As(err, &param), errors.As(err, &value):
		return ErrRejected
	}
	return nil
}
