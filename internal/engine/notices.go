package engine

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/keysweep/keysweep/internal/domain"
	"github.com/keysweep/keysweep/policy"
)

// teller is how one run (or one revocation) tells people: the notifier,
// the journal's claims, and which channels the policy and the deployment
// turn on. Every key notice is claimed in the journal before it is sent
// and settled after, so that no retried or duplicated event, crashed run
// or second run at once sends it twice.
type teller struct {
	e   *Engine
	n   Notifier
	j   NoticeJournal
	p   *policy.Policy
	cfg *policy.Notify // nil: no notify section (no owner or team notices)
	ch  Channels
	// email: owners are told by e-mail (a sender, and an owner tag or a
	// fallback address); team: the team topic gets actions and run
	// summaries; findings: Security Hub keeps a finding per stale key.
	email, team, findings bool

	mu   sync.Mutex
	last map[string]time.Time // key id → time of its latest record in this run
}

// tellerFor returns how a run under policy p tells people, or nil when it
// tells no one; note says why a notifier that is set cannot be used.
func (e *Engine) tellerFor(p *policy.Policy) (t *teller, note string) {
	if e.Notifier == nil || p == nil {
		return nil, ""
	}
	j, ok := e.Journal.(NoticeJournal)
	if !ok {
		return nil, "notices are off: the journal cannot claim them, and a notice that is not claimed could be sent twice"
	}
	t = newTeller(e, p, e.Notifier.Channels())
	if t == nil {
		return nil, ""
	}
	t.n, t.j = e.Notifier, j
	return t, ""
}

// newTeller says which channels a run under p uses, given the
// deployment's; nil when it uses none.
func newTeller(e *Engine, p *policy.Policy, ch Channels) *teller {
	t := &teller{e: e, p: p, cfg: p.Notify, ch: ch, last: map[string]time.Time{}}
	if n := t.cfg; n != nil {
		// The deployment's sender turns e-mail on (its role may send only
		// as that identity); the policy's sender, if any, is the From.
		t.email = ch.Email && (n.OwnerEmailTag != "" || n.FallbackEmail != "")
		t.team = n.PublishesToTeam(ch.Topic != "")
	}
	t.findings = ch.Findings
	if !t.email && !t.team && !t.findings {
		return nil
	}
	return t
}

// horizon is how far ahead a run of mode m looks for soon-stale keys:
// the largest warning day when owners are warned or findings kept, else
// not at all (a sweep's usual cost).
func (t *teller) horizon(m policy.Mode) time.Duration {
	if t == nil || !(t.findings || (t.email && t.cfg.WarnsIn(m))) {
		return 0
	}
	return t.cfg.Horizon()
}

// stamp gives the time of a key's next record in this run: now, but after
// after and after the key's previous one (records of a key sort by time).
func (t *teller) stamp(id string, after time.Time) time.Time {
	t.mu.Lock()
	defer t.mu.Unlock()
	at := t.e.now()
	for _, prev := range []time.Time{after, t.last[id]} {
		if !at.After(prev) {
			at = prev.Add(time.Microsecond)
		}
	}
	t.last[id] = at
	return at
}

// tells reports whether the owner is told of a notice of kind.
func (t *teller) tells(kind string) bool {
	if !t.email {
		return false
	}
	switch kind {
	case NoticeWarning, NoticeDue:
		return t.cfg.Tells(policy.EventWarning)
	case NoticeDeactivated:
		return t.cfg.Tells(policy.EventDeactivated)
	case NoticeDeleted:
		return t.cfg.Tells(policy.EventDeleted)
	case NoticeRevoked:
		return t.cfg.Tells(policy.EventRevoked)
	}
	return false
}

// publishes reports whether the team topic gets a notice of kind: every
// action; warnings stay between keysweep and the owner.
func (t *teller) publishes(kind string) bool {
	return t.team && kind != NoticeWarning
}

