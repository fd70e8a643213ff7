package engine

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/keysweep/keysweep/internal/domain"
	"github.com/keysweep/keysweep/policy"
)

// sweepRun is one run in progress.
type sweepRun struct {
	e     *Engine
	req   Request
	run   domain.Run
	res   *Result
	p     *policy.Policy
	start time.Time
	// work ends Margin before the deadline: key store calls and new
	// actions; book outlives cancellation: what was done is written down.
	work, book context.Context
	log        *slog.Logger
	t          *tally
	// tl tells people of the run's decisions; nil tells no one.
	tl *teller
}

// Run performs one sweep: mark crashed runs, settle crashed intents, take
// the inventory, judge every key, check the blast-radius cap, and (in
// enforce mode) act on the stale keys, each under its write-ahead lock,
// re-checked against the live key store and keysweep's state.
func (e *Engine) Run(ctx context.Context, req Request) (*Result, error) {
	start := e.now()
	work, cancelWork := e.workContext(ctx)
	defer cancelWork()
	book, cancelBook := bookkeeping(ctx, time.Minute)
	defer cancelBook()
	account, err := e.account(work)
	if err != nil {
		return nil, err
	}
	s := &sweepRun{e: e, req: req, res: &Result{}, start: start, work: work, book: book, t: &tally{counts: map[string]int{}}}
	s.run = domain.Run{
		RunID: req.RunID, Account: account, Target: e.Target, Trigger: req.Trigger, StartedAt: start,
		PolicySource: req.PolicySource, Users: req.Users, Counts: map[string]int{}, Outcome: domain.RunRunning,
		Parent: req.Parent, Deadline: deadline(ctx, start), Notes: req.Notes,
	}
	if p := e.Store.Provider(); p != domain.ProviderAWS {
		s.run.Provider = p
	}
	if s.run.RunID == "" {
		s.run.RunID = NewRunID(start)
	}
	if req.Policy != nil {
		s.run.PolicyVersion, s.run.Mode = req.Policy.Version, req.Policy.Mode
		if req.AuditOnly {
			s.run.Mode = policy.ModeAudit
		}
	}
	if dup, err := s.begin(); err != nil || dup {
		return s.res, err
	}
	s.log = e.log().With("run", s.run.RunID, "account", describe(e.Store.Provider(), account))
	return s.sweep()
}

// sweep runs a begun run to its end.
func (s *sweepRun) sweep() (*Result, error) {
	if err := s.checkPolicy(); err != nil {
		return s.finish(domain.RunFailed, err)
	}
	s.markCrashed()
	s.verifyLastRun()
	settled, err := s.e.settle(s.work, s.book, &s.run)
	if err != nil {
		s.t.fail(err.Error())
		s.log.Error("settle intents", "err", err)
	}
	s.settleNotices()
	s.tellSettled(settled)
	s.e.progress("inventory", 0, 1)
	inv, err := s.e.Store.Inventory(s.work)
	if err != nil {
		s.t.add(domain.CountErrors, 1)
		return s.finish(domain.RunFailed, fmt.Errorf("inventory: %w", err))
	}
	s.run.Inventory = inv.Source
	s.run.Notes = append(s.run.Notes, inv.Notes...)
	if inv.Fallback != "" {
		s.run.Errors = append(s.run.Errors, "fallback to listing: "+inv.Fallback)
	}
	scope := s.run.Scope()
	resume, err := s.e.Journal.Resume(s.work, scope)
	if err != nil {
		s.log.Warn("read resume cursor", "err", err)
		resume = ""
	}
	jd := s.e.judge(s.work, s.p, inv, narrow(inv.Owners, s.req.Users), resume, s.start, s.tl.horizon(s.run.Mode))
	s.res.Decisions = jd.decisions
	s.observe(jd.cands)
	planned := s.count(jd.decisions)
	if jd.stopped {
		// Judging could not finish: acting on a partial plan would bypass
		// the blast-radius cap, so nothing is changed.
		s.recordAll(s.res.Decisions, domain.KeyLater)
		return s.finish(domain.RunPartial, errors.New("deadline reached while judging keys; nothing changed, the next run starts over"))
	}
	over, why := s.p.CapExceeded(planned, inv.Keys())
	if over && s.run.Mode == policy.ModeEnforce {
		s.recordAll(s.res.Decisions, domain.KeyBlocked)
		s.tell(jd.cands, inv, s.req.Users == nil)
		return s.finish(domain.RunBlocked, fmt.Errorf("%w: %s; nothing changed", ErrBlocked, why))
	}
	if over {
		s.run.Errors = append(s.run.Errors, "in enforce mode the blast-radius cap would block this run: "+why)
	}
	if s.run.Mode != policy.ModeEnforce {
		s.recordAll(s.res.Decisions, domain.KeyPlanned)
		s.tell(jd.cands, inv, s.req.Users == nil)
		return s.finish(domain.RunCompleted, nil)
	}
	return s.enforce(jd.cands, inv, planned, resume)
}

// checkPolicy fails a run whose policy is missing or invalid; it changes
// nothing. Rules the key store cannot serve are noted.
func (s *sweepRun) checkPolicy() error {
	p := s.req.Policy
	if p == nil {
		perr := s.req.PolicyErr
		if perr == nil {
			perr = errors.New("no policy")
		}
		return fmt.Errorf("%w: %w; nothing changed", ErrPolicy, perr)
	}
	if err := p.Validate(); err != nil {
		return fmt.Errorf("%w: %w; nothing changed", ErrPolicy, err)
	}
	s.p = p
	s.run.Notes = append(s.run.Notes, capabilityNotes(p, s.e.abilities(), s.e.Store.Provider())...)
	var note string
	if s.tl, note = s.e.tellerFor(p); note != "" {
		s.run.Notes = append(s.run.Notes, note)
	}
	return nil
}

