package awsiam

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	"github.com/aws/aws-sdk-go-v2/service/iam/types"
	"golang.org/x/sync/errgroup"

	"github.com/keysweep/keysweep/internal/domain"
)

// listInventory lists every user, then each user's keys and their last use,
// for at most Options.Concurrency users at once. The first error stops the
// others and is returned. A user or key deleted while listing is left out:
// it is gone, which is what the inventory would have said a moment later.
func (p *Store) listInventory(ctx context.Context) (*domain.Inventory, error) {
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

	results := make([]*domain.Owner, len(iamUsers))
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(p.opts.Concurrency)
	for i, iu := range iamUsers {
		g.Go(func() error {
			u, err := p.listUser(gctx, iu)
			results[i] = u
			return err
		})
	}
	if err := g.Wait(); err != nil {
		return nil, err
	}

	users := make([]domain.Owner, 0, len(results))
	for _, u := range results {
		if u != nil {
			users = append(users, *u)
		}
	}
	sortOwners(users)
	return &domain.Inventory{Source: SourceList, GeneratedAt: generated, Owners: users}, nil
}

// listUser lists one user's keys with their last use; nil when the user is gone.
func (p *Store) listUser(ctx context.Context, iu types.User) (*domain.Owner, error) {
	name, arn := aws.ToString(iu.UserName), aws.ToString(iu.Arn)
	account, path, err := parseUserARN(arn)
	if err != nil {
		return nil, fmt.Errorf("user %s: %w", name, err)
	}
	if iu.Path != nil {
		path = *iu.Path
	}
	metas, err := p.listAccessKeys(ctx, name)
	if errors.Is(err, domain.ErrKeyNotFound) {
		p.log.DebugContext(ctx, "user deleted while listing", "user", name)
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	u := &domain.Owner{Name: name, Path: path, ARN: arn, Keys: make([]domain.Key, 0, len(metas))}
	for _, m := range metas {
		k := keyFromMetadata(account, name, m)
		_, last, err := p.lastUsed(ctx, k.ID)
		if errors.Is(err, domain.ErrKeyNotFound) {
			p.log.DebugContext(ctx, "access key deleted while listing", "user", name, "accessKeyId", k.ID)
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("user %s: %w", name, err)
		}
		k.LastUsedAt, k.LastUseKnown = last, true
		u.Keys = append(u.Keys, k)
	}
	return u, nil
}