// claimOf names a notice once and for all: its kind and channel, and
// what it is about. A warning is about a stale date and a warning day
// (the key that becomes stale again, on a new date, is warned anew); an
// action about the run that carried it out (each action is one run's,
// under its intent's lock), so date is zero and written "-": a later run
// that settles a crashed run's action claims the same notice.
func claimOf(kind, channel string, date time.Time, disc string) string {
	d := "-"
	if !date.IsZero() {
		d = date.UTC().Format(time.DateOnly)
	}
	return fmt.Sprintf("%s#%s#%s#%s", kind, channel, d, disc)
}

// delivered is what became of one notice.
type delivered struct {
	// claimed: the notice was claimed before (sent or tried by an
	// earlier run, or being sent by another): nothing was done.
	claimed bool
	notice  domain.Notice
}

// failed reports a notice that reached no one it was meant for.
func (d delivered) failed() bool {
	return !d.claimed && (d.notice.Status == domain.NoticeFailed || d.notice.Error != "")
}

// deliver claims rec's notice, sends it and settles it. rec is the notice
// record as claimed: status "sending", or "failed" with its error when
// nothing can be sent (then send is not called). The claim and the
// settlement are written on book, which outlives the run's work context;
// a send cut short by its context is settled "unknown": it may have gone
// out.
func (t *teller) deliver(ctx, book context.Context, rec domain.Record, send func(context.Context) (string, error)) delivered {
	n := *rec.Notice
	rec.Notice = &n
	err := retryJournal(book, func(c context.Context) error { return t.j.ClaimNotice(c, rec) })
	switch {
	case errors.Is(err, domain.ErrNoticeClaimed):
		return delivered{claimed: true, notice: n}
	case err != nil:
		t.e.log().Error("claim notice; not sent", "key", rec.AccessKeyID, "claim", n.Claim, "err", err)
		n.Status, n.Error = domain.NoticeFailed, "not sent: its claim could not be written: "+err.Error()
		return delivered{notice: n}
	}
	if n.Status != domain.NoticeSending {
		return delivered{notice: n}
	}
	id, serr := send(ctx)
	out := rec
	settled := n
	out.Notice = &settled
	out.At = t.stamp(rec.AccessKeyID, rec.At)
	settled.MessageID = id
	switch {
	case serr == nil:
		settled.Status = domain.NoticeSent
	case errors.Is(serr, context.DeadlineExceeded) || errors.Is(serr, context.Canceled):
		settled.Status, settled.Error = domain.NoticeUnknown, "the send was cut short and may have gone out: "+serr.Error()
	default:
		settled.Status, settled.Error = domain.NoticeFailed, joinReason(settled.Error, serr.Error())
	}
	if err := retryJournal(book, func(c context.Context) error { return t.j.SettleNotice(c, out) }); err != nil {
		// The unsettled marker stays: a later run settles it "unknown".
		t.e.log().Error("settle notice", "key", rec.AccessKeyID, "claim", n.Claim, "status", settled.Status, "err", err)
	}
	if serr != nil {
		t.e.log().Warn("notice not delivered", "key", rec.AccessKeyID, "kind", n.Kind, "channel", n.Channel, "err", serr)
	}
	return delivered{notice: settled}
}

// count puts what became of a notice on the run's counters.
func count(tl *tally, d delivered) {
	switch {
	case d.claimed:
	case d.notice.Status == domain.NoticeUnknown:
		tl.add(domain.CountNoticesUnknown, 1)
	case d.failed():
		tl.add(domain.CountNoticesFailed, 1)
	default:
		tl.add(domain.CountNoticesSent, 1)
	}
}

// Errors of an owner's address.
var (
	errNoRecipient      = errors.New("no recipient address")
	errInvalidRecipient = errors.New("recipient is not an e-mail address")
)

