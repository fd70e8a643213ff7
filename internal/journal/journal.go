// Package journal holds what every keysweep journal (the audit trail's
// stores: DynamoDB in a deployment, memory in tests and benchmarks) shares
// and must agree on: which records are well formed, how an outcome moves a
// key's stage, how records sort, and the hash chain over each key's
// records that makes a rewritten history evident.
package journal

import (
	"fmt"
	"sort"
	"time"

	"github.com/keysweep/keysweep/internal/domain"
)

// DefaultRetention is how long history records and runs are kept (TTL)
// when a journal's retention is zero.
const DefaultRetention = 400 * 24 * time.Hour

// TimeLayout is fixed width (always nine fraction digits, always UTC), so
// stored times sort as strings.
const TimeLayout = "2006-01-02T15:04:05.000000000Z"

// FormatTime formats t in TimeLayout.
func FormatTime(t time.Time) string { return t.UTC().Format(TimeLayout) }

// RecordSK is a history record's sort key: it sorts by time, then run,
// then kind.
func RecordSK(rec domain.Record) string {
	return "REC#" + FormatTime(rec.At) + "#" + rec.RunID + "#" + rec.Kind
}

// CheckRecord refuses a record that lacks a field every journal needs.
func CheckRecord(rec domain.Record, kind domain.RecordKind) error {
	switch {
	case rec.Kind != kind:
		return fmt.Errorf("%w: kind %q, want %q", domain.ErrInvalidRecord, rec.Kind, kind)
	case rec.RunID == "" || rec.AccessKeyID == "" || rec.Account == "":
		return fmt.Errorf("%w: runId, accessKeyId and account are required", domain.ErrInvalidRecord)
	case kind != domain.KindDecision && kind != domain.KindNotice && rec.Action == "":
		return fmt.Errorf("%w: %s without action", domain.ErrInvalidRecord, kind)
	case kind == domain.KindOutcome && rec.Result == "":
		return fmt.Errorf("%w: outcome without result", domain.ErrInvalidRecord)
	case kind == domain.KindNotice && rec.Notice == nil:
		return fmt.Errorf("%w: notice record without notice", domain.ErrInvalidRecord)
	}
	return nil
}

// ApplyOutcome moves a key's stage for a settled outcome (the intent is
// removed by the caller): it is the one place every journal takes the
// stage rules from.
//
//	result          deactivate             delete               mark-due           clear-due
//	done, settled   deactivated at `at`    deleted at `at`      due since `at`     clock cleared
//	gone            deleted at `at`        deleted at `at`      deleted at `at`    deleted at `at`
//	already-inactive  the delete clock starts at `at` unless it has started
//	anything else   unchanged
func ApplyOutcome(st *domain.KeyState, rec domain.Record) {
	at := rec.At.UTC()
	switch rec.Result {
	case domain.ResultGone:
		st.Stage, st.DeletedAt = domain.StageDeleted, &at
	case domain.ResultAlreadyInactive:
		if st.DeactivatedAt == nil {
			st.Stage, st.DeactivatedAt = domain.StageInactive, &at
		}
	case domain.ResultDone, domain.ResultSettled:
		switch rec.Action {
		case domain.ActionDeactivate:
			st.Stage, st.DeactivatedAt = domain.StageDeactivated, &at
		case domain.ActionDelete:
			st.Stage, st.DeletedAt = domain.StageDeleted, &at
		case domain.ActionMarkDue:
			st.Stage, st.DeactivatedAt = domain.StageDue, &at
		case domain.ActionClearDue:
			st.Stage, st.DeactivatedAt = "", nil
		}
	}
}

// SortByAt orders records by time, then key id (pending intents).
func SortByAt(recs []domain.Record) {
	sort.SliceStable(recs, func(i, j int) bool {
		if !recs[i].At.Equal(recs[j].At) {
			return recs[i].At.Before(recs[j].At)
		}
		return recs[i].AccessKeyID < recs[j].AccessKeyID
	})
}

// SortBySK orders records by their sort key (time, run, kind).
func SortBySK(recs []domain.Record) {
	sort.SliceStable(recs, func(i, j int) bool { return RecordSK(recs[i]) < RecordSK(recs[j]) })
}
