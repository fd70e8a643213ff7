package sweep

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/keysweep/keysweep/policy"
	"github.com/keysweep/keysweep/store"
)

// Counters recorded on the run record. Verdict counters (keep, exempt,
// deactivate, delete) count the plan; the others count what happened.
const (
	CountEvaluated   = "evaluated"
	CountKeep        = "keep"
	CountExempt      = "exempt"
	CountDeactivate  = "deactivate"
	CountDelete      = "delete"
	CountDeactivated = "deactivated"
	CountDeleted     = "deleted"
	CountGone        = "gone"    // already deleted by someone else
	CountKept        = "kept"    // kept by the live re-check
	CountBusy        = "busy"    // another run holds an intent on the key
	CountSettled     = "settled" // crashed intents settled
	CountErrors      = "errors"
)

// Action outcomes on a KeyDecision.
const (
	OutcomePlanned = "planned" // audit mode, or a plan
	OutcomeBlocked = "blocked" // blast-radius cap
	OutcomeDone    = "done"
	OutcomeGone    = "gone"
	OutcomeKept    = "kept"
	OutcomeBusy    = "busy"
	OutcomeFailed  = "failed"
	OutcomeLater   = "later" // the run stopped before the deadline; the next run continues
)

// DefaultMargin is how long before its deadline a run stops taking new work.
const DefaultMargin = 20 * time.Second

// DefaultResolveConcurrency bounds the per-user IAM reads of a run.
const DefaultResolveConcurrency = 4

// DefaultActConcurrency bounds the users whose keys a run acts on at once.
const DefaultActConcurrency = 4

// Engine runs sweeps. Its zero value is not usable: set Provider and Journal.
type Engine struct {
	Provider Provider
	Journal  Journal
	// Now is the clock; time.Now when nil.
	Now func() time.Time
	// Logger; slog.Default when nil.
	Logger *slog.Logger
	// Margin before the context deadline at which the run stops taking new
	// work; DefaultMargin when zero.
	Margin time.Duration
	// Concurrency bounds the per-user reads; DefaultResolveConcurrency when zero.
	Concurrency int
	// ActConcurrency bounds the users acted on at once (each user's keys
	// are acted on one after another); DefaultActConcurrency when zero.
	ActConcurrency int
	// Progress, when set, is told how far a run got (stage, done, total).
	Progress func(stage string, done, total int)
	// ResolveAll reads every user's keys live, not only candidates' (one
	// ListAccessKeys per user): a plan that lists every key with its id.
	ResolveAll bool
	// SettleAfter is how old an unsettled intent must be before a run
	// settles it; younger ones may belong to a run still in flight.
	// DefaultSettleAfter when zero.
	SettleAfter time.Duration
}

// DefaultSettleAfter exceeds the longest Lambda run (15 minutes): an intent
// older than that belongs to a run that is no longer alive.
const DefaultSettleAfter = 16 * time.Minute

// Request describes one run.
type Request struct {
	Trigger      store.Trigger
	Policy       *policy.Policy // nil with PolicyErr set: the run fails and changes nothing
	PolicySource string         // stored | builtin-default | file
	PolicyErr    error
	// AuditOnly narrows an enforce policy to audit for this run.
	AuditOnly bool
	// Users narrows the run to these user names (nil: all).
	Users []string
	// RunID is used when set (the API hands it out before the run starts).
	RunID string
	// Parent names an organization run.
	Parent string
}

// KeyDecision is the verdict on one key and what became of it.
type KeyDecision struct {
	Account     string        `json:"account"`
	UserName    string        `json:"userName"`
	UserPath    string        `json:"userPath,omitempty"`
	AccessKeyID string        `json:"accessKeyId"`
	Status      policy.Status `json:"status"`
	CreatedAt   time.Time     `json:"createdAt"`
	LastUsedAt  *time.Time    `json:"lastUsedAt,omitempty"`
	policy.Decision
	Outcome string `json:"outcome,omitempty"`
	Error   string `json:"error,omitempty"`
	// Slot is the credential report's key number when the id is unknown.
	Slot int `json:"slot,omitempty"`
}

// Result is what a run did.
type Result struct {
	Run store.Run `json:"run"`
	// Decisions holds every key judged (keeps included) in user order.
	Decisions []KeyDecision `json:"decisions,omitempty"`
	// Duplicate is set when the event was already handled by Run.RunID.
	Duplicate bool `json:"duplicate,omitempty"`
}

// ErrPolicy wraps an invalid or unreadable policy: the run changed nothing.
var ErrPolicy = errors.New("policy")

// ErrBlocked is returned when the blast-radius cap stopped a run.
var ErrBlocked = errors.New("blast-radius cap exceeded")

func (e *Engine) now() time.Time {
	if e.Now != nil {
		return e.Now().UTC()
	}
	return time.Now().UTC()
}

