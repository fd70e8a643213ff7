package lambda_test

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	"github.com/google/go-cmp/cmp"

	"github.com/keysweep/keysweep/internal/domain"
	"github.com/keysweep/keysweep/internal/engine"
	"github.com/keysweep/keysweep/internal/keystore/gmi"
	"github.com/keysweep/keysweep/internal/lambda"
	"github.com/keysweep/keysweep/internal/testenv/gmiapi"
	"github.com/keysweep/keysweep/internal/wiring"
	"github.com/keysweep/keysweep/policy"
)

// gmiOrg is one scenario's GMI Cloud organization on keysweep's local
// stand-in for its API, named as a target whose session tokens are in a
// Secrets Manager secret on the emulator.
type gmiOrg struct {
	e     *env
	srv   *gmiapi.Server
	org   string
	owner gmiapi.Owner
	tc    wiring.TargetConfig
}

const gmiTarget = "gmi-ml"

// gmiPolicy judges GMI keys by age and expiry: they have no last use.
const gmiPolicy = `
version: g-1
mode: enforce
maxKeyAgeDays: 90
maxKeyLifetimeDays: 365
deleteAfterDays: 7
blastRadius: {maxActions: 100, maxPercent: 100}
exemptions:
  keyNamePrefixes: [keep-]
`

func newGMI(e *env) *gmiOrg {
	e.t.Helper()
	srv := gmiapi.New(e.t)
	org := gmiapi.NewUUID()
	srv.AddOrg(org)
	u := srv.AddUser(org, gmiapi.User{ID: gmiapi.NewUUID(), Email: "ml@example.com", FirstName: "Ada", LastName: "Lovelace"})
	tok, err := srv.Login(org, u.ID, "ksweep")
	if err != nil {
		e.t.Fatal(err)
	}
	secret, _ := json.Marshal(gmi.Secret{OrganizationID: org, AccessToken: tok.AccessToken, RefreshToken: tok.RefreshToken, ClientID: tok.ClientID, Endpoint: srv.Endpoint()})
	out, err := secretsmanager.NewFromConfig(e.deps.AWS).CreateSecret(e.ctx(), &secretsmanager.CreateSecretInput{
		Name: aws.String("keysweep/" + gmiTarget + "/" + e.now.Format("150405.000000000")), SecretString: aws.String(string(secret)),
	})
	if err != nil {
		e.t.Fatal(err)
	}
	return &gmiOrg{e: e, srv: srv, org: org, owner: gmiapi.Owner{ID: u.ID, FirstName: "Ada", LastName: "Lovelace"},
		tc: wiring.TargetConfig{Name: gmiTarget, Provider: domain.ProviderGMI, SecretARN: aws.ToString(out.ARN), PolicyID: gmiTarget}}
}

// key adds a key ageDays old expiring in expiresIn days (0: never).
func (g *gmiOrg) key(name string, ageDays, expiresIn int) string {
	k := gmiapi.Key{Name: name, CreatedAt: g.e.now.Add(-time.Duration(ageDays) * 24 * time.Hour), Owner: &g.owner}
	if expiresIn != 0 {
		k.ExpiresAt = g.e.now.Add(time.Duration(expiresIn) * 24 * time.Hour)
	}
	return g.srv.AddKey(g.org, k).ID
}

func (g *gmiOrg) exists(id string) bool {
	for _, k := range g.srv.Keys(g.org) {
		if k.ID == id {
			return true
		}
	}
	return false
}

func (g *gmiOrg) putPolicy(doc string) {
	g.e.t.Helper()
	p, err := policy.Parse([]byte(doc))
	if err != nil {
		g.e.t.Fatal(err)
	}
	if err := g.e.deps.Journal.PutPolicy(g.e.ctx(), gmiTarget, p, "test"); err != nil {
		g.e.t.Fatal(err)
	}
}

