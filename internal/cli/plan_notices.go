package cli

import (
	"context"
	"fmt"
	"time"

	"github.com/keysweep/keysweep/internal/domain"
	"github.com/keysweep/keysweep/internal/engine"
	"github.com/keysweep/keysweep/internal/notify"
	"github.com/keysweep/keysweep/internal/wiring"
	"github.com/keysweep/keysweep/policy"
)

// planNoticeHeader is `plan --notices`' table.
var planNoticeHeader = []string{"CHANNEL", "TO", "KIND", "USER", "KEY", "DATE", "SUBJECT"}

// noticeChannels are the channels a plan lists: the deployment's, from the
// environment the functions read; with none set there, every channel a
// deployment can have, so that the plan shows what the policy asks for.
func noticeChannels(c wiring.NoticeConfig) (engine.Channels, string) {
	if c.Sender != "" || c.TopicARN != "" || c.SecurityHub {
		return engine.Channels{Email: c.Sender != "", Topic: c.TopicARN, Findings: c.SecurityHub}, ""
	}
	return engine.Channels{Email: true, Topic: "(the stack's topic)", Findings: true},
		fmt.Sprintf("no notice channel is set here (%s, %s, %s): listing what a deployment with all three would send",
			wiring.EnvNoticeSender, wiring.EnvNoticeTopic, wiring.EnvSecurityHub)
}

// runPlanNotices lists what a sweep at when would tell whom, channel by
// channel; it changes nothing and sends nothing.
func runPlanNotices(ctx context.Context, s *streams, o *planOptions, eng *engine.Engine, p *policy.Policy, source string, when time.Time, nc wiring.NoticeConfig) error {
	ch, note := noticeChannels(nc)
	np, err := eng.PlanNotices(ctx, p, when, splitList(o.users), ch)
	if err != nil {
		return err
	}
	rows := make([][]string, 0, len(np.Notices))
	for _, n := range np.Notices {
		rows = append(rows, noticeRow(n))
	}
	if o.output == formatJSON {
		type planned struct {
			engine.PlannedNotice
			Subject string `json:"subject"`
		}
		out := make([]planned, len(np.Notices))
		for i, n := range np.Notices {
			out[i] = planned{PlannedNotice: n, Subject: rows[i][len(rows[i])-1]}
		}
		return writeJSON(s.out, map[string]any{"policyVersion": p.Version, "policySource": source, "mode": p.Mode,
			"at": np.At, "channels": np.Channels, "notices": out})
	}
	if err := writeRows(s.out, o.output, planNoticeHeader, rows); err != nil {
		return err
	}
	if o.output == formatTable {
		fmt.Fprintf(s.err, "\n%d notices a sweep at %s would send; policy %s (%s, mode %s); nothing was sent\n",
			len(np.Notices), np.At.Format(time.RFC3339), p.Version, source, p.Mode)
		if note != "" {
			fmt.Fprintln(s.err, "note: "+note)
		}
		if p.Notify == nil {
			fmt.Fprintln(s.err, "note: the policy has no notify section: owners and the team are told nothing")
		} else if p.Mode == policy.ModeAudit && !p.Notify.WarnInAudit {
			fmt.Fprintln(s.err, "note: audit mode: owners get no warnings (notify.warnInAudit) and no action is taken")
		}
	}
	return nil
}

// noticeRow is one planned notice as the table shows it, with the subject
// its message would have.
func noticeRow(n engine.PlannedNotice) []string {
	to, subject := n.Recipient, ""
	switch {
	case n.Finding != nil:
		to, subject = "Security Hub", notify.FindingID(n.Finding.Provider, n.Finding.Account, n.Finding.KeyID)+" FAILED"
	default:
		subject = notify.Compose(notify.Kind(n.Kind), n.Notice).Subject
	}
	if n.Problem != "" {
		if to == "" {
			to = "nobody"
		}
		to += " (" + n.Problem + ")"
	}
	date := ""
	if !n.Date.IsZero() {
		date = n.Date.UTC().Format(time.DateOnly)
	}
	channel := n.Channel
	if channel == domain.ChannelTeam {
		channel = "sns"
	}
	return []string{channel, to, n.Kind, n.User, n.KeyID, date, subject}
}