// ownerAddress is where an owner's e-mail goes: the address in the owner
// tag, else the fallback. A tag that is not an address is an error (naming
// the tag) with the fallback still given, so that someone is told and the
// tag gets fixed; without either, errNoRecipient.
func ownerAddress(tags map[string]string, n *policy.Notify) (string, error) {
	if n.OwnerEmailTag != "" {
		if v, ok := tags[n.OwnerEmailTag]; ok && strings.TrimSpace(v) != "" {
			v = strings.TrimSpace(v)
			if err := policy.CheckEmail(v); err != nil {
				return n.FallbackEmail, fmt.Errorf("%w: owner tag %s=%q: %v", errInvalidRecipient, n.OwnerEmailTag, v, err)
			}
			return v, nil
		}
	}
	if n.FallbackEmail != "" {
		return n.FallbackEmail, nil
	}
	if n.OwnerEmailTag == "" {
		return "", fmt.Errorf("%w: the policy names no owner tag and no fallback address", errNoRecipient)
	}
	return "", fmt.Errorf("%w: the owner has no %s tag and the policy no fallback address", errNoRecipient, n.OwnerEmailTag)
}

// recipient reads the owner's address: from the tags judging read, else
// from one read of the owner's tags now (only owners that get an e-mail
// cost it).
func (t *teller) recipient(ctx context.Context, owner domain.Owner, tags map[string]string) (string, error) {
	if tags == nil && t.cfg.OwnerEmailTag != "" && t.e.Store.Capabilities().OwnerTags {
		read, err := t.e.Store.OwnerTags(ctx, owner)
		if err != nil {
			to := t.cfg.FallbackEmail
			return to, fmt.Errorf("%w: the owner's tags could not be read: %v", errNoRecipient, err)
		}
		tags = read
	}
	return ownerAddress(tags, t.cfg)
}

// address is an owner's e-mail address, read on first use only: an
// owner whose notices were all sent before costs no tag read.
type address struct {
	read func() (string, error)
	once bool
	to   string
	err  error
}

func (a *address) get() (string, error) {
	if !a.once {
		a.to, a.err = a.read()
		a.once = true
	}
	return a.to, a.err
}

// tellKey sends a key's notice n to its owner (by e-mail, when the policy
// tells the owner of its kind) and to the team topic (actions), each
// claimed as claim says, skipping those claimed before with one read.
// base is the key's record.
func (t *teller) tellKey(ctx, book context.Context, base domain.Record, n Notice, due *time.Time, claim func(channel string) string, to *address) []delivered {
	var out []delivered
	rec := func(channel, recipient string) domain.Record {
		r := base
		r.Kind, r.At = domain.KindNotice, t.stamp(base.AccessKeyID, base.At)
		r.Notice = &domain.Notice{Kind: n.Kind, Channel: channel, Recipient: recipient, DueDate: due,
			Status: domain.NoticeSending, Claim: claim(channel)}
		return r
	}
	// claimed reads whether the notice went out before; a read that fails
	// leaves it to the claim's own condition.
	claimed := func(channel string) bool {
		ok, err := t.j.Claimed(book, base.AccessKeyID, claim(channel))
		return ok && err == nil
	}
	if t.tells(n.Kind) && !claimed(domain.ChannelEmail) {
		addr, toErr := to.get()
		r := rec(domain.ChannelEmail, addr)
		if toErr != nil {
			r.Notice.Error = toErr.Error()
			if addr == "" {
				r.Notice.Status = domain.NoticeFailed
			} else {
				r.Notice.Error += "; sent to the fallback address"
			}
		}
		out = append(out, t.deliver(ctx, book, r, func(c context.Context) (string, error) { return t.n.Email(c, addr, n) }))
	}
	if t.publishes(n.Kind) && !claimed(domain.ChannelTeam) {
		out = append(out, t.deliver(ctx, book, rec(domain.ChannelTeam, t.ch.Topic), func(c context.Context) (string, error) { return t.n.Team(c, n) }))
	}
	return out
}
