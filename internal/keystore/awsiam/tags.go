package awsiam

import (
	"context"
	"fmt"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	"github.com/aws/aws-sdk-go-v2/service/iam/types"
)

// TagPageSize is how many users one GetAccountAuthorizationDetails page
// asks for: IAM's largest MaxItems.
const TagPageSize = 1000

// TagPages is the GetAccountAuthorizationDetails calls TagsOf makes in an
// account of n users.
func (p *Store) TagPages(n int) int {
	return max(1, (n+TagPageSize-1)/TagPageSize)
}

// TagsOf reads the tags of the named users from GetAccountAuthorizationDetails
// filtered to users, TagPageSize users a page, and keeps only the named ones,
// so memory follows the users asked for, not the account. The pages also
// carry each user's inline and attached policies; they are dropped page by
// page.
func (p *Store) TagsOf(ctx context.Context, users []string) (map[string]map[string]string, error) {
	want := make(map[string]bool, len(users))
	for _, u := range users {
		want[u] = true
	}
	out := make(map[string]map[string]string, len(users))
	pg := iam.NewGetAccountAuthorizationDetailsPaginator(p.api, &iam.GetAccountAuthorizationDetailsInput{
		Filter:   []types.EntityType{types.EntityTypeUser},
		MaxItems: aws.Int32(TagPageSize),
	})
	for pg.HasMorePages() {
		page, err := pg.NextPage(ctx)
		if err != nil {
			return nil, fmt.Errorf("account authorization details: %w", err)
		}
		for _, u := range page.UserDetailList {
			name := aws.ToString(u.UserName)
			if !want[name] {
				continue
			}
			tags := make(map[string]string, len(u.Tags))
			for _, t := range u.Tags {
				tags[aws.ToString(t.Key)] = aws.ToString(t.Value)
			}
			out[name] = tags
		}
	}
	return out, nil
}
