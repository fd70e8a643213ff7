package app

import (
	"context"
	"errors"
	"fmt"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	iamtypes "github.com/aws/aws-sdk-go-v2/service/iam/types"

	"github.com/keysweep/keysweep/sweep"
)

// GetUserAPI is the IAM call IAMUserPaths makes; *iam.Client satisfies it.
type GetUserAPI interface {
	GetUser(ctx context.Context, params *iam.GetUserInput, optFns ...func(*iam.Options)) (*iam.GetUserOutput, error)
}

var _ GetUserAPI = (*iam.Client)(nil)

// IAMUserPaths reads a user's path with iam:GetUser, for the policy's path
// exemptions and overrides. The revocation API calls it only when the
// policy has such rules; a sweep knows paths from its inventory.
type IAMUserPaths struct {
	API GetUserAPI
}

var _ sweep.UserPaths = IAMUserPaths{}

// UserPath returns the user's IAM path; sweep.ErrKeyNotFound (wrapped)
// when the user no longer exists.
func (u IAMUserPaths) UserPath(ctx context.Context, user string) (string, error) {
	out, err := u.API.GetUser(ctx, &iam.GetUserInput{UserName: aws.String(user)})
	var nse *iamtypes.NoSuchEntityException
	if errors.As(err, &nse) {
		return "", fmt.Errorf("get user %s: %w: %w", user, sweep.ErrKeyNotFound, err)
	}
	if err != nil {
		return "", fmt.Errorf("get user %s: %w", user, err)
	}
	if out.User == nil {
		return "", fmt.Errorf("get user %s: no user in the answer", user)
	}
	return aws.ToString(out.User.Path), nil
}