func (e *Engine) log() *slog.Logger {
	if e.Logger != nil {
		return e.Logger
	}
	return slog.Default()
}

func (e *Engine) progress(stage string, done, total int) {
	if e.Progress != nil {
		e.Progress(stage, done, total)
	}
}

// NewRunID returns a sortable, unique run id.
func NewRunID(at time.Time) string {
	var b [4]byte
	_, _ = rand.Read(b[:])
	return "r-" + at.UTC().Format("20060102T150405Z") + "-" + hex.EncodeToString(b[:])
}

// runHistory is the part of the audit store that reads a run back; the
// DynamoDB and in-process journals have it.
type runHistory interface {
	GetRun(ctx context.Context, runID string) (*store.Run, error)
	ByRun(ctx context.Context, runID string) ([]store.Record, error)
}

// restart handles a second delivery of an event whose run failed without
// recording a single decision (the credential report and the listing were
// both throttled, DynamoDB refused a read, the policy was invalid): such a
// run changed nothing, so the retry runs it again under the same run id,
// keeping the earlier errors, instead of answering "duplicate" and leaving
// the account unswept until the next schedule. A run that recorded
// anything, or is still running, is never started again. It reports
// whether run now holds the restarted run.
func (e *Engine) restart(ctx context.Context, run *store.Run, dup *store.DuplicateEventError) (bool, error) {
	h, ok := e.Journal.(runHistory)
	if !ok {
		return false, nil
	}
	prev, err := h.GetRun(ctx, dup.RunID)
	if err != nil {
		return false, fmt.Errorf("read run %s of event %s: %w", dup.RunID, dup.EventID, err)
	}
	if prev.Outcome != store.OutcomeFailed {
		return false, nil
	}
	recs, err := h.ByRun(ctx, dup.RunID)
	if err != nil {
		return false, fmt.Errorf("read records of run %s: %w", dup.RunID, err)
	}
	if len(recs) > 0 {
		return false, nil
	}
	run.RunID = dup.RunID
	for _, msg := range prev.Errors {
		run.Errors = append(run.Errors, "earlier attempt: "+msg)
	}
	if err := e.Journal.FinishRun(ctx, run); err != nil {
		return false, fmt.Errorf("restart run %s: %w", run.RunID, err)
	}
	e.log().Warn("duplicate event of a run that failed before deciding anything: running it again", "event", dup.EventID, "run", run.RunID)
	return true, nil
}

// candidate is one user whose keys need a closer look.
type candidate struct {
	user      User
	tags      map[string]string
	live      []policy.Key
	decisions []KeyDecision
	err       error
}

