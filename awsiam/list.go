package awsiam

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	"github.com/aws/aws-sdk-go-v2/service/iam/types"

	"github.com/keysweep/keysweep/policy"
	"github.com/keysweep/keysweep/sweep"
)

// listInventory lists every user, then each user's keys and their last use,
// for at most Options.Concurrency users at once. The first error stops the
// others and is returned. A user or key deleted while listing is left out:
// it is gone, which is what the inventory would have said a moment later.
func (p *Provider) listInventory(ctx context.Context) (*sweep.Inventory, error) {
	generated := time.Now().UTC()
	var iamUsers []types.User
	pg := iam.NewListUsersPaginator(p.api, &iam.ListUsersInput{})
	for pg.HasMorePages() {
		page, err := pg.NextPage(ctx)
		if err != nil {
			return nil, fmt.Errorf("list users: %w", err)
		}
		iamUsers = append(iamUsers, page.Users...)
	}

	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	results := make([]*sweep.User, len(iamUsers))
	sem := make(chan struct{}, p.opts.Concurrency)
	var wg sync.WaitGroup
loop:
	for i, iu := range iamUsers {
		select {
		case sem <- struct{}{}:
		case <-ctx.Done():
			break loop
		}
		wg.Go(func() {
			defer func() { <-sem }()
			u, err := p.listUser(ctx, iu)
			if err != nil {
				cancel(err)
				return
			}
			results[i] = u
		})
	}
	wg.Wait()
	if err := context.Cause(ctx); err != nil {
		return nil, err
	}

	users := make([]sweep.User, 0, len(results))
	for _, u := range results {
		if u != nil {
			users = append(users, *u)
		}
	}
	sortUsers(users)
	return &sweep.Inventory{Source: SourceList, GeneratedAt: generated, Users: users}, nil
}

// listUser lists one user's keys with their last use; nil when the user is gone.
func (p *Provider) listUser(ctx context.Context, iu types.User) (*sweep.User, error) {
	name, arn := aws.ToString(iu.UserName), aws.ToString(iu.Arn)
	account, path, err := parseUserARN(arn)
	if err != nil {
		return nil, fmt.Errorf("user %s: %w", name, err)
	}
	if iu.Path != nil {
		path = *iu.Path
	}
	metas, err := p.listAccessKeys(ctx, name)
	if errors.Is(err, sweep.ErrKeyNotFound) {
		p.log.DebugContext(ctx, "user deleted while listing", "user", name)
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	u := &sweep.User{Name: name, Path: path, ARN: arn, Keys: make([]policy.Key, 0, len(metas))}
	for _, m := range metas {
		k := keyFromMetadata(account, name, path, m)
		_, last, err := p.LastUsed(ctx, k.AccessKeyID)
		if errors.Is(err, sweep.ErrKeyNotFound) {
			p.log.DebugContext(ctx, "access key deleted while listing", "user", name, "accessKeyId", k.AccessKeyID)
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("user %s: %w", name, err)
		}
		k.LastUsedAt = last
		u.Keys = append(u.Keys, k)
	}
	return u, nil
}
