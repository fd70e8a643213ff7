package journal

import (
	"fmt"

	"github.com/keysweep/keysweep/internal/domain"
)

// CheckNotice refuses a notice record a journal cannot claim or settle:
// one without its notice, its claim, or a status that fits the step. A
// claim is written "sending" (the send follows) or already settled
// ("failed": nothing was sent, e.g. no valid address); a settlement is
// "sent", "failed" or "unknown".
func CheckNotice(rec domain.Record, settle bool) error {
	if err := CheckRecord(rec, domain.KindNotice); err != nil {
		return err
	}
	n := rec.Notice
	if n.Claim == "" {
		return fmt.Errorf("%w: notice without claim", domain.ErrInvalidRecord)
	}
	switch {
	case !settle && n.Status != domain.NoticeSending && n.Status != domain.NoticeFailed:
		return fmt.Errorf("%w: a notice is claimed sending or failed, not %q", domain.ErrInvalidRecord, n.Status)
	case settle && n.Status != domain.NoticeSent && n.Status != domain.NoticeFailed && n.Status != domain.NoticeUnknown:
		return fmt.Errorf("%w: a notice is settled sent, failed or unknown, not %q", domain.ErrInvalidRecord, n.Status)
	}
	return nil
}