// Run performs one sweep: settle crashed intents, take the inventory, judge
// every key, check the blast-radius cap, and (in enforce mode) act on the
// stale keys, each re-checked against live data with an intent written
// before the IAM call and an outcome after it.
func (e *Engine) Run(ctx context.Context, req Request) (*Result, error) {
	start := e.now()
	account, err := e.Provider.AccountID(ctx)
	if err != nil {
		return nil, fmt.Errorf("account id: %w", err)
	}
	run := store.Run{
		RunID:        req.RunID,
		Account:      account,
		Trigger:      req.Trigger,
		StartedAt:    start,
		PolicySource: req.PolicySource,
		Users:        req.Users,
		Counts:       map[string]int{},
		Outcome:      store.OutcomeRunning,
		Parent:       req.Parent,
	}
	if run.RunID == "" {
		run.RunID = NewRunID(start)
	}
	if req.Policy != nil {
		run.PolicyVersion = req.Policy.Version
		run.Mode = req.Policy.Mode
		if req.AuditOnly {
			run.Mode = policy.ModeAudit
		}
	}
	res := &Result{}
	if err := e.Journal.BeginRun(ctx, &run); err != nil {
		var dup *store.DuplicateEventError
		if !errors.As(err, &dup) {
			return nil, fmt.Errorf("begin run: %w", err)
		}
		restarted, rerr := e.restart(ctx, &run, dup)
		if rerr != nil {
			return nil, rerr
		}
		if !restarted {
			e.log().Info("duplicate event: nothing to do", "event", dup.EventID, "run", dup.RunID)
			run.RunID = dup.RunID
			run.Outcome = store.OutcomeDuplicate
			res.Run = run
			res.Duplicate = true
			return res, nil
		}
	}
	log := e.log().With("run", run.RunID, "account", account)

	finish := func(outcome string, runErr error) (*Result, error) {
		end := e.now()
		run.Outcome = outcome
		run.FinishedAt = &end
		run.DurationMs = end.Sub(start).Milliseconds()
		if runErr != nil {
			run.Errors = append(run.Errors, runErr.Error())
		}
		// The run record is written even when the caller's context is
		// done: a run must never end without its record.
		wctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
		defer cancel()
		if err := e.Journal.FinishRun(wctx, &run); err != nil {
			log.Error("finish run record", "err", err)
			runErr = errors.Join(runErr, fmt.Errorf("finish run: %w", err))
		}
		res.Run = run
		log.Info("run finished", "outcome", outcome, "counts", run.Counts, "durationMs", run.DurationMs)
		return res, runErr
	}

	if req.Policy == nil {
		perr := req.PolicyErr
		if perr == nil {
			perr = errors.New("no policy")
		}
		return finish(store.OutcomeFailed, fmt.Errorf("%w: %w; nothing changed", ErrPolicy, perr))
	}
	p := req.Policy
	if err := p.Validate(); err != nil {
		return finish(store.OutcomeFailed, fmt.Errorf("%w: %w; nothing changed", ErrPolicy, err))
	}

	// Settle what a crashed run left between intent and outcome.
	if err := e.settle(ctx, account, &run); err != nil {
		run.Counts[CountErrors]++
		run.Errors = append(run.Errors, err.Error())
		log.Error("settle intents", "err", err)
	}

	e.progress("inventory", 0, 1)
	inv, err := e.Provider.Inventory(ctx)
	if err != nil {
		run.Counts[CountErrors]++
		return finish(store.OutcomeFailed, fmt.Errorf("inventory: %w", err))
	}
	run.Inventory = inv.Source
	if inv.Fallback != "" {
		run.Errors = append(run.Errors, "fallback to listing: "+inv.Fallback)
	}
	users := narrow(inv.Users, req.Users)
	totalKeys := 0
	for _, u := range inv.Users {
		totalKeys += len(u.Keys)
	}

	resume, err := e.Journal.Resume(ctx, account)
	if err != nil {
		log.Warn("read resume cursor", "err", err)
		resume = ""
	}
	decisions, cands, stopped, err := e.judge(ctx, p, users, len(inv.Users), resume, start, true)
	if err != nil {
		run.Counts[CountErrors]++
		return finish(store.OutcomeFailed, err)
	}
	res.Decisions = decisions
	planned := 0
	for _, d := range decisions {
		run.Counts[CountEvaluated]++
		run.Counts[string(d.Verdict)]++
		if d.Verdict.Acts() {
			planned++
		}
		if d.Error != "" {
			run.Counts[CountErrors]++
		}
	}
	if stopped {
		// Judging could not finish: acting on a partial plan would bypass
		// the blast-radius cap, so nothing is changed.
		e.recordDecisions(ctx, &run, p, res.Decisions, OutcomeLater)
		return finish(store.OutcomePartial, errors.New("deadline reached while judging keys; nothing changed, the next run starts over"))
	}
	over, why := p.CapExceeded(planned, totalKeys)
	if over && run.Mode == policy.ModeEnforce {
		e.recordDecisions(ctx, &run, p, res.Decisions, OutcomeBlocked)
		return finish(store.OutcomeBlocked, fmt.Errorf("%w: %s; nothing changed", ErrBlocked, why))
	}
	if over {
		run.Errors = append(run.Errors, "in enforce mode the blast-radius cap would block this run: "+why)
	}
	if run.Mode != policy.ModeEnforce {
		e.recordDecisions(ctx, &run, p, res.Decisions, OutcomePlanned)
		return finish(store.OutcomeCompleted, nil)
	}

	// Enforce: exempt decisions are recorded and actions taken, users
	// started in order, a few at once so that the run is held by IAM's
	// rate limit rather than by the latency of each key's re-check, intent,
	// IAM call and outcome. Each user's work is tallied on its own copy of
	// the run record and merged when it ends.
	partial := false
	lastDone := ""
	acted := 0
	actConc := e.ActConcurrency
	if actConc <= 0 {
		actConc = DefaultActConcurrency
	}
	var actMu sync.Mutex
	actSem := make(chan struct{}, actConc)
	var actWG sync.WaitGroup
	base := run // what act and record read of the run: taken before any merge
	base.Counts, base.Errors = nil, nil
	for ci := range cands {
		c := &cands[ci]
		if e.nearDeadline(ctx) {
			partial = true
			break
		}
		actSem <- struct{}{}
		actWG.Add(1)
		go func() {
			defer actWG.Done()
			defer func() { <-actSem }()
			tally := base
			tally.Counts = map[string]int{}
			for di := range c.decisions {
				d := &c.decisions[di]
				switch {
				case d.Verdict == policy.Exempt:
					e.record(ctx, &tally, p, d, store.KindDecision, "", "")
				case d.Verdict.Acts():
					e.act(ctx, &tally, p, c, d)
					actMu.Lock()
					acted++
					e.progress("act", acted, planned)
					actMu.Unlock()
				}
			}
			actMu.Lock()
			defer actMu.Unlock()
			for k, n := range tally.Counts {
				run.Counts[k] += n
			}
			run.Errors = append(run.Errors, tally.Errors...)
		}()
		// Every user started is finished before the run ends (the wait
		// below), so the last one started is where the next run resumes.
		lastDone = c.user.Name
	}
	actWG.Wait()
	// Copy the outcomes back into the full list of decisions.
	byID := map[string]KeyDecision{}
	for _, c := range cands {
		for _, d := range c.decisions {
			if d.AccessKeyID != "" {
				byID[d.AccessKeyID] = d
			}
		}
	}
	for i, d := range res.Decisions {
		if nd, ok := byID[d.AccessKeyID]; ok && d.AccessKeyID != "" {
			res.Decisions[i] = nd
		} else if partial && d.Verdict.Acts() {
			res.Decisions[i].Outcome = OutcomeLater
		}
	}
	if partial {
		if lastDone == "" {
			lastDone = resume // no user finished: keep the old place
		}
		run.ResumeAfter = lastDone
		if req.Users != nil || lastDone == "" {
			// A narrowed run does not move the account's cursor.
			return finish(store.OutcomePartial, nil)
		}
		if err := e.Journal.SetResume(ctx, account, run.RunID, lastDone); err != nil {
			log.Error("write resume cursor", "err", err)
			run.Errors = append(run.Errors, "resume cursor: "+err.Error())
		}
		return finish(store.OutcomePartial, nil)
	}
	if resume != "" && req.Users == nil {
		if err := e.Journal.SetResume(ctx, account, run.RunID, ""); err != nil {
			log.Warn("clear resume cursor", "err", err)
		}
	}
	if run.Counts[CountErrors] > 0 {
		return finish(store.OutcomeCompleted, fmt.Errorf("%d errors; see the run's records", run.Counts[CountErrors]))
	}
	return finish(store.OutcomeCompleted, nil)
}

