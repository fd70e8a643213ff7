// Command naive-sweep is the baseline keysweep is measured against: the
// obvious sweep that reads everything, one call at a time per user and per
// key (ListUsers, ListAccessKeys per user, GetAccessKeyLastUsed per key,
// ListUserTags for a user with a stale key when the policy has tag rules),
// judges each key with keysweep's own policy package, and deactivates or
// deletes the stale ones. It uses the same SDK, retryer (awsconf) and
// endpoint configuration as keysweep, so only the calls differ.
//
//	naive-sweep -policy policy.json [-concurrency 8]
//
// It prints a JSON summary on stdout: keys acted on, SDK attempts and
// throttles by operation, errors. It writes no audit trail.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"sort"
	"sync"
	"syscall"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	"github.com/aws/aws-sdk-go-v2/service/iam/types"

	"github.com/keysweep/keysweep/internal/awsconf"
	"github.com/keysweep/keysweep/internal/keystore/awsiam"
	"github.com/keysweep/keysweep/policy"
)

// Summary is what a run prints.
type Summary struct {
	Users     int            `json:"users"`
	Keys      int            `json:"keys"`
	Acted     []Action       `json:"acted"`
	Attempts  map[string]int `json:"attempts"`
	Throttles map[string]int `json:"throttles"`
	Errors    []string       `json:"errors,omitempty"`
	Millis    int64          `json:"durationMs"`
}

// Action is one key changed.
type Action struct {
	User        string         `json:"user"`
	AccessKeyID string         `json:"accessKeyId"`
	Verdict     policy.Verdict `json:"verdict"`
}

func main() {
	file := flag.String("policy", "", "policy file, JSON or YAML (required)")
	conc := flag.Int("concurrency", 8, "users handled at once")
	flag.Parse()
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	sum, err := run(ctx, *file, *conc)
	if sum != nil {
		enc := json.NewEncoder(os.Stdout)
		enc.SetIndent("", "  ")
		_ = enc.Encode(sum)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "naive-sweep:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, file string, conc int) (*Summary, error) {
	if file == "" {
		return nil, errors.New("-policy is required")
	}
	data, err := os.ReadFile(file)
	if err != nil {
		return nil, err
	}
	p, err := policy.Parse(data)
	if err != nil {
		return nil, fmt.Errorf("policy %s: %w", file, err)
	}
	cfg, err := awsconf.Load(ctx)
	if err != nil {
		return nil, err
	}
	counter := awsiam.NewCounter()
	client := awsiam.NewClient(cfg, counter)
	start := time.Now()
	now := start.UTC()

	var users []types.User
	pg := iam.NewListUsersPaginator(client, &iam.ListUsersInput{})
	for pg.HasMorePages() {
		page, err := pg.NextPage(ctx)
		if err != nil {
			return nil, fmt.Errorf("list users: %w", err)
		}
		users = append(users, page.Users...)
	}

	sum := &Summary{Users: len(users)}
	var mu sync.Mutex
	sem := make(chan struct{}, max(conc, 1))
	var wg sync.WaitGroup
	for _, u := range users {
		sem <- struct{}{}
		wg.Go(func() {
			defer func() { <-sem }()
			keys, acted, err := sweepUser(ctx, client, p, u, now)
			mu.Lock()
			defer mu.Unlock()
			sum.Keys += keys
			sum.Acted = append(sum.Acted, acted...)
			if err != nil {
				sum.Errors = append(sum.Errors, err.Error())
			}
		})
	}
	wg.Wait()
	sort.Slice(sum.Acted, func(i, j int) bool { return sum.Acted[i].AccessKeyID < sum.Acted[j].AccessKeyID })
	sum.Attempts = counter.Attempts()
	sum.Throttles = counter.ThrottlesByOperation()
	sum.Millis = time.Since(start).Milliseconds()
	if len(sum.Errors) > 0 {
		return sum, fmt.Errorf("%d errors", len(sum.Errors))
	}
	return sum, nil
}

// sweepUser reads one user's keys and their last use, and acts on the stale ones.
func sweepUser(ctx context.Context, client *iam.Client, p *policy.Policy, u types.User, now time.Time) (int, []Action, error) {
	name := aws.ToString(u.UserName)
	var keys []policy.Key
	pg := iam.NewListAccessKeysPaginator(client, &iam.ListAccessKeysInput{UserName: u.UserName})
	for pg.HasMorePages() {
		page, err := pg.NextPage(ctx)
		if err != nil {
			return 0, nil, fmt.Errorf("list access keys of %s: %w", name, err)
		}
		for _, m := range page.AccessKeyMetadata {
			k := policy.Key{UserName: name, UserPath: aws.ToString(u.Path), AccessKeyID: aws.ToString(m.AccessKeyId),
				Status: policy.Status(m.Status), CreatedAt: aws.ToTime(m.CreateDate).UTC()}
			lu, err := client.GetAccessKeyLastUsed(ctx, &iam.GetAccessKeyLastUsedInput{AccessKeyId: m.AccessKeyId})
			if err != nil {
				return 0, nil, fmt.Errorf("last use of %s: %w", k.AccessKeyID, err)
			}
			if lu.AccessKeyLastUsed != nil && lu.AccessKeyLastUsed.LastUsedDate != nil {
				t := lu.AccessKeyLastUsed.LastUsedDate.UTC()
				k.LastUsedAt = &t
			}
			keys = append(keys, k)
		}
	}
	stale := false
	for _, k := range keys {
		stale = stale || p.Screen(k, now)
	}
	if !stale {
		return len(keys), nil, nil
	}
	if p.NeedsTags() {
		tags := map[string]string{}
		tp := iam.NewListUserTagsPaginator(client, &iam.ListUserTagsInput{UserName: u.UserName})
		for tp.HasMorePages() {
			page, err := tp.NextPage(ctx)
			if err != nil {
				return len(keys), nil, fmt.Errorf("tags of %s: %w", name, err)
			}
			for _, t := range page.Tags {
				tags[aws.ToString(t.Key)] = aws.ToString(t.Value)
			}
		}
		for i := range keys {
			keys[i].UserTags = tags
		}
	}
	var acted []Action
	for _, k := range keys {
		d := p.Evaluate(k, now)
		var err error
		switch d.Verdict {
		case policy.Deactivate:
			_, err = client.UpdateAccessKey(ctx, &iam.UpdateAccessKeyInput{UserName: u.UserName, AccessKeyId: aws.String(k.AccessKeyID), Status: types.StatusTypeInactive})
		case policy.Delete:
			_, err = client.DeleteAccessKey(ctx, &iam.DeleteAccessKeyInput{UserName: u.UserName, AccessKeyId: aws.String(k.AccessKeyID)})
		default:
			continue
		}
		if err != nil {
			return len(keys), acted, fmt.Errorf("%s %s: %w", d.Verdict, k.AccessKeyID, err)
		}
		acted = append(acted, Action{User: name, AccessKeyID: k.AccessKeyID, Verdict: d.Verdict})
	}
	return len(keys), acted, nil
}
