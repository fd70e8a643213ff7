package report

import (
	"cmp"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/keysweep/keysweep/internal/domain"
	"github.com/keysweep/keysweep/policy"
)

// Table sizes. Up to FullTableRows keys the table lists every key; past it,
// it lists the keys with a non-keep verdict (at most MaxListedRows, the
// most urgent first) and counts the rest by reason.
const (
	FullTableRows = 2000
	MaxListedRows = 10000
)

// Reason buckets: a key's reason in a few words, for filtering and for the
// summary of the keys not listed.
const (
	bucketWithin         = "within limits"
	bucketInactiveWithin = "inactive, within limits"
	bucketAge            = "over the age limit"
	bucketUnused         = "unused too long"
	bucketNever          = "never used"
	bucketAgeUnused      = "over age and unused"
	bucketAwaiting       = "inactive, awaiting deletion"
	bucketClockStarts    = "inactive, delete clock starts"
	bucketDeleteDue      = "inactive, delete due"
	bucketExempt         = "exempt"
	bucketExemptStale    = "exempt, over a limit"
	bucketUnknown        = "status unknown"
)

// bucket puts a decision's reason into words of one of the buckets above.
func bucket(d *domain.KeyDecision) string {
	switch {
	case d.Verdict == policy.Exempt && d.Stale:
		return bucketExemptStale
	case d.Verdict == policy.Exempt:
		return bucketExempt
	case strings.HasPrefix(d.Reason, "status "):
		return bucketUnknown
	case !d.Stale && d.Status == policy.StatusInactive:
		return bucketInactiveWithin
	case !d.Stale:
		return bucketWithin
	case d.Status == policy.StatusInactive && d.Verdict == policy.Delete:
		return bucketDeleteDue
	case d.Status == policy.StatusInactive && d.DeleteDue != nil:
		return bucketAwaiting
	case d.Status == policy.StatusInactive && d.Verdict == policy.Keep:
		return bucketClockStarts
	}
	return staleCause(d.Reason)
}

// staleCause reads which limits a stale key's reason says it is over.
func staleCause(reason string) string {
	var age, unused, never bool
	for seg := range strings.SplitSeq(reason, "; ") {
		switch {
		case strings.HasPrefix(seg, "never used, created ") && strings.Contains(seg, ", limit "):
			never = true
		case strings.HasPrefix(seg, "created ") && strings.Contains(seg, ", limit "):
			age = true
		case strings.HasPrefix(seg, "last used ") && strings.Contains(seg, ", limit "):
			unused = true
		}
	}
	switch {
	case age && (unused || never):
		return bucketAgeUnused
	case age:
		return bucketAge
	case never:
		return bucketNever
	}
	return bucketUnused
}

// ref identifies a key across judgements: its store and id, or its owner
// and slot when the id is unknown.
type ref struct {
	provider          domain.Provider
	account, id, user string
	slot              int
}

func keyRef(d *domain.KeyDecision) ref {
	if d.Provider == "" {
		return ref{domain.ProviderAWS, d.Account, d.AccessKeyID, d.UserName, d.Slot}
	}
	if d.AccessKeyID != "" {
		return ref{provider: d.Provider, account: d.Account, id: d.AccessKeyID}
	}
	return ref{provider: d.Provider, account: d.Account, user: d.UserName, slot: d.Slot}
}

// keyLabel is how the page names a key.
func keyLabel(d *domain.KeyDecision) string {
	switch {
	case d.AccessKeyID != "":
		return d.AccessKeyID
	case d.KeyName != "":
		return d.KeyName
	}
	return "key " + strconv.Itoa(d.Slot)
}

// row is one key in the table.
type row struct {
	User, Key, Status       string
	Store                   store
	LastUsed                string
	Age                     int
	Idle                    string // days since last use; "–" when unknown
	Verdict, Reason, Bucket string
	Outcome                 string
	Severity                int // sorts the urgent first
	// S, V and B index the row's store, verdict and bucket in the
	// table's filter choices: short codes keep a large table small.
	S, V, B int
}

// tableView is the key table and, past FullTableRows, the summary of the
// keys it does not list.
type tableView struct {
	Rows     []row
	Total    int
	Omitted  int       // keys not listed
	Summary  []countOf // the omitted keys by reason
	Stores   []string  // filter choices
	Verdicts []string
	Buckets  []string
	// Outcomes: some key has one (a run's report, not a plan's).
	Outcomes bool
}