// nearDeadline reports whether the context's deadline is within the margin.
func (e *Engine) nearDeadline(ctx context.Context) bool {
	if ctx.Err() != nil {
		return true
	}
	dl, ok := ctx.Deadline()
	if !ok {
		return false
	}
	m := e.Margin
	if m == 0 {
		m = DefaultMargin
	}
	return time.Until(dl) < m
}

// narrow keeps only the named users; nil keeps all.
func narrow(users []User, names []string) []User {
	if names == nil {
		return users
	}
	want := map[string]bool{}
	for _, n := range names {
		want[n] = true
	}
	var out []User
	for _, u := range users {
		if want[u.Name] {
			out = append(out, u)
		}
	}
	return out
}

// rotate orders users to start after the resume cursor, wrapping around.
func rotate(users []User, after string) []User {
	if after == "" {
		return users
	}
	i := sort.Search(len(users), func(i int) bool { return users[i].Name > after })
	return append(append([]User{}, users[i:]...), users[:i]...)
}

// judge screens every key on the inventory's facts, then loads live facts
// (tags, key ids and status, keysweep's own state) for the users that hold
// a candidate key and judges those keys in full. It does not change IAM.
// accountUsers is how many users the whole account has (users may be a
// narrowed part of it).
func (e *Engine) judge(ctx context.Context, p *policy.Policy, users []User, accountUsers int, resume string, now time.Time, write bool) ([]KeyDecision, []candidate, bool, error) {
	var out []KeyDecision
	var cands []candidate
	for _, u := range rotate(users, resume) {
		screened := e.ResolveAll && len(u.Keys) > 0
		for _, k := range u.Keys {
			// A stale key spared by a known exemption is a candidate too:
			// its exempt decision is recorded, and a record needs its id.
			if p.Screen(k, now) {
				screened = true
				break
			}
			if d := p.Evaluate(k, now); d.Verdict == policy.Exempt && d.Stale {
				screened = true
				break
			}
		}
		if screened {
			cands = append(cands, candidate{user: u})
		}
	}

	if p.NeedsTags() {
		e.preloadTags(ctx, cands, accountUsers)
	}

	conc := e.Concurrency
	if conc <= 0 {
		conc = DefaultResolveConcurrency
	}
	stopped := false
	var mu sync.Mutex
	done := 0
	sem := make(chan struct{}, conc)
	var wg sync.WaitGroup
	for i := range cands {
		if e.nearDeadline(ctx) {
			stopped = true
			break
		}
		sem <- struct{}{}
		wg.Add(1)
		go func(c *candidate) {
			defer wg.Done()
			defer func() { <-sem }()
			c.err = e.resolve(ctx, p, c, now, write)
			mu.Lock()
			done++
			e.progress("judge", done, len(cands))
			mu.Unlock()
		}(&cands[i])
	}
	wg.Wait()
	if stopped || e.nearDeadline(ctx) {
		stopped = true
	}

	candByName := map[string]*candidate{}
	for i := range cands {
		candByName[cands[i].user.Name] = &cands[i]
	}
	for _, u := range users {
		c, ok := candByName[u.Name]
		if !ok || (c.live == nil && c.err == nil) {
			// Not a candidate (or never resolved): judged on inventory facts.
			for slot, k := range u.Keys {
				d := p.Evaluate(k, now)
				if ok && d.Verdict.Acts() {
					d.Verdict = policy.Keep
					d.Reason = "not judged: the run stopped before the deadline"
				}
				out = append(out, keyDecision(k, d, slot+1))
			}
			continue
		}
		if c.err != nil {
			for slot, k := range u.Keys {
				kd := keyDecision(k, policy.Decision{Verdict: policy.Keep, Reason: "not judged: " + c.err.Error()}, slot+1)
				kd.Error = c.err.Error()
				kd.Outcome = OutcomeFailed
				out = append(out, kd)
			}
			continue
		}
		out = append(out, c.decisions...)
	}
	return out, cands, stopped, nil
}

