package dynamo

import (
	"context"
	"errors"
	"sync"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/keysweep/keysweep/internal/domain"
	"github.com/keysweep/keysweep/internal/journal"
	"github.com/keysweep/keysweep/internal/journal/mem"
)

// NoticeContract is what both journals offer the engine for notices.
type NoticeContract interface {
	Claimed(ctx context.Context, accessKeyID, claim string) (bool, error)
	ClaimNotice(ctx context.Context, rec domain.Record) error
	SettleNotice(ctx context.Context, rec domain.Record) error
	PendingNotices(ctx context.Context, scope string) ([]domain.Record, error)
	OpenFindings(ctx context.Context, scope string) ([]domain.FindingMark, error)
	MarkFinding(ctx context.Context, scope string, f domain.FindingMark) error
	ClearFinding(ctx context.Context, scope, accessKeyID string) error
}

var (
	_ NoticeContract = (*Journal)(nil)
	_ NoticeContract = (*mem.Journal)(nil)
)

func notice(run, key, claim, status string, minutes int) domain.Record {
	r := rec(domain.KindNotice, run, key, minutes)
	r.Action = ""
	r.Notice = &domain.Notice{Kind: "warning", Channel: domain.ChannelEmail, Recipient: "alice@example.com",
		DueDate: utc(60 * 24 * 3), Status: status, Claim: claim}
	return r
}

func statuses(t *testing.T, s contract, key string) []string {
	t.Helper()
	recs, err := s.ByKey(t.Context(), key)
	must(t, err)
	var out []string
	for _, r := range recs {
		if r.Notice != nil {
			out = append(out, r.Notice.Claim+":"+r.Notice.Status)
		}
	}
	return out
}

// A notice is claimed once: a second claim (a retried event, a second
// run) writes nothing; it is settled once; an unsettled one is listed for
// a later run; the records are in the key's hash chain.
func TestNoticeClaims(t *testing.T) {
	const key, claim = "AKIANOTICE", "warning#email#2025-03-07#3d"
	for _, im := range impls {
		t.Run(im.name, func(t *testing.T) {
			s, _ := im.new(t, clock)
			nj := s.(NoticeContract)
			ctx := t.Context()
			if ok, err := nj.Claimed(ctx, key, claim); ok || err != nil {
				t.Fatalf("Claimed before the claim = %v, %v", ok, err)
			}
			must(t, nj.ClaimNotice(ctx, notice("r-1", key, claim, domain.NoticeSending, 1)))
			if ok, err := nj.Claimed(ctx, key, claim); !ok || err != nil {
				t.Fatalf("Claimed after the claim = %v, %v", ok, err)
			}
			if err := nj.ClaimNotice(ctx, notice("r-2", key, claim, domain.NoticeSending, 2)); !errors.Is(err, domain.ErrNoticeClaimed) {
				t.Fatalf("second claim = %v, want ErrNoticeClaimed", err)
			}
			pending, err := nj.PendingNotices(ctx, "111122223333")
			must(t, err)
			if len(pending) != 1 || pending[0].Notice.Claim != claim || pending[0].RunID != "r-1" {
				t.Fatalf("pending = %+v, want the claim of r-1", pending)
			}
			sent := notice("r-1", key, claim, domain.NoticeSent, 3)
			sent.Notice.MessageID = "m-1"
			must(t, nj.SettleNotice(ctx, sent))
			if err := nj.SettleNotice(ctx, notice("r-2", key, claim, domain.NoticeUnknown, 4)); !errors.Is(err, domain.ErrNoticeSettled) {
				t.Fatalf("second settlement = %v, want ErrNoticeSettled", err)
			}
			if pending, _ := nj.PendingNotices(ctx, "111122223333"); len(pending) != 0 {
				t.Errorf("pending after settlement = %+v", pending)
			}
			// A notice that cannot be sent is claimed failed at once.
			failed := notice("r-1", key, "warning#email#2025-03-07#14d", domain.NoticeFailed, 5)
			failed.Notice.Error = "no recipient address"
			must(t, nj.ClaimNotice(ctx, failed))
			if err := nj.SettleNotice(ctx, notice("r-1", key, "warning#email#2025-03-07#14d", domain.NoticeSent, 6)); !errors.Is(err, domain.ErrNoticeSettled) {
				t.Errorf("settling a failed claim = %v, want ErrNoticeSettled", err)
			}
			want := []string{claim + ":sending", claim + ":sent", "warning#email#2025-03-07#14d:failed"}
			if diff := cmp.Diff(want, statuses(t, s, key)); diff != "" {
				t.Errorf("notice records (-want +got):\n%s", diff)
			}
			recs, err := s.ByKey(ctx, key)
			must(t, err)
			st, err := s.KeyState(ctx, key)
			must(t, err)
			if v := journal.Verify(key, recs, st); !v.OK() {
				t.Errorf("chain: %v", v.Problems)
			}
			for _, bad := range []domain.Record{
				notice("r-1", key, "", domain.NoticeSending, 7),
				notice("r-1", key, "x", domain.NoticeSent, 8),
			} {
				if err := nj.ClaimNotice(ctx, bad); !errors.Is(err, domain.ErrInvalidRecord) {
					t.Errorf("ClaimNotice(%+v) = %v, want ErrInvalidRecord", bad.Notice, err)
				}
			}
		})
	}
}