// sweep runs the sweeper for the GMI target alone, on the scenario's clock.
func (g *gmiOrg) sweep(tc wiring.TargetConfig) (*engine.Summary, error) {
	g.e.t.Helper()
	e := g.e
	clock := e.clock
	h := &lambda.Sweeper{Policies: e.deps.Journal, Targets: []engine.Target{{Name: gmiTarget, PolicyID: gmiTarget,
		Open: func(ctx context.Context) (*engine.Engine, error) {
			st, err := e.deps.OpenTarget(ctx, tc, nil)
			if err != nil {
				return nil, err
			}
			return &engine.Engine{Store: st, Journal: e.deps.Journal, Target: gmiTarget, Now: func() time.Time { return clock }}, nil
		}}}}
	sum, err := h.Handle(e.ctx(), e.scheduled())
	if sum == nil {
		return nil, err
	}
	return &sum.Summary, err
}

// TestGMINoticePeriod: GMI keys cannot be deactivated, so a stale key is
// marked due on the first run (recorded, no call) and deleted
// deleteAfterDays later; an expired key is deleted at once; a key that
// never expires breaks the lifetime rule; a key renewed (replaced by a
// fresh one) during its notice period leaves the fresh one alone.
func TestGMINoticePeriod(t *testing.T) {
	e := newEnv(t)
	g := newGMI(e)
	old := g.key("training-job", 120, 30)
	expired := g.key("old-inference", 10, -1)
	forever := g.key("notebook", 10, 0)
	fresh := g.key("pipeline", 10, 60)
	kept := g.key("keep-ci", 500, 0)
	renewed := g.key("batch", 100, 60)
	g.putPolicy(gmiPolicy)

	sum, err := g.sweep(g.tc)
	if err != nil {
		t.Fatalf("first run: %v", err)
	}
	if g.exists(expired) || !g.exists(old) || !g.exists(forever) || !g.exists(kept) {
		t.Errorf("first run: expired %v old %v forever %v kept %v; want only the expired key deleted", g.exists(expired), g.exists(old), g.exists(forever), g.exists(kept))
	}
	if sum.Counts[domain.CountMarkedDue] != 3 || sum.Counts[domain.CountDeleted] != 1 {
		t.Errorf("counts %v, want 3 marked due (old, never expiring, renewed) and 1 deleted", sum.Counts)
	}
	if diff := cmp.Diff([]string{"intent:mark-due", "outcome:mark-due:done"}, records(t, e, old)); diff != "" {
		t.Errorf("records of a key marked due (-want +got):\n%s", diff)
	}
	reasons := map[string]string{}
	for _, d := range sum.Actions {
		reasons[d.AccessKeyID] = d.Reason
	}
	for id, frag := range map[string]string{old: "marked due now, delete on", forever: "never expires, lifetime limit 365", expired: "expired", kept: "key name keep-ci starts with keep-"} {
		if !strings.Contains(reasons[id], frag) {
			t.Errorf("reason for %s = %q, want %q", id, reasons[id], frag)
		}
	}
	if !strings.Contains(strings.Join(sum.Notes, "\n"), "cannot be deactivated") {
		t.Errorf("notes %q do not say GMI keys cannot be deactivated", sum.Notes)
	}

	// The owner replaces the renewed key with a new one during the notice.
	g.srv.RemoveKey(g.org, renewed)
	replacement := g.key("batch-v2", 0, 60)
	e.clock = e.now.Add(3 * 24 * time.Hour)
	if _, err := g.sweep(g.tc); err != nil || !g.exists(old) {
		t.Fatalf("within the notice period: %v, old exists %v", err, g.exists(old))
	}
	e.clock = e.now.Add(8 * 24 * time.Hour)
	sum, err = g.sweep(g.tc)
	if err != nil || g.exists(old) || g.exists(forever) || !g.exists(fresh) || !g.exists(replacement) || !g.exists(kept) {
		t.Errorf("after the notice period: %v; old %v forever %v fresh %v replacement %v kept %v", err,
			g.exists(old), g.exists(forever), g.exists(fresh), g.exists(replacement), g.exists(kept))
	}
	if diff := cmp.Diff([]string{"intent:mark-due", "outcome:mark-due:done", "intent:delete", "outcome:delete:done"}, records(t, e, old)); diff != "" {
		t.Errorf("records of the due key (-want +got):\n%s", diff)
	}
}