// preloadTags reads the candidates' tags in one paged listing when the
// provider offers it (TagDirectory) and that costs fewer calls than one
// UserTags call per candidate. If the listing fails, or a candidate is not in
// it, resolve reads that user's tags on its own, as it would without it.
func (e *Engine) preloadTags(ctx context.Context, cands []candidate, accountUsers int) {
	dir, ok := e.Provider.(TagDirectory)
	if !ok || len(cands) <= dir.TagPages(accountUsers) {
		return
	}
	names := make([]string, len(cands))
	for i := range cands {
		names[i] = cands[i].user.Name
	}
	tags, err := dir.TagsOf(ctx, names)
	if err != nil {
		e.log().Warn("read tags in bulk; reading each candidate's tags instead", "users", len(names), "err", err)
		return
	}
	for i := range cands {
		if t, ok := tags[cands[i].user.Name]; ok {
			if t == nil {
				t = map[string]string{} // listed, with no tags
			}
			cands[i].tags = t
		}
	}
}

func keyDecision(k policy.Key, d policy.Decision, slot int) KeyDecision {
	kd := KeyDecision{
		Account:     k.Account,
		UserName:    k.UserName,
		UserPath:    k.UserPath,
		AccessKeyID: k.AccessKeyID,
		Status:      k.Status,
		CreatedAt:   k.CreatedAt,
		LastUsedAt:  k.LastUsedAt,
		Decision:    d,
	}
	if k.AccessKeyID == "" {
		kd.Slot = slot
	}
	return kd
}

// resolve loads the live facts of one candidate user and judges its keys.
func (e *Engine) resolve(ctx context.Context, p *policy.Policy, c *candidate, now time.Time, write bool) error {
	u := c.user
	if p.NeedsTags() {
		tags := c.tags // read in bulk by preloadTags
		if tags == nil {
			var err error
			tags, err = e.Provider.UserTags(ctx, u.Name)
			if err != nil {
				if errors.Is(err, ErrKeyNotFound) {
					c.live = []policy.Key{}
					return nil
				}
				return fmt.Errorf("tags of %s: %w", u.Name, err)
			}
		}
		if tags == nil {
			tags = map[string]string{}
		}
		c.tags = tags
		// A tag exemption or override may settle the user without reading
		// its keys: screen again with the tags known.
		still := false
		for _, k := range u.Keys {
			k.UserTags = tags
			if p.Screen(k, now) {
				still = true
				break
			}
		}
		if !still {
			var ds []KeyDecision
			exemptStale := false
			for slot, k := range u.Keys {
				k.UserTags = tags
				d := p.Evaluate(k, now)
				exemptStale = exemptStale || (d.Verdict == policy.Exempt && d.Stale)
				ds = append(ds, keyDecision(k, d, slot+1))
			}
			if !exemptStale && !e.ResolveAll {
				c.live = []policy.Key{}
				c.decisions = ds
				return nil
			}
			// A stale key spared by an exemption is recorded, and a
			// record needs the key's id: read the user's keys.
		}
	}
	live, err := e.Provider.UserKeys(ctx, u.Name)
	if err != nil {
		if errors.Is(err, ErrKeyNotFound) {
			c.live = []policy.Key{}
			return nil
		}
		return fmt.Errorf("keys of %s: %w", u.Name, err)
	}
	c.live = live
	for _, lk := range live {
		k := lk
		k.Account = firstNonEmpty(k.Account, accountOf(u))
		k.UserName = u.Name
		k.UserPath = u.Path
		k.UserTags = c.tags
		k.LastUsedAt = lastUsedFromInventory(u, lk)
		// keysweep's own state matters only to an inactive key (when it
		// was deactivated starts the delete clock): active keys cost no read.
		if k.Status == policy.StatusInactive {
			st, err := e.Journal.KeyState(ctx, k.AccessKeyID)
			if err != nil {
				return fmt.Errorf("state of %s: %w", k.AccessKeyID, err)
			}
			if st != nil && st.DeactivatedAt != nil {
				t := *st.DeactivatedAt
				k.DeactivatedAt = &t
			}
		}
		d := p.Evaluate(k, now)
		if k.Status == policy.StatusInactive && d.Stale && k.DeactivatedAt == nil {
			// Start the delete clock for a key someone else deactivated
			// (a plan only pretends to).
			if write {
				if err := e.Journal.ObserveInactive(ctx, k.Account, k.UserName, k.AccessKeyID, now); err != nil {
					return fmt.Errorf("observe inactive %s: %w", k.AccessKeyID, err)
				}
			}
			t := now
			k.DeactivatedAt = &t
			d = p.Evaluate(k, now)
		}
		c.decisions = append(c.decisions, keyDecision(k, d, 0))
	}
	// A key the inventory had but IAM no longer has was deleted in
	// between: nothing to do, but say so.
	for slot, k := range u.Keys {
		if k.AccessKeyID != "" || matchesLive(k, live) {
			continue
		}
		kd := keyDecision(k, policy.Decision{Verdict: policy.Keep, Reason: "in the inventory but no longer in IAM: already deleted"}, slot+1)
		kd.Outcome = OutcomeGone
		c.decisions = append(c.decisions, kd)
	}
	return nil
}