type countOf struct {
	Name  string
	Count int
}

func severity(v policy.Verdict) int {
	switch v {
	case policy.Delete:
		return 0
	case policy.Deactivate:
		return 1
	case policy.Exempt:
		return 2
	}
	return 3
}

// ownerLabel names the key's owner: a person's name beside the store's id
// where the id alone would tell a reader nothing (a GMI Cloud user's UUID).
func ownerLabel(d *domain.KeyDecision) string {
	if d.OwnerName == "" || d.OwnerName == d.UserName {
		return d.UserName
	}
	return d.OwnerName + " (" + d.UserName + ")"
}

func newRow(d *domain.KeyDecision, names *storeNames, knowsLastUse bool) row {
	r := row{
		User: ownerLabel(d), Store: names.label(d.Provider, d.Account), Key: keyLabel(d),
		Status: string(d.Status), LastUsed: "never", Age: d.AgeDays, Idle: strconv.Itoa(d.InactiveDays),
		Verdict: string(d.Verdict), Reason: d.Reason, Bucket: bucket(d), Outcome: string(d.Outcome),
		Severity: severity(d.Verdict),
	}
	if r.Status == "" {
		r.Status = "none"
	}
	switch {
	case !knowsLastUse:
		r.LastUsed, r.Idle = "unknown", "–"
	case d.LastUsedAt != nil:
		r.LastUsed = day(*d.LastUsedAt)
	}
	return r
}

// buildTable lists the keys: all of them up to FullTableRows, else the
// non-keep ones (up to MaxListedRows) and a count of the rest by reason.
func buildTable(in *Input, names *storeNames) tableView {
	ds := in.Decisions
	t := tableView{Total: len(ds)}
	listAll := len(ds) <= FullTableRows
	omitted := map[string]int{}
	for i := range ds {
		d := &ds[i]
		if !listAll && d.Verdict == policy.Keep {
			omitted[bucket(d)]++
			continue
		}
		t.Rows = append(t.Rows, newRow(d, names, in.knowsLastUse(d.Provider)))
	}
	slices.SortStableFunc(t.Rows, func(a, b row) int {
		return cmp.Or(cmp.Compare(a.Severity, b.Severity), cmp.Compare(b.Age, a.Age),
			cmp.Compare(a.Store.Label(), b.Store.Label()), cmp.Compare(a.User, b.User), cmp.Compare(a.Key, b.Key))
	})
	if len(t.Rows) > MaxListedRows {
		for _, r := range t.Rows[MaxListedRows:] {
			omitted[r.Bucket+" ("+r.Verdict+")"]++
		}
		t.Rows = t.Rows[:MaxListedRows]
	}
	for name, n := range omitted {
		t.Summary = append(t.Summary, countOf{name, n})
		t.Omitted += n
	}
	slices.SortFunc(t.Summary, func(a, b countOf) int {
		return cmp.Or(cmp.Compare(b.Count, a.Count), cmp.Compare(a.Name, b.Name))
	})
	stores, verdicts, buckets := set{}, set{}, set{}
	for _, r := range t.Rows {
		stores.add(r.Store.Label())
		verdicts.add(r.Verdict)
		buckets.add(r.Bucket)
		t.Outcomes = t.Outcomes || r.Outcome != ""
	}
	t.Stores, t.Verdicts, t.Buckets = stores.sorted(), verdicts.sorted(), buckets.sorted()
	si, vi, bi := index(t.Stores), index(t.Verdicts), index(t.Buckets)
	for i := range t.Rows {
		r := &t.Rows[i]
		r.S, r.V, r.B = si[r.Store.Label()], vi[r.Verdict], bi[r.Bucket]
	}
	return t
}

func index(list []string) map[string]int {
	m := make(map[string]int, len(list))
	for i, v := range list {
		m[v] = i
	}
	return m
}

type set map[string]struct{}

func (s set) add(v string) { s[v] = struct{}{} }

func (s set) sorted() []string {
	out := make([]string, 0, len(s))
	for v := range s {
		out = append(out, v)
	}
	slices.Sort(out)
	return out
}

func day(t time.Time) string { return t.UTC().Format(time.DateOnly) }

func stamp(t time.Time) string { return t.UTC().Format("2006-01-02 15:04 UTC") }