// observe starts the delete clock of inactive stale keys keysweep has no
// date for, in every mode: when the key was first seen inactive is a fact,
// not an action.
func (s *sweepRun) observe(cands []candidate) {
	for i := range cands {
		for _, j := range cands[i].decisions {
			if !j.observe {
				continue
			}
			st := domain.KeyState{Account: j.Account, Provider: s.run.Provider, UserName: j.UserName, AccessKeyID: j.AccessKeyID}
			if err := s.e.Journal.ObserveInactive(s.book, st, s.start); err != nil {
				s.t.fail(fmt.Sprintf("observe inactive %s: %v", j.AccessKeyID, err))
			}
		}
	}
}

// count tallies the plan and returns how many actions it has.
func (s *sweepRun) count(ds []domain.KeyDecision) int {
	planned := 0
	for _, d := range ds {
		s.t.add(domain.CountEvaluated, 1)
		s.t.add(string(d.Verdict), 1)
		if d.Verdict.Acts() {
			planned++
		}
		if d.Error != "" {
			s.t.add(domain.CountErrors, 1)
		}
	}
	return planned
}

// enforce acts on the plan and ends the run, keeping the resume cursor
// when the deadline stopped it.
func (s *sweepRun) enforce(cands []candidate, inv *domain.Inventory, planned int, resume string) (*Result, error) {
	lastDone, partial := s.actAll(cands, planned)
	s.copyOutcomes(cands, partial)
	s.tell(cands, inv, !partial && s.req.Users == nil)
	scope := s.run.Scope()
	if partial {
		if lastDone == "" {
			lastDone = resume // no owner finished: keep the old place
		}
		s.run.ResumeAfter = lastDone
		if s.req.Users == nil && lastDone != "" { // a narrowed run does not move the cursor
			if err := retryJournal(s.book, func(ctx context.Context) error {
				return s.e.Journal.SetResume(ctx, scope, s.run.RunID, lastDone)
			}); err != nil {
				s.log.Error("write resume cursor", "err", err)
				s.run.Errors = append(s.run.Errors, "resume cursor: "+err.Error())
			}
		}
		return s.finish(domain.RunPartial, nil)
	}
	if resume != "" && s.req.Users == nil {
		if err := s.e.Journal.SetResume(s.book, scope, s.run.RunID, ""); err != nil {
			s.log.Warn("clear resume cursor", "err", err)
		}
	}
	return s.finish(domain.RunCompleted, nil)
}

// copyOutcomes puts the acted-on decisions back into the run's list.
func (s *sweepRun) copyOutcomes(cands []candidate, partial bool) {
	byID := map[string]domain.KeyDecision{}
	for _, c := range cands {
		for _, j := range c.decisions {
			if j.AccessKeyID != "" {
				byID[j.AccessKeyID] = j.KeyDecision
			}
		}
	}
	for i, d := range s.res.Decisions {
		if nd, ok := byID[d.AccessKeyID]; ok && d.AccessKeyID != "" {
			s.res.Decisions[i] = nd
		} else if partial && d.Verdict.Acts() {
			s.res.Decisions[i].Outcome = domain.KeyLater
		}
	}
}

// finish writes the run record with its outcome; a run never ends without
// its record, even when the caller's context is done.
func (s *sweepRun) finish(outcome domain.RunOutcome, runErr error) (*Result, error) {
	end := s.e.now()
	s.run.Outcome, s.run.FinishedAt = outcome, &end
	s.run.DurationMs = end.Sub(s.start).Milliseconds()
	for k, v := range s.t.counts {
		s.run.Counts[k] += v
	}
	s.run.Errors = append(s.run.Errors, s.t.errors...)
	if runErr == nil && s.run.Counts[domain.CountErrors] > 0 {
		runErr = fmt.Errorf("%d errors; see the run's records", s.run.Counts[domain.CountErrors])
	}
	if runErr != nil {
		s.run.Errors = append(s.run.Errors, runErr.Error())
	}
	runErr = errors.Join(runErr, s.archive())
	if err := retryJournal(s.book, func(ctx context.Context) error { return s.e.Journal.FinishRun(ctx, &s.run) }); err != nil {
		s.logger().Error("finish run record", "err", err)
		runErr = errors.Join(runErr, fmt.Errorf("finish run: %w", err))
	}
	s.res.Run = s.run
	s.logger().Info("run finished", "outcome", outcome, "counts", s.run.Counts, "durationMs", s.run.DurationMs)
	return s.res, runErr
}

func (s *sweepRun) logger() *slog.Logger {
	if s.log != nil {
		return s.log
	}
	return s.e.log()
}

// archive keeps the run's records in write-once storage, when the engine
// has one and the run wrote any.
func (s *sweepRun) archive() error {
	if s.e.Archive == nil {
		return nil
	}
	recs, err := s.e.Journal.ByRun(s.book, s.run.RunID)
	if err == nil && len(recs) == 0 {
		return nil
	}
	uri := ""
	if err == nil {
		uri, err = s.e.Archive.Export(s.book, s.run, recs)
	}
	if err != nil {
		err = fmt.Errorf("archive the run's records: %w", err)
		s.run.Errors = append(s.run.Errors, err.Error())
		return err
	}
	s.run.Notes = append(s.run.Notes, fmt.Sprintf("%d records archived to %s", len(recs), uri))
	return nil
}