func matchesLive(k policy.Key, live []policy.Key) bool {
	for _, l := range live {
		if k.CreatedAt.Truncate(time.Second).Equal(l.CreatedAt.Truncate(time.Second)) {
			return true
		}
	}
	return false
}

func accountOf(u User) string {
	for _, k := range u.Keys {
		if k.Account != "" {
			return k.Account
		}
	}
	return ""
}

func firstNonEmpty(a, b string) string {
	if a != "" {
		return a
	}
	return b
}

// lastUsedFromInventory finds the inventory's last-use fact for a live key:
// by id when the inventory has ids, else by creation time to the second (the
// credential report's key columns carry no id).
func lastUsedFromInventory(u User, live policy.Key) *time.Time {
	for _, k := range u.Keys {
		if k.AccessKeyID != "" {
			if k.AccessKeyID == live.AccessKeyID {
				return k.LastUsedAt
			}
			continue
		}
		if k.CreatedAt.Truncate(time.Second).Equal(live.CreatedAt.Truncate(time.Second)) {
			return k.LastUsedAt
		}
	}
	return nil
}

// liveKey reads whether user still holds the key, and its status, from IAM
// now.
func (e *Engine) liveKey(ctx context.Context, user, id string) (present bool, status policy.Status, err error) {
	keys, err := e.Provider.UserKeys(ctx, user)
	if errors.Is(err, ErrKeyNotFound) {
		return false, "", nil // the user is gone, and its keys with it
	}
	if err != nil {
		return false, "", err
	}
	for _, k := range keys {
		if k.AccessKeyID == id {
			return true, k.Status, nil
		}
	}
	return false, "", nil
}

// gone records a planned action whose key vanished before keysweep acted.
func (e *Engine) gone(ctx context.Context, run *store.Run, p *policy.Policy, d *KeyDecision, detail string) {
	d.Outcome = OutcomeGone
	run.Counts[CountGone]++
	e.record(ctx, run, p, d, store.KindDecision, "", "key already gone before keysweep acted"+detail)
}

