package store

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/attributevalue"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
)

// Audit is the audit-table contract both implementations satisfy.
type Audit interface {
	BeginRun(ctx context.Context, run *Run) error
	FinishRun(ctx context.Context, run *Run) error
	GetRun(ctx context.Context, runID string) (*Run, error)
	RecordDecision(ctx context.Context, rec Record) error
	WriteIntent(ctx context.Context, rec Record) error
	WriteOutcome(ctx context.Context, rec Record) error
	ObserveInactive(ctx context.Context, account, user, accessKeyID string, at time.Time) error
	KeyState(ctx context.Context, accessKeyID string) (*KeyState, error)
	PendingIntents(ctx context.Context, account string) ([]Record, error)
	ByKey(ctx context.Context, accessKeyID string) ([]Record, error)
	ByRun(ctx context.Context, runID string) ([]Record, error)
	ByUser(ctx context.Context, account, user string) ([]Record, error)
	Resume(ctx context.Context, account string) (string, error)
	SetResume(ctx context.Context, account, runID, after string) error
}

var (
	_ Audit = (*Dynamo)(nil)
	_ Audit = (*Mem)(nil)
)

// DefaultPolicyID is the id of the policy a sweep uses unless told otherwise.
const DefaultPolicyID = "default"

// DefaultRetention is how long audit records and runs are kept (TTL on
// expiresAt) when Options.Retention is zero.
const DefaultRetention = 400 * 24 * time.Hour

// ErrInvalidRecord: a record or run lacks a field the table needs as a key.
var ErrInvalidRecord = errors.New("invalid audit record")

// Options configures a Dynamo store.
type Options struct {
	AuditTable  string
	PolicyTable string
	// Retention is how long history records and runs are kept; default 400 days.
	Retention time.Duration
	// Now is the clock used for updatedAt, expiresAt of event claims, and a
	// record without At; default time.Now.
	Now func() time.Time
}

func (o Options) withDefaults() Options {
	if o.Retention <= 0 {
		o.Retention = DefaultRetention
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	return o
}

// Item keys of the audit table. docs/AUDIT.md describes every item type.
const (
	skRun     = "RUN"
	skState   = "STATE"
	skEvent   = "EVENT"
	skResume  = "RESUME"
	recPrefix = "REC#"
)

func runPK(runID string) string           { return "RUN#" + runID }
func keyPK(accessKeyID string) string     { return "KEY#" + accessKeyID }
func eventPK(eventID string) string       { return "EVENT#" + eventID }
func pendingPK(account string) string     { return "PENDING#" + account }
func resumePK(account string) string      { return "RESUME#" + account }
func userKey(account, user string) string { return account + "#" + user }

// recSK is the sort key of a history record: it sorts by time, then run, then kind.
func recSK(rec Record) string {
	return recPrefix + formatTime(rec.At) + "#" + rec.RunID + "#" + rec.Kind
}

// timeLayout is fixed width (always nine fraction digits, always UTC), so
// stored times sort as strings.
const timeLayout = "2006-01-02T15:04:05.000000000Z"

func formatTime(t time.Time) string { return t.UTC().Format(timeLayout) }

func parseTime(s string) (time.Time, error) {
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		return time.Time{}, err
	}
	return t.UTC(), nil
}

func encodeTime(t time.Time) (types.AttributeValue, error) {
	if t.IsZero() {
		// Dropped by stripNull: a zero time is not stored at all.
		return &types.AttributeValueMemberNULL{Value: true}, nil
	}
	return &types.AttributeValueMemberS{Value: formatTime(t)}, nil
}

// marshalItem encodes v with times in the fixed-width format and without
// NULL attributes (zero times, nil maps and slices).
func marshalItem(v any) (map[string]types.AttributeValue, error) {
	m, err := attributevalue.MarshalMapWithOptions(v, func(o *attributevalue.EncoderOptions) {
		o.EncodeTime = encodeTime
	})
	if err != nil {
		return nil, err
	}
	stripNull(m)
	return m, nil
}

func stripNull(m map[string]types.AttributeValue) {
	for k, v := range m {
		switch v := v.(type) {
		case *types.AttributeValueMemberNULL:
			delete(m, k)
		case *types.AttributeValueMemberM:
			stripNull(v.Value)
		case *types.AttributeValueMemberL:
			for _, e := range v.Value {
				if em, ok := e.(*types.AttributeValueMemberM); ok {
					stripNull(em.Value)
				}
			}
		}
	}
}

func unmarshalItem(m map[string]types.AttributeValue, out any) error {
	return attributevalue.UnmarshalMapWithOptions(m, out, func(o *attributevalue.DecoderOptions) {
		o.DecodeTime.S = parseTime
	})
}

// roundTrip copies in to out through the item codec, so Mem hands out
// exactly what Dynamo would: deep copies, UTC times, no empty attributes.
func roundTrip(in, out any) error {
	m, err := marshalItem(in)
	if err != nil {
		return err
	}
	return unmarshalItem(m, out)
}

func checkRecord(rec Record, kind string) error {
	switch {
	case rec.Kind != kind:
		return fmt.Errorf("%w: kind %q, want %q", ErrInvalidRecord, rec.Kind, kind)
	case rec.RunID == "" || rec.AccessKeyID == "" || rec.Account == "":
		return fmt.Errorf("%w: runId, accessKeyId and account are required", ErrInvalidRecord)
	case kind != KindDecision && rec.Action == "":
		return fmt.Errorf("%w: %s without action", ErrInvalidRecord, kind)
	case kind == KindOutcome && rec.Result == "":
		return fmt.Errorf("%w: outcome without result", ErrInvalidRecord)
	}
	return nil
}

// settle applies a settled outcome to a key's state (the intent is removed
// by the caller): it is the one place both stores take the stage rules from.
func settle(st *KeyState, rec Record) {
	at := rec.At
	switch rec.Result {
	case ResultGone:
		st.Stage, st.DeletedAt = StageDeleted, &at
	case ResultDone, ResultSettled:
		switch rec.Action {
		case actionDeactivate:
			st.Stage, st.DeactivatedAt = StageDeactivated, &at
		case actionDelete:
			st.Stage, st.DeletedAt = StageDeleted, &at
		}
	}
}

const (
	actionDeactivate = "deactivate"
	actionDelete     = "delete"
)
