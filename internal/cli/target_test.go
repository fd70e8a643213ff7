package cli

import (
	"context"
	"errors"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/keysweep/keysweep/internal/domain"
	"github.com/keysweep/keysweep/internal/engine"
	"github.com/keysweep/keysweep/internal/keystore/gmi"
	"github.com/keysweep/keysweep/internal/testenv/gmiapi"
	"github.com/keysweep/keysweep/internal/wiring"
)

const gmiOrg = "a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11"

// gmiTarget is a GMI Cloud organization on a local GMI API server, as a
// target named gmi-test, with a stale key (400 days old) and a fresh one.
func gmiTarget(t *testing.T) (engine.Target, *gmiapi.Server, gmiapi.Key, gmiapi.Key) {
	t.Helper()
	srv := gmiapi.New(t)
	owner := srv.AddUser(gmiOrg, gmiapi.User{FirstName: "Ada", LastName: "Lovelace"})
	tok, err := srv.Login(gmiOrg, owner.ID, "ks1")
	if err != nil {
		t.Fatal(err)
	}
	ada := &gmiapi.Owner{ID: owner.ID, FirstName: "Ada", LastName: "Lovelace"}
	stale := srv.AddKey(gmiOrg, gmiapi.Key{Name: "ci", CreatedAt: time.Now().AddDate(0, 0, -400), Owner: ada})
	fresh := srv.AddKey(gmiOrg, gmiapi.Key{Name: "gpu", CreatedAt: time.Now().AddDate(0, 0, -3), Owner: ada})
	st, err := gmi.New(gmi.Config{
		Secret: gmi.Secret{OrganizationID: gmiOrg, AccessToken: tok.AccessToken, Endpoint: srv.Endpoint()},
		Logger: slog.New(slog.DiscardHandler),
	})
	if err != nil {
		t.Fatal(err)
	}
	// The journal is set when the CLI builds its targets.
	return engine.Target{Name: "gmi-test", PolicyID: "gmi-test", Open: func(context.Context) (*engine.Engine, error) {
		return &engine.Engine{Store: st, Target: "gmi-test"}, nil
	}}, srv, stale, fresh
}

// TestPolicyValidateForTarget: a policy is checked against what the
// target's key store can judge; GMI keys have no last-use date, so the
// inactivity rule is refused, naming the rule and the store.
func TestPolicyValidateForTarget(t *testing.T) {
	target, _, _, _ := gmiTarget(t)
	for _, tc := range []struct {
		name, doc string
		wants     []string
	}{
		{"inactivity rule", "version: g1\nmode: enforce\nmaxKeyAgeDays: 90\nmaxInactiveDays: 45\n", []string{"maxInactiveDays", "GMI Cloud", "gmi-test"}},
		{"exemption tag", "version: g1\nmode: enforce\nmaxKeyAgeDays: 90\nexemptions: {tag: keysweep:exempt}\n", []string{"exemptions.tag", "GMI Cloud"}},
		{"served", "version: g1\nmode: enforce\nmaxKeyAgeDays: 90\nmaxKeyLifetimeDays: 30\n", nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s, out, errb := testStreams()
			o := &policyOptions{common: common{target: "gmi-test", extraTargets: []engine.Target{target}}, file: writeFile(t, "p.yaml", tc.doc)}
			err := runPolicyValidate(context.Background(), s, o)
			if tc.wants == nil {
				if err != nil || !strings.Contains(out.String(), "valid for target gmi-test") {
					t.Errorf("valid policy: %v\n%s%s", err, out, errb)
				}
				return
			}
			if code(err) != ExitUsage {
				t.Fatalf("exit %d (%v), want %d", code(err), err, ExitUsage)
			}
			wantContains(t, "error", err.Error(), tc.wants...)
		})
	}
}

// TestCommandsOnAnotherTarget: plan, key and revoke reach the key store
// --target names, and record its provider and account.
func TestCommandsOnAnotherTarget(t *testing.T) {
	account(t)
	target, srv, stale, fresh := gmiTarget(t)
	ctx := context.Background()
	with := common{target: "gmi-test", extraTargets: []engine.Target{target}}

	s, out, errb := testStreams()
	if err := runPlan(ctx, s, &planOptions{common: with, output: formatTable, all: true}); err != nil {
		t.Fatalf("plan: %v\n%s", err, errb)
	}
	wantContains(t, "plan", out.String(), stale.ID, fresh.ID, "created 400 days ago")
	wantContains(t, "plan notes", errb.String(), "target gmi-test", "maxInactiveDays: GMI Cloud")

	s, out, errb = testStreams()
	if err := runKey(ctx, s, &keyOptions{keyCmd{common: with, output: formatTable, key: stale.ID}}); err != nil {
		t.Fatalf("key: %v\n%s", err, errb)
	}
	wantContains(t, "key", out.String(), "key "+stale.ID, "last used:  unknown (GMI Cloud cannot tell)")

	s, out, errb = testStreams()
	err := runRevoke(ctx, s, &revokeOptions{keyCmd: keyCmd{common: with, output: formatTable, key: stale.ID}, reason: "leaked"})
	if err != nil {
		t.Fatalf("revoke: %v\n%s%s", err, out, errb)
	}
	for _, k := range srv.Keys(gmiOrg) {
		if k.ID == stale.ID {
			t.Errorf("the GMI key is still there after revoke")
		}
	}
	j, _ := journalOf(t)
	recs, err := j.ByKey(ctx, stale.ID)
	if err != nil || len(recs) != 2 || recs[1].Provider != domain.ProviderGMI || recs[1].Account != gmiOrg {
		t.Errorf("records of the GMI key: %+v %v", recs, err)
	}
	// A GMI key cannot be deactivated: a usage error, and nothing changes.
	s, _, _ = testStreams()
	err = runRevoke(ctx, s, &revokeOptions{keyCmd: keyCmd{common: with, output: formatTable, key: fresh.ID}, deactivate: true})
	if code(err) != ExitUsage || !errors.Is(err, domain.ErrUnsupported) {
		t.Errorf("deactivating a GMI key: %v (exit %d), want exit %d", err, code(err), ExitUsage)
	}
	if len(srv.Keys(gmiOrg)) != 1 {
		t.Errorf("GMI keys after a refused deactivation: %+v", srv.Keys(gmiOrg))
	}
}

// TestUnreachableTarget: a configured target that cannot be opened (its
// credentials missing) fails the command that names it, saying which, and
// only that target.
func TestUnreachableTarget(t *testing.T) {
	_, ids := account(t)
	t.Setenv(wiring.EnvTargets, `[{"name": "otc", "provider": "huawei", "endpoint": "https://127.0.0.1:1", "account": "d0"}]`)
	for _, args := range [][]string{
		{"plan", "--target", "otc"},
		{"key", ids["bob"], "--target", "otc"},
		{"sweep", "--target", "otc"},
	} {
		code, stdout, stderr := cli(t, args...)
		if code != ExitFailure || !strings.Contains(stderr, "target otc") {
			t.Errorf("%v: exit %d, want %d naming the target\n%s%s", args, code, ExitFailure, stdout, stderr)
		}
	}
	// The default target is not affected.
	if code, _, stderr := cli(t, "plan"); code != ExitOK {
		t.Errorf("plan of the default target: %d %s", code, stderr)
	}
	t.Setenv(wiring.EnvTargets, `[{"name": "aws", "provider": "huawei"}]`)
	if code, _, stderr := cli(t, "plan"); code != ExitUsage || !strings.Contains(stderr, wiring.EnvTargets) {
		t.Errorf("a bad %s: exit %d\n%s", wiring.EnvTargets, code, stderr)
	}
}