// act re-checks one planned action against live IAM data and carries it out
// between a write-ahead intent and an outcome record.
func (e *Engine) act(ctx context.Context, run *store.Run, p *policy.Policy, c *candidate, d *KeyDecision) {
	log := e.log().With("run", run.RunID, "user", d.UserName, "key", d.AccessKeyID)
	now := e.now()
	// Re-read last use right before acting: the report can be hours old.
	owner, last, err := e.Provider.LastUsed(ctx, d.AccessKeyID)
	if errors.Is(err, ErrKeyNotFound) {
		e.gone(ctx, run, p, d, "")
		return
	}
	if err != nil {
		// IAM may refuse GetAccessKeyLastUsed for a key id it cannot tie to
		// a user of the account (one deleted meanwhile, say) with
		// AccessDenied rather than NoSuchEntity: the user's live key list
		// tells whether the key is still there.
		if present, _, lerr := e.liveKey(ctx, d.UserName, d.AccessKeyID); lerr == nil && !present {
			e.gone(ctx, run, p, d, " (last-use re-check: "+err.Error()+")")
			return
		}
		d.Outcome, d.Error = OutcomeFailed, err.Error()
		run.Counts[CountErrors]++
		e.record(ctx, run, p, d, store.KindDecision, "", "live re-check failed: "+err.Error())
		return
	}
	k := policy.Key{
		Account: d.Account, UserName: d.UserName, UserPath: d.UserPath, UserTags: c.tags,
		AccessKeyID: d.AccessKeyID, Status: d.Status, CreatedAt: d.CreatedAt, LastUsedAt: last,
	}
	if d.Verdict == policy.Delete {
		// A deletion cannot be undone: re-read the key's status too, right
		// before it. A key its owner reactivated since the plan was made
		// is judged as active (at most deactivated again), not deleted.
		present, st, lerr := e.liveKey(ctx, d.UserName, d.AccessKeyID)
		switch {
		case lerr != nil:
			d.Outcome, d.Error = OutcomeFailed, lerr.Error()
			run.Counts[CountErrors]++
			e.record(ctx, run, p, d, store.KindDecision, "", "live status re-check failed: "+lerr.Error())
			return
		case !present:
			e.gone(ctx, run, p, d, "")
			return
		}
		k.Status = st
		d.Status = st
	}
	if owner != "" && owner != d.UserName {
		d.Outcome, d.Error = OutcomeFailed, fmt.Sprintf("key now belongs to %s, not %s", owner, d.UserName)
		run.Counts[CountErrors]++
		e.record(ctx, run, p, d, store.KindDecision, "", d.Error)
		return
	}
	if k.Status == policy.StatusInactive {
		if st, err := e.Journal.KeyState(ctx, d.AccessKeyID); err == nil && st != nil && st.DeactivatedAt != nil {
			t := *st.DeactivatedAt
			k.DeactivatedAt = &t
		}
	}
	nd := p.Evaluate(k, now)
	d.LastUsedAt = last
	if !nd.Verdict.Acts() {
		prev := d.Decision.Reason
		d.Decision = nd
		d.Outcome = OutcomeKept
		run.Counts[CountKept]++
		e.record(ctx, run, p, d, store.KindDecision, "", "live re-check kept the key (planned on: "+prev+")")
		return
	}
	d.Decision = nd
	action := string(nd.Verdict)
	intent := e.recordOf(run, p, d, store.KindIntent, action, "", "")
	if err := e.Journal.WriteIntent(ctx, intent); err != nil {
		if errors.Is(err, store.ErrIntentPending) {
			d.Outcome = OutcomeBusy
			run.Counts[CountBusy]++
			log.Warn("key has an unsettled intent; left alone this run")
			return
		}
		d.Outcome, d.Error = OutcomeFailed, "write intent: "+err.Error()
		run.Counts[CountErrors]++
		log.Error("write intent; IAM not called", "err", err)
		return
	}
	switch nd.Verdict {
	case policy.Deactivate:
		err = e.Provider.Deactivate(ctx, d.UserName, d.AccessKeyID)
	case policy.Delete:
		err = e.Provider.Delete(ctx, d.UserName, d.AccessKeyID)
	}
	result := store.ResultDone
	msg := ""
	switch {
	case errors.Is(err, ErrKeyNotFound):
		result = store.ResultGone
		d.Outcome = OutcomeGone
		run.Counts[CountGone]++
	case err != nil:
		result = store.ResultFailed
		msg = err.Error()
		d.Outcome, d.Error = OutcomeFailed, msg
		run.Counts[CountErrors]++
		log.Error("iam call failed", "action", action, "err", err)
	default:
		d.Outcome = OutcomeDone
		if nd.Verdict == policy.Deactivate {
			run.Counts[CountDeactivated]++
		} else {
			run.Counts[CountDeleted]++
		}
	}
	out := e.recordOf(run, p, d, store.KindOutcome, action, result, msg)
	out.At = e.now()
	wctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
	defer cancel()
	if err := e.Journal.WriteOutcome(wctx, out); err != nil {
		// The intent stays; the next run settles it against live IAM data.
		run.Counts[CountErrors]++
		run.Errors = append(run.Errors, fmt.Sprintf("outcome of %s %s: %v", action, d.AccessKeyID, err))
		log.Error("write outcome; the next run settles the intent", "err", err)
	}
}

func (e *Engine) recordOf(run *store.Run, p *policy.Policy, d *KeyDecision, kind, action, result, msg string) store.Record {
	return store.Record{
		Kind:          kind,
		RunID:         run.RunID,
		Account:       firstNonEmpty(d.Account, run.Account),
		UserName:      d.UserName,
		AccessKeyID:   d.AccessKeyID,
		Decision:      d.Verdict,
		Reason:        d.Reason,
		Rule:          d.Rule,
		PolicyVersion: p.Version,
		Mode:          run.Mode,
		At:            e.now(),
		Action:        action,
		Result:        result,
		Error:         msg,
		Actor:         actor(run.Trigger),
	}
}

func actor(t store.Trigger) string {
	if t.Source != "" {
		return t.Kind + ":" + t.Source
	}
	return t.Kind
}