// TestGMIInactivityRuleNoted: a stored policy with an inactivity rule is
// run without it, and every run says so; it never deletes a key for being
// "unused" on a date the store does not have.
func TestGMIInactivityRuleNoted(t *testing.T) {
	e := newEnv(t)
	g := newGMI(e)
	recent := g.key("recent", 50, 60)
	g.putPolicy(strings.Replace(gmiPolicy, "maxKeyAgeDays: 90", "maxKeyAgeDays: 90\nmaxInactiveDays: 30", 1))
	sum, err := g.sweep(g.tc)
	if err != nil || !g.exists(recent) {
		t.Fatalf("%v, key exists %v", err, g.exists(recent))
	}
	if !strings.Contains(strings.Join(sum.Notes, "\n"), "maxInactiveDays: GMI Cloud keys have no last-use date") {
		t.Errorf("notes %q do not name the unserved rule", sum.Notes)
	}
}

// TestGMIErrors: a 500 the reference calls retryable is retried; an
// organization id that is not a UUID fails the run loudly, naming the
// field, and changes nothing.
func TestGMIErrors(t *testing.T) {
	e := newEnv(t)
	g := newGMI(e)
	old := g.key("old", 10, -1)
	g.putPolicy(gmiPolicy)
	g.srv.FailNext(gmi.OpDeleteAPIKey, 2, "api-key", 1600)
	if _, err := g.sweep(g.tc); err != nil || g.exists(old) {
		t.Errorf("with two 500s on delete: %v, key exists %v; want it retried and deleted", err, g.exists(old))
	}
	bad := g.tc
	bad.Account = "not-a-uuid"
	sum, err := g.sweep(bad)
	if err == nil || sum != nil && sum.Outcome != domain.RunFailed {
		t.Errorf("a target naming another organization: %v, %+v", err, sum)
	}
}

// TestGMISessionRenewal: an expired access token is renewed through the
// session API and the renewed tokens written back to the target's secret,
// so the next run starts from them; a session that cannot be renewed fails
// the target's run with "token expired: renew the secret", touching
// nothing.
func TestGMISessionRenewal(t *testing.T) {
	e := newEnv(t)
	g := newGMI(e)
	old := g.key("old", 10, -1)
	g.putPolicy(gmiPolicy)
	sm := secretsmanager.NewFromConfig(e.deps.AWS)
	before, err := sm.GetSecretValue(e.ctx(), &secretsmanager.GetSecretValueInput{SecretId: aws.String(g.tc.SecretARN)})
	if err != nil {
		t.Fatal(err)
	}
	g.srv.ExpireAccessTokens()
	if _, err := g.sweep(g.tc); err != nil || g.exists(old) {
		t.Fatalf("with an expired access token: %v, key exists %v; want the session renewed and the run done", err, g.exists(old))
	}
	after, _ := sm.GetSecretValue(e.ctx(), &secretsmanager.GetSecretValueInput{SecretId: aws.String(g.tc.SecretARN)})
	if aws.ToString(after.SecretString) == aws.ToString(before.SecretString) {
		t.Error("the renewed session was not written back to the secret")
	}

	expired := g.key("expired", 10, -1)
	g.srv.ExpireAccessTokens()
	g.srv.RevokeRefreshTokens()
	_, err = g.sweep(g.tc)
	if err == nil || !strings.Contains(err.Error(), "renew the secret") || !g.exists(expired) {
		t.Errorf("a session that cannot be renewed: %v, key exists %v", err, g.exists(expired))
	}
	if strings.Contains(fmt.Sprint(err), "eyJ") {
		t.Errorf("the error shows a token: %v", err)
	}
}
