package report_test

import (
	"fmt"
	"time"

	"github.com/keysweep/keysweep/internal/domain"
	"github.com/keysweep/keysweep/internal/report"
	"github.com/keysweep/keysweep/policy"
)

// scaleKeys makes n keys of n/2 users: every staleEvery-th key stale
// (old, unused), the others within limits.
func scaleKeys(n, staleEvery int) []demoKey {
	keys := make([]demoKey, n)
	for i := range keys {
		created, used := 5+(i*7)%80, (i*3)%40
		if i%staleEvery == 0 {
			created, used = 100+(i*13)%600, 50+(i*11)%90
		}
		used = min(used, created)
		k := awsKey(fmt.Sprintf("user-%05d", i/2), "/", fmt.Sprintf("AKIASCALE%011d", i), policy.StatusActive, created, used, -1)
		if i%97 == 0 {
			k.key.LastUsedAt = nil // never used
		}
		keys[i] = k
	}
	return keys
}

// scaleInput is a report of n keys with a forecast of weeks weeks, a
// thousand records and a hundred runs.
func scaleInput(n, staleEvery, weeks int) report.Input {
	p := demoPolicy()
	keys := scaleKeys(n, staleEvery)
	in := report.Input{
		GeneratedAt: demoAt, At: demoAt,
		Targets:   []domain.Target{{Name: "aws", Provider: domain.ProviderAWS, Account: demoAccount}},
		Decisions: decide(p, keys, demoAt),
		Policy:    p,
	}
	for _, t := range report.ForecastDates(demoAt, weeks) {
		in.Forecast = append(in.Forecast, report.Week{At: t, Decisions: decide(p, keys, t)})
	}
	for i := range 1000 {
		in.Records = append(in.Records, domain.Record{Kind: domain.KindOutcome, RunID: fmt.Sprintf("r-%04d", i/10),
			Account: demoAccount, UserName: fmt.Sprintf("user-%05d", i), AccessKeyID: fmt.Sprintf("AKIAGONE%012d", i),
			Action: domain.ActionDeactivate, Result: domain.ResultDone, At: demoAt.Add(-time.Duration(i) * time.Hour)})
	}
	for i := range 100 {
		in.Runs = append(in.Runs, domain.Run{RunID: fmt.Sprintf("r-%04d", i), Account: demoAccount,
			StartedAt: demoAt.Add(-time.Duration(i) * 24 * time.Hour), Outcome: domain.RunCompleted})
	}
	return in
}
