package journal

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"sort"
	"strconv"
	"strings"

	"github.com/keysweep/keysweep/internal/domain"
)

// The hash chain: every history record of a key carries Seq (1, 2, 3, ...
// in the order the journal accepted them), PrevHash (the Hash of the
// record before it, "" for the first) and Hash, the SHA-256 of its
// canonical form, which includes Seq and PrevHash. The key's state item
// holds the head (HeadSeq, HeadHash), and every append moves it on a
// condition, in one transaction with the record. So a record changed after
// it was written no longer matches its hash, a record removed leaves a gap
// or a link that points nowhere, and a removed last record leaves the head
// pointing past the end. Records written before the chain existed carry
// no Seq and are reported as unchained, not as broken.

// chainVersion prefixes the canonical form so that it can change later
// without breaking records already written.
const chainVersion = "keysweep-chain-v1"

// Canonical is the record's canonical form for hashing: every field that
// says something, in a fixed order, each on its own line with its name,
// values quoted so that no field can pose as another.
func Canonical(rec domain.Record) string {
	var b strings.Builder
	b.WriteString(chainVersion)
	b.WriteByte('\n')
	field := func(name, v string) {
		b.WriteString(name)
		b.WriteByte('=')
		b.WriteString(strconv.Quote(v))
		b.WriteByte('\n')
	}
	field("seq", strconv.FormatInt(rec.Seq, 10))
	field("prevHash", rec.PrevHash)
	field("kind", rec.Kind)
	field("runId", rec.RunID)
	field("account", rec.Account)
	field("provider", string(rec.Provider))
	field("userName", rec.UserName)
	field("accessKeyId", rec.AccessKeyID)
	field("decision", string(rec.Decision))
	field("reason", rec.Reason)
	field("rule", rec.Rule)
	field("policyVersion", rec.PolicyVersion)
	field("mode", string(rec.Mode))
	field("at", FormatTime(rec.At))
	field("action", rec.Action)
	field("result", rec.Result)
	field("error", rec.Error)
	field("actor", rec.Actor)
	field("exempt", strconv.FormatBool(rec.Exempt))
	if rec.KeyCreatedAt != nil {
		field("keyCreatedAt", FormatTime(*rec.KeyCreatedAt))
	}
	if n := rec.Notice; n != nil {
		field("notice.kind", n.Kind)
		field("notice.channel", n.Channel)
		field("notice.recipient", n.Recipient)
		due := ""
		if n.DueDate != nil {
			due = FormatTime(*n.DueDate)
		}
		field("notice.dueDate", due)
		field("notice.messageId", n.MessageID)
		field("notice.status", n.Status)
		field("notice.error", n.Error)
		field("notice.claim", n.Claim)
	}
	return b.String()
}

// HashOf is the hex SHA-256 of the record's canonical form.
func HashOf(rec domain.Record) string {
	sum := sha256.Sum256([]byte(Canonical(rec)))
	return hex.EncodeToString(sum[:])
}

// Seal links rec after the head (headSeq, headHash) of its key's chain.
func Seal(rec *domain.Record, headSeq int64, headHash string) {
	rec.Seq = headSeq + 1
	rec.PrevHash = headHash
	rec.Hash = ""
	rec.Hash = HashOf(*rec)
}

// Problem is one way a key's history fails its chain.
type Problem struct {
	AccessKeyID string `json:"accessKeyId"`
	Seq         int64  `json:"seq,omitempty"`
	RunID       string `json:"runId,omitempty"`
	Message     string `json:"message"`
}

func (p Problem) String() string {
	if p.Seq > 0 {
		return fmt.Sprintf("%s record %d (run %s): %s", p.AccessKeyID, p.Seq, p.RunID, p.Message)
	}
	return p.AccessKeyID + ": " + p.Message
}

// Verification is what checking one key's chain found.
type Verification struct {
	AccessKeyID string    `json:"accessKeyId"`
	Records     int       `json:"records"`
	Chained     int       `json:"chained"`
	Unchained   int       `json:"unchained"` // written before the chain existed
	Problems    []Problem `json:"problems,omitempty"`
}

// OK reports whether the chain holds.
func (v Verification) OK() bool { return len(v.Problems) == 0 }

// Verify checks a key's history (any order) against its chain and the
// head on its state (nil when keysweep has no state of the key).
func Verify(id string, recs []domain.Record, st *domain.KeyState) Verification {
	v := Verification{AccessKeyID: id, Records: len(recs)}
	var chained []domain.Record
	for _, r := range recs {
		if r.Seq == 0 && r.Hash == "" {
			v.Unchained++
			continue
		}
		chained = append(chained, r)
	}
	v.Chained = len(chained)
	sort.SliceStable(chained, func(i, j int) bool { return chained[i].Seq < chained[j].Seq })
	bad := func(r domain.Record, format string, args ...any) {
		v.Problems = append(v.Problems, Problem{AccessKeyID: id, Seq: r.Seq, RunID: r.RunID, Message: fmt.Sprintf(format, args...)})
	}
	prevHash := ""
	for i, r := range chained {
		want := int64(i + 1)
		switch {
		case r.Seq < want:
			bad(r, "sequence number %d appears twice", r.Seq)
		case r.Seq > want:
			bad(r, "records %d to %d are missing", want, r.Seq-1)
		}
		if r.PrevHash != prevHash {
			bad(r, "does not link to the record before it (a record before it was removed or changed)")
		}
		if HashOf(r) != r.Hash {
			bad(r, "its content does not match its hash (it was changed after it was written)")
		}
		prevHash = r.Hash
	}
	var headSeq int64
	headHash := ""
	if st != nil {
		headSeq, headHash = st.HeadSeq, st.HeadHash
	}
	last := int64(len(chained))
	switch {
	case headSeq > last:
		v.Problems = append(v.Problems, Problem{AccessKeyID: id, Message: fmt.Sprintf("the key's state says %d chained records, the history has %d: the last records were removed", headSeq, last)})
	case headSeq < last:
		v.Problems = append(v.Problems, Problem{AccessKeyID: id, Message: fmt.Sprintf("the history has %d chained records, the key's state only %d", last, headSeq)})
	case last > 0 && headHash != chained[last-1].Hash:
		v.Problems = append(v.Problems, Problem{AccessKeyID: id, Message: "the last record does not match the head on the key's state"})
	}
	return v
}
