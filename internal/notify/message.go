package notify

import (
	"fmt"
	"strings"
	"time"
	"unicode"

	"github.com/keysweep/keysweep/internal/domain"
	"github.com/keysweep/keysweep/policy"
)

// Kind is what a notice tells.
type Kind string

// Notice kinds.
const (
	// KindWarning: the key becomes stale on a date ahead.
	KindWarning Kind = "warning"
	// KindDeactivated: keysweep deactivated the key; it is deleted later.
	KindDeactivated Kind = "deactivated"
	// KindDeleted: keysweep deleted the key.
	KindDeleted Kind = "deleted"
	// KindRevoked: the key was revoked through the API.
	KindRevoked Kind = "revoked"
	// KindDue: a key in a store without status (GMI Cloud) was marked due;
	// the notice is its notice period, and it is deleted at its end.
	KindDue Kind = "due"
	// KindRunSummary: what one run decided and did (the team topic).
	KindRunSummary Kind = "run-summary"
)

// Kinds lists every kind.
var Kinds = []Kind{KindWarning, KindDeactivated, KindDeleted, KindRevoked, KindDue, KindRunSummary}

// Event is the policy's notify.events entry that switches the kind on:
// a due notice is the warning of a store without status. A run summary
// belongs to no event ("").
func (k Kind) Event() policy.Event {
	switch k {
	case KindWarning, KindDue:
		return policy.EventWarning
	case KindDeactivated:
		return policy.EventDeactivated
	case KindDeleted:
		return policy.EventDeleted
	case KindRevoked:
		return policy.EventRevoked
	}
	return ""
}

// Facts are what a notice says (the engine's notice). Compose uses the
// fields its kind needs (Kind and Sender are the caller's); run summaries
// use Run and Decisions.
type Facts = domain.NoticeFacts

// Message is one composed notice: a subject, a plain-text body and an HTML
// body, and the facts the team topic's attributes carry.
type Message struct {
	Kind    Kind
	Subject string
	// Summary is the notice's opening paragraphs, for chat.
	Summary  string
	Text     string
	HTML     string
	Account  string
	Provider domain.Provider
	User     string // empty for a run summary
	KeyID    string
	RunID    string
}

// Compose writes the notice of the given kind from facts. Every string of
// facts is cleaned of control characters first (a key name or a reason
// comes from outside); the HTML body escapes what it shows, uses inline
// styles only and loads nothing from elsewhere.
func Compose(kind Kind, f Facts) Message {
	if r := f.Run; r != nil {
		// A run summary's facts are its run's.
		f.Account, f.Provider, f.RunID = or(f.Account, r.Account), domain.Provider(or(string(f.Provider), string(r.Provider))), or(f.RunID, r.RunID)
	}
	f = clean(f)
	if f.Provider == "" {
		f.Provider = domain.ProviderAWS
	}
	var v view
	switch kind {
	case KindWarning:
		v = warningView(f)
	case KindDeactivated:
		v = deactivatedView(f)
	case KindDeleted:
		v = deletedView(f)
	case KindRevoked:
		v = revokedView(f)
	case KindDue:
		v = dueView(f)
	case KindRunSummary:
		v = summaryView(f)
	default:
		v = view{Subject: "keysweep notice " + cleanString(string(kind)), Heading: "keysweep notice",
			Lead: []string{"keysweep sent a notice of an unknown kind."}}
	}
	v.Subject = subjectLine(v.Subject)
	if v.Footer == "" {
		v.Footer = footer(f)
	}
	m := Message{
		Kind: kind, Subject: v.Subject, Summary: strings.Join(v.Lead, "\n\n"), Account: f.Account, Provider: f.Provider,
		User: f.User, KeyID: f.KeyID, RunID: f.RunID,
	}
	m.Text, m.HTML = render(v)
	return m
}

// keyLabel names a key as its owner knows it.
func keyLabel(f Facts) string {
	if f.KeyName != "" {
		return fmt.Sprintf("%q (%s)", f.KeyName, f.KeyID)
	}
	return f.KeyID
}

// keyRows are the facts table of a key notice.
func keyRows(f Facts) []row {
	rows := []row{{"Key", keyLabel(f)}, {"Owner", f.User}, {"Account", f.Account + " (" + f.Provider.Title() + ")"}}
	if f.Target != "" && f.Target != domain.DefaultTarget {
		rows = append(rows, row{"Target", f.Target})
	}
	if !f.CreatedAt.IsZero() {
		rows = append(rows, row{"Created", day(f.CreatedAt)})
	}
	switch {
	case f.LastUsedAt != nil:
		rows = append(rows, row{"Last used", day(*f.LastUsedAt)})
	case f.Provider != domain.ProviderGMI:
		rows = append(rows, row{"Last used", "never"})
	}
	if f.Reason != "" {
		rows = append(rows, row{"Reason", f.Reason})
	}
	return rows
}

func footer(f Facts) string {
	parts := []string{"Sent by keysweep, which keeps this account free of stale access keys."}
	var ids []string
	if f.RunID != "" {
		ids = append(ids, "run "+f.RunID)
	}
	if f.PolicyVersion != "" {
		ids = append(ids, "policy "+f.PolicyVersion)
	}
	if f.Rule != "" {
		ids = append(ids, "rule "+f.Rule)
	}
	if len(ids) > 0 {
		parts = append(parts, capitalize(strings.Join(ids, ", "))+".")
	}
	return strings.Join(parts, " ")
}

func or(a, b string) string {
	if a != "" {
		return a
	}
	return b
}

// day formats a date; stamp a time, in UTC.
func day(t time.Time) string   { return t.UTC().Format(time.DateOnly) }
func stamp(t time.Time) string { return t.UTC().Format("2006-01-02 15:04 UTC") }

// daysUntil counts the days from now to t, rounded up, never below 0.
func daysUntil(now, t time.Time) int {
	d := t.Sub(now)
	if d <= 0 {
		return 0
	}
	return int((d + 24*time.Hour - 1) / (24 * time.Hour))
}

func plural(n int, unit string) string {
	if n == 1 {
		return "1 " + unit
	}
	return fmt.Sprintf("%d %ss", n, unit)
}

// subjectLine keeps a subject to one line of at most 200 characters.
func subjectLine(s string) string {
	s = strings.Join(strings.Fields(s), " ")
	if r := []rune(s); len(r) > 200 {
		s = string(r[:199]) + "…"
	}
	return s
}

// clean removes control characters from every string of f.
func clean(f Facts) Facts {
	for _, p := range []*string{&f.Account, &f.Target, &f.User, &f.KeyID, &f.KeyName, &f.Reason, &f.Rule,
		&f.StaleWhy, &f.ExemptionTag, &f.RunID, &f.PolicyVersion, &f.RequestedBy, &f.RequestReason, &f.Report, &f.ReportObject} {
		*p = cleanString(*p)
	}
	if len(f.Decisions) > 0 {
		ds := make([]domain.KeyDecision, len(f.Decisions))
		for i, d := range f.Decisions {
			d.UserName, d.AccessKeyID, d.KeyName = cleanString(d.UserName), cleanString(d.AccessKeyID), cleanString(d.KeyName)
			d.Reason, d.Error = cleanString(d.Reason), cleanString(d.Error)
			ds[i] = d
		}
		f.Decisions = ds
	}
	return f
}

// cleanString turns control characters (line breaks included: no fact
// spans lines) into spaces.
func cleanString(s string) string {
	return strings.Map(func(r rune) rune {
		if unicode.IsControl(r) || r == '\u2028' || r == '\u2029' {
			return ' '
		}
		return r
	}, s)
}
