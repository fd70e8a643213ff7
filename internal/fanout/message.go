package fanout

import (
	"bytes"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"regexp"
	"time"

	"github.com/keysweep/keysweep/policy"
)

// ErrBadMessage wraps every problem with an account message: it can never
// be handled, however often it is delivered.
var ErrBadMessage = errors.New("invalid account message")

// Message asks a worker to sweep one member account for one organization
// run. It is the body of one SQS message.
type Message struct {
	OrgRunID  string `json:"orgRunId"`
	AccountID string `json:"accountId"`
	// EventID is the account run's de-duplication id; it must equal
	// EventID(OrgRunID, AccountID), so that however often the message is
	// delivered, only one run acts.
	EventID string `json:"eventId"`
}

// NewMessage returns the message for one account of an organization run.
func NewMessage(orgRunID, account string) Message {
	return Message{OrgRunID: orgRunID, AccountID: account, EventID: EventID(orgRunID, account)}
}

// EventID is the de-duplication id of an account's run in an organization run.
func EventID(orgRunID, account string) string { return "org:" + orgRunID + ":" + account }

// AccountRunID is the id of an account's run in an organization run. It is
// derived, not random, so every attempt at the same account writes the same
// run record.
func AccountRunID(orgRunID, account string) string { return orgRunID + "-" + account }

// NewOrgRunID returns a sortable, unique organization run id.
func NewOrgRunID(at time.Time) string {
	var b [4]byte
	_, _ = rand.Read(b[:])
	return "org-" + at.UTC().Format("20060102T150405Z") + "-" + hex.EncodeToString(b[:])
}

// MaxMessageBytes bounds a message body; a real one is about 120 bytes.
const MaxMessageBytes = 1024

var runIDRE = regexp.MustCompile(`^[A-Za-z0-9._-]{1,100}$`)

// ParseMessage reads and checks a message body. Every error wraps
// ErrBadMessage.
func ParseMessage(body []byte) (Message, error) {
	if len(body) > MaxMessageBytes {
		return Message{}, fmt.Errorf("%w: %d bytes, limit %d", ErrBadMessage, len(body), MaxMessageBytes)
	}
	var m Message
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&m); err != nil {
		return Message{}, fmt.Errorf("%w: %v (fields: orgRunId, accountId, eventId)", ErrBadMessage, err)
	}
	if _, err := dec.Token(); err != io.EOF {
		return Message{}, fmt.Errorf("%w: data after the JSON object", ErrBadMessage)
	}
	switch {
	case !runIDRE.MatchString(m.OrgRunID):
		return Message{}, fmt.Errorf("%w: orgRunId: want 1-100 letters, digits and ._-, got %q", ErrBadMessage, m.OrgRunID)
	case !policy.IsAccountID(m.AccountID):
		return Message{}, fmt.Errorf("%w: accountId: want a 12-digit account id, got %q", ErrBadMessage, m.AccountID)
	case m.EventID != EventID(m.OrgRunID, m.AccountID):
		return Message{}, fmt.Errorf("%w: eventId: want %q, got %q", ErrBadMessage, EventID(m.OrgRunID, m.AccountID), m.EventID)
	}
	return m, nil
}

// Body encodes the message.
func (m Message) Body() string {
	b, _ := json.Marshal(m) // three strings: cannot fail
	return string(b)
}
