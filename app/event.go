package app

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"regexp"
	"strings"

	"github.com/aws/aws-lambda-go/events"
)

// ErrBadEvent wraps every problem with an incoming event or request: the
// run is refused and nothing changes.
var ErrBadEvent = errors.New("invalid event")

// SweepEvent is a parsed sweeper invocation.
type SweepEvent struct {
	// Kind is schedule or manual.
	Kind string
	// Source is the schedule rule ARN for scheduled events.
	Source string
	// EventID de-duplicates deliveries; empty when the payload had none.
	EventID string
	// AuditOnly narrows an enforce policy to audit.
	AuditOnly bool
	// Enforce asks for enforce mode; allowed only when the policy enforces.
	Enforce bool
	// Users narrows the run.
	Users []string
	// RunID is set by the API when it starts a sweep asynchronously.
	RunID string
}

// ManualPayload is what `aws lambda invoke`, `sam local invoke` or the API
// may send. It can narrow a run, never widen it.
type ManualPayload struct {
	// EventID de-duplicates retried invocations; optional.
	EventID string `json:"eventId,omitempty"`
	// Mode: "audit" narrows an enforce policy to audit. "enforce" is
	// accepted only when the stored policy already enforces.
	Mode string `json:"mode,omitempty"`
	// Users narrows the run to these IAM user names.
	Users []string `json:"users,omitempty"`
	// RunID names the run (used by the API's POST /sweeps).
	RunID string `json:"runId,omitempty"`
	// RequestedBy is the API caller who asked for the sweep (set by the
	// API, recorded as the run's trigger).
	RequestedBy string `json:"requestedBy,omitempty"`
}

// MaxEventBytes bounds an event payload.
const MaxEventBytes = 256 << 10

// MaxUsers bounds a manual payload's user list.
const MaxUsers = 1000

var (
	userNameRE = regexp.MustCompile(`^[\w+=,.@-]{1,64}$`)
	idRE       = regexp.MustCompile(`^[A-Za-z0-9._:/-]{1,128}$`)
)

// ParseSweepEvent reads an EventBridge scheduled event or a manual payload.
// Every problem is an error wrapping ErrBadEvent that names it.
func ParseSweepEvent(raw []byte) (SweepEvent, error) {
	raw = bytes.TrimSpace(raw)
	if len(raw) > MaxEventBytes {
		return SweepEvent{}, fmt.Errorf("%w: payload is %d bytes, limit %d", ErrBadEvent, len(raw), MaxEventBytes)
	}
	if len(raw) == 0 || string(raw) == "null" || string(raw) == `""` {
		return SweepEvent{Kind: "manual"}, nil
	}
	var probe map[string]json.RawMessage
	if err := json.Unmarshal(raw, &probe); err != nil {
		return SweepEvent{}, fmt.Errorf("%w: payload must be a JSON object: %v", ErrBadEvent, err)
	}
	if _, ok := probe["detail-type"]; ok {
		return parseScheduled(raw)
	}
	var m ManualPayload
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&m); err != nil {
		return SweepEvent{}, fmt.Errorf("%w: manual payload: %v (fields: eventId, mode, users, runId, requestedBy)", ErrBadEvent, err)
	}
	if _, err := dec.Token(); err != io.EOF {
		return SweepEvent{}, fmt.Errorf("%w: manual payload: trailing data after the JSON object", ErrBadEvent)
	}
	ev := SweepEvent{Kind: "manual", EventID: m.EventID, RunID: m.RunID}
	if m.RequestedBy != "" {
		if len(m.RequestedBy) > 2048 || strings.ContainsFunc(m.RequestedBy, func(r rune) bool { return r < 0x20 || r == 0x7f }) {
			return SweepEvent{}, fmt.Errorf("%w: requestedBy: must be at most 2048 printable characters", ErrBadEvent)
		}
		ev.Kind, ev.Source = "api", m.RequestedBy
	}
	switch m.Mode {
	case "":
	case "audit":
		ev.AuditOnly = true
	case "enforce":
		ev.Enforce = true
	default:
		return SweepEvent{}, fmt.Errorf("%w: mode: must be \"audit\" or \"enforce\", got %q", ErrBadEvent, m.Mode)
	}
	if m.EventID != "" && !idRE.MatchString(m.EventID) {
		return SweepEvent{}, fmt.Errorf("%w: eventId: must be 1-128 characters of letters, digits and ._:/-", ErrBadEvent)
	}
	if m.RunID != "" && !idRE.MatchString(m.RunID) {
		return SweepEvent{}, fmt.Errorf("%w: runId: must be 1-128 characters of letters, digits and ._:/-", ErrBadEvent)
	}
	if m.Users != nil {
		if len(m.Users) == 0 {
			return SweepEvent{}, fmt.Errorf("%w: users: empty list (omit the field to sweep every user)", ErrBadEvent)
		}
		if len(m.Users) > MaxUsers {
			return SweepEvent{}, fmt.Errorf("%w: users: %d names, limit %d", ErrBadEvent, len(m.Users), MaxUsers)
		}
		for i, u := range m.Users {
			if !userNameRE.MatchString(u) {
				return SweepEvent{}, fmt.Errorf("%w: users[%d]: %q is not an IAM user name", ErrBadEvent, i, u)
			}
		}
		ev.Users = m.Users
	}
	return ev, nil
}

func parseScheduled(raw []byte) (SweepEvent, error) {
	var ce events.CloudWatchEvent
	if err := json.Unmarshal(raw, &ce); err != nil {
		return SweepEvent{}, fmt.Errorf("%w: scheduled event: %v", ErrBadEvent, err)
	}
	if ce.DetailType != "Scheduled Event" || ce.Source != "aws.events" {
		return SweepEvent{}, fmt.Errorf("%w: unsupported event: source %q, detail-type %q (want aws.events, Scheduled Event)", ErrBadEvent, ce.Source, ce.DetailType)
	}
	if strings.TrimSpace(ce.ID) == "" {
		return SweepEvent{}, fmt.Errorf("%w: scheduled event: id is empty", ErrBadEvent)
	}
	ev := SweepEvent{Kind: "schedule", EventID: "schedule:" + ce.ID}
	if len(ce.Resources) > 0 {
		ev.Source = ce.Resources[0]
	}
	return ev, nil
}