// record writes a decision record; a failure is counted, not fatal.
func (e *Engine) record(ctx context.Context, run *store.Run, p *policy.Policy, d *KeyDecision, kind, action, note string) {
	rec := e.recordOf(run, p, d, kind, action, d.Outcome, d.Error)
	if note != "" && note != d.Error {
		rec.Reason = strings.TrimSpace(rec.Reason + " — " + note)
	}
	if err := e.Journal.RecordDecision(ctx, rec); err != nil {
		run.Counts[CountErrors]++
		run.Errors = append(run.Errors, fmt.Sprintf("record %s: %v", d.AccessKeyID, err))
		e.log().Error("record decision", "key", d.AccessKeyID, "err", err)
	}
}

// recordDecisions writes a decision record for every non-keep decision of a
// run that changes nothing (audit mode, blocked, stopped).
func (e *Engine) recordDecisions(ctx context.Context, run *store.Run, p *policy.Policy, ds []KeyDecision, outcome string) {
	for i := range ds {
		d := &ds[i]
		if d.Verdict == policy.Keep || d.AccessKeyID == "" {
			continue
		}
		if d.Verdict.Acts() {
			d.Outcome = outcome
		}
		e.record(ctx, run, p, d, store.KindDecision, "", "")
	}
}

// settle resolves intents left without an outcome by a run that crashed:
// each is checked against live IAM data and closed with what really happened.
func (e *Engine) settle(ctx context.Context, account string, run *store.Run) error {
	pending, err := e.Journal.PendingIntents(ctx, account)
	if err != nil {
		return fmt.Errorf("pending intents: %w", err)
	}
	var errs []error
	after := e.SettleAfter
	if after == 0 {
		after = DefaultSettleAfter
	}
	for _, in := range pending {
		if in.RunID == run.RunID || e.now().Sub(in.At) < after {
			// Possibly a run still in flight: its key stays locked by
			// the intent, and a later run settles it if it crashed.
			continue
		}
		live, err := e.Provider.UserKeys(ctx, in.UserName)
		if err != nil && !errors.Is(err, ErrKeyNotFound) {
			errs = append(errs, fmt.Errorf("settle %s: %w", in.AccessKeyID, err))
			continue
		}
		var found *policy.Key
		for i := range live {
			if live[i].AccessKeyID == in.AccessKeyID {
				found = &live[i]
			}
		}
		result := store.ResultNotApplied
		switch in.Action {
		case string(policy.Deactivate):
			if found == nil {
				result = store.ResultGone
			} else if found.Status == policy.StatusInactive {
				result = store.ResultSettled
			}
		case string(policy.Delete):
			if found == nil {
				result = store.ResultSettled
			}
		}
		out := in
		out.Kind = store.KindOutcome
		out.Result = result
		out.At = e.now()
		out.Reason = fmt.Sprintf("settled by run %s: intent of run %s found %s in IAM", run.RunID, in.RunID, result)
		if err := e.Journal.WriteOutcome(ctx, out); err != nil {
			errs = append(errs, fmt.Errorf("settle %s: %w", in.AccessKeyID, err))
			continue
		}
		run.Counts[CountSettled]++
		e.log().Info("settled crashed intent", "key", in.AccessKeyID, "action", in.Action, "result", result, "intentRun", in.RunID)
	}
	return errors.Join(errs...)
}

// Plan is what a sweep would decide at a given time.
type Plan struct {
	Account     string        `json:"account"`
	At          time.Time     `json:"at"`
	Inventory   string        `json:"inventory"`
	Fallback    string        `json:"fallback,omitempty"`
	GeneratedAt time.Time     `json:"generatedAt"`
	TotalKeys   int           `json:"totalKeys"`
	Actions     int           `json:"actions"`
	CapExceeded string        `json:"capExceeded,omitempty"`
	Decisions   []KeyDecision `json:"decisions"`
}

// Plan judges every key as a sweep at time at would, reading IAM and the
// audit table and writing nothing. users narrows it (nil: all).
func (e *Engine) Plan(ctx context.Context, p *policy.Policy, at time.Time, users []string) (*Plan, error) {
	if err := p.Validate(); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrPolicy, err)
	}
	account, err := e.Provider.AccountID(ctx)
	if err != nil {
		return nil, fmt.Errorf("account id: %w", err)
	}
	e.progress("inventory", 0, 1)
	inv, err := e.Provider.Inventory(ctx)
	if err != nil {
		return nil, fmt.Errorf("inventory: %w", err)
	}
	pl := &Plan{Account: account, At: at.UTC(), Inventory: inv.Source, Fallback: inv.Fallback, GeneratedAt: inv.GeneratedAt}
	for _, u := range inv.Users {
		pl.TotalKeys += len(u.Keys)
	}
	ds, _, _, err := e.judge(ctx, p, narrow(inv.Users, users), len(inv.Users), "", at.UTC(), false)
	if err != nil {
		return nil, err
	}
	pl.Decisions = ds
	for _, d := range ds {
		if d.Verdict.Acts() {
			pl.Actions++
		}
	}
	if over, why := p.CapExceeded(pl.Actions, pl.TotalKeys); over {
		pl.CapExceeded = why
	}
	return pl, nil
}
