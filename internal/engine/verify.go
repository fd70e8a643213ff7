package engine

import (
	"github.com/keysweep/keysweep/internal/domain"
	"github.com/keysweep/keysweep/internal/journal"
)

// maxVerifiedKeys bounds the keys a run checks: a run that wrote more
// leaves the rest to `keysweep audit --verify`.
const maxVerifiedKeys = 2000

// verifyLastRun checks the hash chains of the keys the scope's last run
// wrote records for: a record changed or removed since is said on this
// run (an error, and the chainBroken counter the ChainBroken alarm
// watches). `keysweep audit --verify` checks every key.
func (s *sweepRun) verifyLastRun() {
	cc, ok := s.e.Journal.(ChainChecker)
	if !ok {
		return
	}
	prev, err := cc.LastRun(s.work, s.run.Scope())
	if err != nil || prev == "" || prev == s.run.RunID {
		if err != nil {
			s.log.Warn("read the last run", "err", err)
		}
		return
	}
	recs, err := s.e.Journal.ByRun(s.work, prev)
	if err != nil {
		s.log.Warn("read the last run's records", "run", prev, "err", err)
		return
	}
	seen := map[string]bool{}
	for _, r := range recs {
		if seen[r.AccessKeyID] || len(seen) >= maxVerifiedKeys {
			continue
		}
		seen[r.AccessKeyID] = true
		s.verifyKey(r.AccessKeyID)
	}
}

func (s *sweepRun) verifyKey(id string) {
	hist, err := s.e.Journal.ByKey(s.work, id)
	if err != nil {
		return
	}
	st, err := s.e.Journal.KeyState(s.work, id)
	if err != nil {
		return
	}
	v := journal.Verify(id, hist, st)
	for _, p := range v.Problems {
		s.t.add(domain.CountChainBroken, 1)
		s.t.fail("audit trail changed after it was written: " + p.String())
		s.log.Error("audit trail changed after it was written", "key", id, "problem", p.String())
	}
}
