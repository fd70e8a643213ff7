// Package trigger reads what starts a sweep from outside: an EventBridge
// scheduled event or a manual payload (aws lambda invoke, sam local invoke,
// the API's POST /sweeps, the CLI). It is strict: field names exactly as
// documented, each at most once; every problem names the field and
// changes nothing.
package trigger

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"strings"
)

// ErrBadEvent wraps every problem with an incoming event or request: the
// run is refused and nothing changes.
var ErrBadEvent = errors.New("invalid event")

// Event is a parsed sweeper invocation.
type Event struct {
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
	// Target narrows the run to one key store ("" : every target the
	// deployment sweeps).
	Target string
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
	// Target names one key store to sweep (default: every target).
	Target string `json:"target,omitempty"`
}

// ManualFields are the manual payload's field names, exactly.
var ManualFields = []string{"eventId", "mode", "users", "runId", "requestedBy", "target"}

// MaxEventBytes bounds an event payload.
const MaxEventBytes = 256 << 10

// MaxUsers bounds a manual payload's user list.
const MaxUsers = 1000

var (
	userNameRE = regexp.MustCompile(`^[\w+=,.@-]{1,64}$`)
	idRE       = regexp.MustCompile(`^[A-Za-z0-9._:/-]{1,128}$`)
)

// Parse reads an EventBridge scheduled event or a manual payload. Every
// problem is an error wrapping ErrBadEvent that names it.
func Parse(raw []byte) (Event, error) {
	raw = bytes.TrimSpace(raw)
	if len(raw) > MaxEventBytes {
		return Event{}, fmt.Errorf("%w: payload is %d bytes, limit %d", ErrBadEvent, len(raw), MaxEventBytes)
	}
	if len(raw) == 0 || string(raw) == "null" || string(raw) == `""` {
		return Event{Kind: "manual"}, nil
	}
	var probe map[string]json.RawMessage
	if err := json.Unmarshal(raw, &probe); err != nil {
		return Event{}, fmt.Errorf("%w: payload must be a JSON object: %v", ErrBadEvent, err)
	}
	if _, ok := probe["detail-type"]; ok {
		return parseScheduled(raw)
	}
	m, err := decodeManual(raw)
	if err != nil {
		return Event{}, err
	}
	ev := Event{Kind: "manual", EventID: m.EventID, RunID: m.RunID, Target: m.Target}
	if m.RequestedBy != "" {
		if len(m.RequestedBy) > 2048 || strings.ContainsFunc(m.RequestedBy, func(r rune) bool { return r < 0x20 || r == 0x7f }) {
			return Event{}, fmt.Errorf("%w: requestedBy: must be at most 2048 printable characters", ErrBadEvent)
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
		return Event{}, fmt.Errorf("%w: mode: must be \"audit\" or \"enforce\", got %q", ErrBadEvent, m.Mode)
	}
	if m.EventID != "" && !idRE.MatchString(m.EventID) {
		return Event{}, fmt.Errorf("%w: eventId: must be 1-128 characters of letters, digits and ._:/-", ErrBadEvent)
	}
	if m.Target != "" && !TargetRE.MatchString(m.Target) {
		return Event{}, fmt.Errorf("%w: target: a target name is 1-64 lower-case letters, digits and -, got %s", ErrBadEvent, Quote(m.Target, 40))
	}
	if m.RunID != "" && !idRE.MatchString(m.RunID) {
		return Event{}, fmt.Errorf("%w: runId: must be 1-128 characters of letters, digits and ._:/-", ErrBadEvent)
	}
	if m.Users != nil {
		if len(m.Users) == 0 {
			return Event{}, fmt.Errorf("%w: users: empty list (omit the field to sweep every user)", ErrBadEvent)
		}
		if len(m.Users) > MaxUsers {
			return Event{}, fmt.Errorf("%w: users: %d names, limit %d", ErrBadEvent, len(m.Users), MaxUsers)
		}
		for i, u := range m.Users {
			if !userNameRE.MatchString(u) {
				return Event{}, fmt.Errorf("%w: users[%d]: %q is not an IAM user name", ErrBadEvent, i, u)
			}
		}
		ev.Users = m.Users
	}
	return ev, nil
}

// decodeManual reads a manual payload by its exact field names.
func decodeManual(raw []byte) (ManualPayload, error) {
	var m ManualPayload
	fields, err := DecodeObject(raw, "manual payload", ManualFields...)
	if err != nil {
		return m, fmt.Errorf("%w: %v", ErrBadEvent, err)
	}
	for name, v := range fields {
		var dst any
		switch name {
		case "eventId":
			dst = &m.EventID
		case "mode":
			dst = &m.Mode
		case "users":
			dst = &m.Users
		case "runId":
			dst = &m.RunID
		case "requestedBy":
			dst = &m.RequestedBy
		case "target":
			dst = &m.Target
		}
		if err := json.Unmarshal(v, dst); err != nil {
			return m, fmt.Errorf("%w: manual payload: %s: %v", ErrBadEvent, name, err)
		}
	}
	return m, nil
}

// TargetRE is what a target name may be.
var TargetRE = regexp.MustCompile(`^[a-z0-9][a-z0-9-]{0,63}$`)

// scheduledEvent is the part of an EventBridge event (aws-lambda-go's
// events.CloudWatchEvent) a scheduled sweep reads.
type scheduledEvent struct {
	ID         string   `json:"id"`
	Source     string   `json:"source"`
	DetailType string   `json:"detail-type"`
	Resources  []string `json:"resources"`
}

func parseScheduled(raw []byte) (Event, error) {
	var ce scheduledEvent
	if err := json.Unmarshal(raw, &ce); err != nil {
		return Event{}, fmt.Errorf("%w: scheduled event: %v", ErrBadEvent, err)
	}
	if ce.DetailType != "Scheduled Event" || ce.Source != "aws.events" {
		return Event{}, fmt.Errorf("%w: unsupported event: source %q, detail-type %q (want aws.events, Scheduled Event)", ErrBadEvent, ce.Source, ce.DetailType)
	}
	if strings.TrimSpace(ce.ID) == "" {
		return Event{}, fmt.Errorf("%w: scheduled event: id is empty", ErrBadEvent)
	}
	ev := Event{Kind: "schedule", EventID: "schedule:" + ce.ID}
	if len(ce.Resources) > 0 {
		ev.Source = ce.Resources[0]
	}
	return ev, nil
}