// Two runs at once claim the same notice: exactly one gets it.
func TestNoticeClaimRace(t *testing.T) {
	const key = "AKIARACE"
	for _, im := range impls {
		t.Run(im.name, func(t *testing.T) {
			s, _ := im.new(t, clock)
			nj := s.(NoticeContract)
			var wg sync.WaitGroup
			errs := make([]error, 4)
			for i := range errs {
				wg.Go(func() {
					errs[i] = nj.ClaimNotice(context.Background(), notice("r-"+string(rune('a'+i)), key, "deleted#email#2025-03-04#r", domain.NoticeSending, i))
				})
			}
			wg.Wait()
			won := 0
			for _, err := range errs {
				switch {
				case err == nil:
					won++
				case !errors.Is(err, domain.ErrNoticeClaimed):
					t.Errorf("claim: %v", err)
				}
			}
			if won != 1 {
				t.Errorf("%d claims won, want 1 (%v)", won, errs)
			}
		})
	}
}

// Open findings are kept per scope; the first opening stays.
func TestFindingMarks(t *testing.T) {
	for _, im := range impls {
		t.Run(im.name, func(t *testing.T) {
			s, _ := im.new(t, clock)
			nj := s.(NoticeContract)
			ctx := t.Context()
			first := domain.FindingMark{AccessKeyID: "AKIA1", Account: "111122223333", UserName: "alice", KeyCreatedAt: utc(-100), OpenedAt: at(1).UTC()}
			must(t, nj.MarkFinding(ctx, "111122223333", first))
			again := first
			again.OpenedAt = at(2).UTC()
			must(t, nj.MarkFinding(ctx, "111122223333", again))
			must(t, nj.MarkFinding(ctx, "gmi:org-1", domain.FindingMark{AccessKeyID: "k-1", Account: "org-1", Provider: domain.ProviderGMI, UserName: "u", OpenedAt: at(3).UTC()}))
			got, err := nj.OpenFindings(ctx, "111122223333")
			must(t, err)
			if diff := cmp.Diff([]domain.FindingMark{first}, got); diff != "" {
				t.Errorf("open findings (-want +got):\n%s", diff)
			}
			must(t, nj.ClearFinding(ctx, "111122223333", "AKIA1"))
			if got, _ := nj.OpenFindings(ctx, "111122223333"); len(got) != 0 {
				t.Errorf("open findings after clearing = %+v", got)
			}
			if got, _ := nj.OpenFindings(ctx, "gmi:org-1"); len(got) != 1 {
				t.Errorf("other scope's findings = %+v, want 1", got)
			}
		})
	}
}
