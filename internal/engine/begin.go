package engine

import (
	"errors"
	"fmt"
	"time"

	"github.com/keysweep/keysweep/internal/domain"
)

// crashSlack is how long past its deadline a run still marked running is
// taken for crashed: its function is long dead by then.
const crashSlack = time.Minute

// begin writes the run record, claiming the trigger's event. A second
// delivery of an event is answered as a duplicate (dup true), except in
// two cases where the first run changed nothing it could be blamed for:
// it failed before recording a single decision (it runs again under the
// same id), or it crashed, its record still running past its deadline (a
// new run takes over the event).
func (s *sweepRun) begin() (dup bool, err error) {
	e := s.e
	err = e.Journal.BeginRun(s.book, &s.run)
	var de *domain.DuplicateEventError
	if err == nil {
		return false, nil
	}
	if !errors.As(err, &de) {
		return false, fmt.Errorf("begin run: %w", err)
	}
	prev, err := e.Journal.GetRun(s.book, de.RunID)
	if err != nil {
		return false, fmt.Errorf("read run %s of event %s: %w", de.RunID, de.EventID, err)
	}
	switch {
	case prev.Outcome == domain.RunFailed:
		restarted, err := s.restart(prev)
		if err != nil || restarted {
			return false, err
		}
	case s.crashed(prev) || prev.Outcome == domain.RunCrashed:
		return s.retryCrashed(prev)
	}
	e.log().Info("duplicate event: nothing to do", "event", de.EventID, "run", de.RunID)
	s.run.RunID, s.run.Outcome = de.RunID, domain.RunDuplicate
	s.res.Run, s.res.Duplicate = s.run, true
	return true, nil
}

// crashed reports whether run is still marked running past its deadline.
func (s *sweepRun) crashed(run *domain.Run) bool {
	return run.Outcome == domain.RunRunning && run.Deadline != nil && s.e.now().After(run.Deadline.Add(crashSlack))
}

// restart runs again, under the same id, a run of the same event that
// failed without recording a single decision (the inventory and the
// listing were both throttled, the journal refused a read, the policy was
// invalid): it changed nothing, so the retry keeps the account from going
// unswept until the next schedule. The earlier errors are kept.
func (s *sweepRun) restart(prev *domain.Run) (bool, error) {
	recs, err := s.e.Journal.ByRun(s.book, prev.RunID)
	if err != nil {
		return false, fmt.Errorf("read records of run %s: %w", prev.RunID, err)
	}
	if len(recs) > 0 {
		return false, nil
	}
	s.run.RunID = prev.RunID
	for _, msg := range prev.Errors {
		s.run.Errors = append(s.run.Errors, "earlier attempt: "+msg)
	}
	if err := s.e.Journal.FinishRun(s.book, &s.run); err != nil {
		return false, fmt.Errorf("restart run %s: %w", s.run.RunID, err)
	}
	s.e.log().Warn("duplicate event of a run that failed before deciding anything: running it again", "event", s.run.Trigger.EventID, "run", s.run.RunID)
	return true, nil
}

// retryCrashed marks prev crashed and begins this run in its place; the
// next steps settle whatever intents prev left.
func (s *sweepRun) retryCrashed(prev *domain.Run) (bool, error) {
	if prev.Outcome == domain.RunRunning {
		if _, err := s.e.Journal.MarkCrashed(s.book, prev, s.crashNote(prev)); err != nil {
			return false, fmt.Errorf("mark run %s crashed: %w", prev.RunID, err)
		}
	}
	if s.run.RunID == prev.RunID {
		s.run.RunID = NewRunID(s.start)
	}
	s.run.Notes = append(s.run.Notes, fmt.Sprintf("retry of event %s, whose run %s crashed", s.run.Trigger.EventID, prev.RunID))
	err := s.e.Journal.RetryEvent(s.book, &s.run, prev.RunID)
	var de *domain.DuplicateEventError
	if errors.As(err, &de) {
		// Another retry took the event first.
		s.run.RunID, s.run.Outcome = de.RunID, domain.RunDuplicate
		s.res.Run, s.res.Duplicate = s.run, true
		return true, nil
	}
	if err != nil {
		return false, fmt.Errorf("retry event of crashed run %s: %w", prev.RunID, err)
	}
	s.e.log().Warn("duplicate event of a crashed run: running it again", "event", s.run.Trigger.EventID, "crashed", prev.RunID, "run", s.run.RunID)
	return false, nil
}

func (s *sweepRun) crashNote(prev *domain.Run) string {
	return fmt.Sprintf("crashed: still running past its deadline %s; marked by run %s",
		prev.Deadline.UTC().Format(time.RFC3339), s.run.RunID)
}

// markCrashed marks the scope's other runs that are still running past
// their deadline as crashed, so that no run stays running forever.
func (s *sweepRun) markCrashed() {
	runs, err := s.e.Journal.RunningRuns(s.work, s.run.Scope())
	if err != nil {
		s.log.Warn("list running runs", "err", err)
		return
	}
	for i := range runs {
		r := &runs[i]
		if r.RunID == s.run.RunID || !s.crashed(r) {
			continue
		}
		marked, err := s.e.Journal.MarkCrashed(s.book, r, s.crashNote(r))
		if err != nil {
			s.log.Warn("mark crashed run", "crashed", r.RunID, "err", err)
			continue
		}
		if marked {
			s.run.Notes = append(s.run.Notes, fmt.Sprintf("run %s was still running past its deadline: marked crashed", r.RunID))
			s.log.Warn("marked a crashed run", "crashed", r.RunID)
		}
	}
}
