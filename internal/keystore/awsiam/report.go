package awsiam

import (
	"bytes"
	"context"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/iam"
	"github.com/aws/aws-sdk-go-v2/service/iam/types"

	"github.com/keysweep/keysweep/internal/domain"
)

// errReportTimeout is returned when the report is not ready within ReportWait.
var errReportTimeout = errors.New("not ready in time")

// reportInventory gets a complete credential report and parses it.
func (p *Store) reportInventory(ctx context.Context) (*domain.Inventory, error) {
	out, err := p.credentialReport(ctx)
	if err != nil {
		return nil, err
	}
	owners, err := parseReport(out.Content)
	if err != nil {
		return nil, fmt.Errorf("parse credential report: %w", err)
	}
	generated := time.Now().UTC()
	if out.GeneratedTime != nil {
		generated = out.GeneratedTime.UTC()
	}
	return &domain.Inventory{Source: SourceReport, GeneratedAt: generated, Owners: owners}, nil
}

// credentialReport asks IAM to generate the report until it is COMPLETE,
// then gets it, for at most ReportWait. It polls the report's state, first
// after 100 ms, then twice as long each time up to PollInterval, so that a
// report that is ready at once costs no fixed wait. When the report is in
// progress, missing or expired, it asks again: generating a fresh report
// is the only way on from any of those.
func (p *Store) credentialReport(ctx context.Context) (*iam.GetCredentialReportOutput, error) {
	start := time.Now()
	var waited time.Duration
	polls := 0
	// A run with a deadline (a Lambda with a short timeout) spends at most
	// a third of its time waiting for the report, so that the fallback
	// listing still has time to run.
	wait := p.opts.ReportWait
	if dl, ok := ctx.Deadline(); ok {
		wait = max(min(wait, time.Until(dl)/3), 0)
	}
	for {
		gen, err := p.api.GenerateCredentialReport(ctx, &iam.GenerateCredentialReportInput{})
		if err != nil {
			return nil, fmt.Errorf("generate credential report: %w", err)
		}
		state := string(gen.State)
		if gen.State == types.ReportStateTypeComplete {
			out, err := p.api.GetCredentialReport(ctx, &iam.GetCredentialReportInput{})
			if err == nil {
				return out, nil
			}
			var (
				notReady   *types.CredentialReportNotReadyException
				notPresent *types.CredentialReportNotPresentException
				expired    *types.CredentialReportExpiredException
			)
			switch {
			case errors.As(err, &notReady), errors.As(err, &notPresent), errors.As(err, &expired):
				state = shortError(err)
			default:
				return nil, fmt.Errorf("get credential report: %w", err)
			}
		}
		if waited >= wait || time.Since(start) >= wait {
			return nil, fmt.Errorf("%w after %v (last state %s)", errReportTimeout, wait.Round(time.Millisecond), state)
		}
		pause := min(firstPoll<<min(polls, 10), p.opts.PollInterval)
		polls++
		if err := p.opts.Sleep(ctx, pause); err != nil {
			return nil, fmt.Errorf("wait for credential report: %w", err)
		}
		waited += pause
	}
}

// firstPoll is the first pause between report polls.
const firstPoll = 100 * time.Millisecond

// Report columns keysweep reads, by header name; AWS documents the order
// but may add columns, so positions are not relied on.
const (
	colUser = "user"
	colARN  = "arn"
)

// keySlots are the report's two access key slots.
var keySlots = [...]string{"access_key_1", "access_key_2"}

// rootUser is the report's row for the account root user.
const rootUser = "<root_account>"

// parseReport parses a credential report CSV into owners sorted by name.
// A key slot holds a key when its last_rotated (the key's creation time) is
// a time. The key's ID is empty (the report does not carry key ids): Slot
// numbers it.
func parseReport(content []byte) ([]domain.Owner, error) {
	r := csv.NewReader(bytes.NewReader(content))
	header, err := r.Read()
	if err != nil {
		return nil, fmt.Errorf("read header: %w", err)
	}
	col := make(map[string]int, len(header))
	for i, h := range header {
		col[strings.TrimSpace(h)] = i
	}
	need := []string{colUser, colARN}
	for _, s := range keySlots {
		need = append(need, s+"_active", s+"_last_rotated", s+"_last_used_date")
	}
	for _, h := range need {
		if _, ok := col[h]; !ok {
			return nil, fmt.Errorf("no %q column", h)
		}
	}
	r.FieldsPerRecord = len(header)

	users := []domain.Owner{}
	for line := 2; ; line++ {
		rec, err := r.Read()
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, err
		}
		name := rec[col[colUser]]
		if name == rootUser {
			continue
		}
		arn := rec[col[colARN]]
		account, path, err := parseUserARN(arn)
		if err != nil {
			return nil, fmt.Errorf("line %d: %w", line, err)
		}
		u := domain.Owner{Name: name, Path: path, ARN: arn, Keys: []domain.Key{}}
		for slot, s := range keySlots {
			created, err := reportTime(rec[col[s+"_last_rotated"]])
			if err != nil {
				return nil, fmt.Errorf("line %d: %s_last_rotated: %w", line, s, err)
			}
			if created == nil {
				continue // no key in this slot
			}
			lastUsed, err := reportTime(rec[col[s+"_last_used_date"]])
			if err != nil {
				return nil, fmt.Errorf("line %d: %s_last_used_date: %w", line, s, err)
			}
			k := domain.Key{
				Account:      account,
				Owner:        name,
				Slot:         slot + 1,
				Status:       domain.StatusInactive,
				CreatedAt:    *created,
				LastUsedAt:   lastUsed,
				LastUseKnown: true,
			}
			if rec[col[s+"_active"]] == "true" {
				k.Status = domain.StatusActive
			}
			u.Keys = append(u.Keys, k)
		}
		users = append(users, u)
	}
	sortOwners(users)
	return users, nil
}

// reportTime parses a report time; nil for the report's "no value" words.
func reportTime(v string) (*time.Time, error) {
	switch strings.TrimSpace(v) {
	case "", "N/A", "no_information", "not_supported":
		return nil, nil
	}
	t, err := time.Parse(time.RFC3339, strings.TrimSpace(v))
	if err != nil {
		return nil, err
	}
	t = t.UTC()
	return &t, nil
}

// parseUserARN returns the account and the IAM path of a user ARN:
// arn:aws:iam::123456789012:user/service/app/bob is 123456789012 and
// /service/app/; arn:aws:iam::123456789012:user/bob has path /.
func parseUserARN(arn string) (account, path string, err error) {
	parts := strings.SplitN(arn, ":", 6)
	if len(parts) != 6 || parts[0] != "arn" || parts[2] != "iam" || parts[4] == "" {
		return "", "", fmt.Errorf("user arn %q: not an iam arn", arn)
	}
	res, ok := strings.CutPrefix(parts[5], "user/")
	if !ok {
		return "", "", fmt.Errorf("user arn %q: not a user", arn)
	}
	i := strings.LastIndexByte(res, '/')
	if i < 0 {
		return parts[4], "/", nil
	}
	return parts[4], "/" + res[:i+1], nil
}
