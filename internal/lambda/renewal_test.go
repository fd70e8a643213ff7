package lambda_test

import (
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"

	"github.com/keysweep/keysweep/internal/domain"
	"github.com/keysweep/keysweep/internal/keystore/gmi"
	"github.com/keysweep/keysweep/internal/testenv/gmiapi"
)

// secret reads the GMI target's secret back from Secrets Manager.
func (g *gmiOrg) secret() gmi.Secret {
	g.e.t.Helper()
	out, err := secretsmanager.NewFromConfig(g.e.deps.AWS).GetSecretValue(g.e.ctx(), &secretsmanager.GetSecretValueInput{SecretId: aws.String(g.tc.SecretARN)})
	if err != nil {
		g.e.t.Fatal(err)
	}
	s, err := gmi.ParseSecret([]byte(aws.ToString(out.SecretString)))
	if err != nil {
		g.e.t.Fatal(err)
	}
	return s
}

// TestGMISessionRenewedIntoSecret: when the API refuses the access token,
// the sweeper renews the session through "Refresh session" and writes the
// new tokens back to the target's secret (secretsmanager:PutSecretValue,
// which the template grants for this), so the next run starts from them:
// the refresh spends the old refresh token. When the refresh token is
// refused too, the run fails with "token expired: renew the secret",
// which fires the alarm, and changes nothing.
func TestGMISessionRenewedIntoSecret(t *testing.T) {
	e := newEnv(t)
	g := newGMI(e)
	old := g.key("old", 10, -1)
	g.putPolicy(gmiPolicy)
	before := g.secret()

	g.srv.ExpireAccessTokens()
	sum, err := g.sweep(g.tc)
	if err != nil || sum.Outcome != domain.RunCompleted || g.exists(old) {
		t.Fatalf("run with an expired access token: %v, %+v, expired key exists %v", err, sum, g.exists(old))
	}
	if g.srv.Calls()[gmiapi.OpRefreshSession] != 1 {
		t.Errorf("refresh calls %d, want 1", g.srv.Calls()[gmiapi.OpRefreshSession])
	}
	after := g.secret()
	if after.AccessToken == before.AccessToken || after.RefreshToken == before.RefreshToken ||
		after.OrganizationID != before.OrganizationID || after.ClientID != before.ClientID {
		t.Fatalf("the secret was not renewed in place: organization %s→%s, client %s→%s, tokens changed %v/%v",
			before.OrganizationID, after.OrganizationID, before.ClientID, after.ClientID,
			after.AccessToken != before.AccessToken, after.RefreshToken != before.RefreshToken)
	}

	// The next run reads the renewed secret and renews again from it.
	g.srv.ExpireAccessTokens()
	if sum, err := g.sweep(g.tc); err != nil || sum.Outcome != domain.RunCompleted {
		t.Fatalf("run from the renewed secret: %v, %+v", err, sum)
	}

	g.srv.ExpireAccessTokens()
	g.srv.RevokeRefreshTokens()
	kept := g.key("expired-too", 10, -1)
	sum, err = g.sweep(g.tc)
	if err == nil || !strings.Contains(err.Error(), "token expired: renew the secret") || !g.exists(kept) {
		t.Errorf("run with both tokens refused: %v (%+v), key exists %v; want a failure saying to renew the secret", err, sum, g.exists(kept))
	}
}
