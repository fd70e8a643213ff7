package cli

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/keysweep/keysweep/internal/domain"
	"github.com/keysweep/keysweep/internal/keystore/gmi"
	"github.com/keysweep/keysweep/internal/keystore/huawei"
	"github.com/keysweep/keysweep/internal/testenv/gmiapi"
	"github.com/keysweep/keysweep/internal/testenv/huaweiiam"
	"github.com/keysweep/keysweep/internal/wiring"
	"github.com/keysweep/keysweep/policy"
)

// The demo's other key stores, as a user names them in KEYSWEEP_TARGETS.
const (
	demoOTC = "otc-demo"
	demoGMI = "gmi-demo"
	// demoGMIOrg is the sample GMI Cloud organization's id.
	demoGMIOrg = "5f1c3b8e-2d4a-4e6f-9a7b-1c2d3e4f5a6b"
)

// demoTargetPolicies are the enforce-mode policies the demo stores for its
// other targets: each store judges what it can (OTC users have no path;
// GMI keys have no last use and cannot be deactivated, so a stale key is
// marked due and deleted after a notice period).
var demoTargetPolicies = map[string]string{
	demoOTC: `
version: otc-demo-1
mode: enforce
maxKeyAgeDays: 90
maxInactiveDays: 45
deleteAfterDays: 7
blastRadius: {maxActions: 25, maxPercent: 60}
exemptions:
  users: [break-glass]
`,
	demoGMI: `
version: gmi-demo-1
mode: enforce
maxKeyAgeDays: 90
maxKeyLifetimeDays: 365
deleteAfterDays: 7
blastRadius: {maxActions: 25, maxPercent: 60}
exemptions:
  keyNamePrefixes: [keep-]
`,
}

// demoEnv are the variables the demo sets for its targets: what a user
// sets for the CLI (KEYSWEEP_TARGETS and the stores' credentials), and
// those that would change what the CLI reads (left unset).
var demoEnv = []string{
	wiring.EnvTargets,
	huawei.EnvAccessKeyID, huawei.EnvSecretAccessKey, huawei.EnvSecurityToken, huawei.EnvDomainID, huawei.EnvEndpoint,
	gmi.EnvOrganizationID, gmi.EnvAccessToken, gmi.EnvRefreshToken, gmi.EnvClientID, gmi.EnvEndpoint,
}

// demoHuaweiUser is a user of the sample OTC domain with one key.
type demoHuaweiUser struct {
	name                  string
	ageDays, lastUsedDays int // lastUsedDays -1: never
	story                 string
}

var demoHuaweiUsers = []demoHuaweiUser{
	{"ops-alice", 20, 1, "key used yesterday: kept"},
	{"ops-alice", 5, 0, "her second key, five days old: kept"},
	{"ci-runner", 300, 2, "300 days old, used daily: stale by age"},
	{"backup-job", 120, 70, "unused for 70 days: stale by inactivity"},
	{"intern-2023", 400, -1, "never used in 400 days: stale"},
	{"break-glass", 500, -1, "exempt by name"},
}

// demoGMIKey is an API key of the sample GMI organization.
type demoGMIKey struct {
	name, owner string
	ageDays     int
	expiresIn   int // days; 0: never expires
	story       string
}

var demoGMIKeys = []demoGMIKey{
	{"pipeline", "Ada Lovelace", 10, 80, "ten days old, expires in 80: kept"},
	{"embeddings", "Grace Hopper", 5, 30, "five days old: kept"},
	{"training-job", "Ada Lovelace", 120, 60, "120 days old: stale by age, marked due, deleted a week later"},
	{"notebook", "Grace Hopper", 30, 0, "never expires: breaks maxKeyLifetimeDays 365, marked due"},
	{"old-inference", "Ada Lovelace", 200, -5, "expired five days ago: deleted at once"},
	{"keep-ci", "Grace Hopper", 500, 0, "exempt by its name prefix keep-"},
}

// standIns are the local stand-ins for the other clouds' APIs.
type standIns struct {
	otc *huaweiiam.Server
	gmi *gmiapi.Server
}

func (si *standIns) close() {
	if si.otc != nil {
		si.otc.Close()
	}
	if si.gmi != nil {
		si.gmi.Close()
	}
}

// startStandIns starts the local stand-ins for Huawei Cloud/OTC IAM and
// the GMI Cloud API, seeds a sample domain and organization, and
// configures them as targets the way a user does: KEYSWEEP_TARGETS names
// them, and the credentials the CLI reads are in the environment.
func startStandIns(now time.Time, out io.Writer) (*standIns, error) {
	si := &standIns{otc: huaweiiam.New(huaweiiam.Options{DomainName: "otc-demo"})}
	var err error
	if si.gmi, err = gmiapi.Start("127.0.0.1:0"); err != nil {
		si.close()
		return nil, err
	}
	fmt.Fprintf(out, "   Huawei Cloud / Open Telekom Cloud IAM: a local stand-in on %s (keysweep's test server; it checks every request's AK/SK signature)\n", si.otc.URL)
	fmt.Fprintf(out, "   GMI Cloud IAM API: a local stand-in on %s (keysweep's test server, written from GMI's OpenAPI document)\n", si.gmi.Endpoint())
	fmt.Fprintln(out, "   No Huawei Cloud, OTC or GMI Cloud account is touched.")

	tokens, err := si.seedGMI(now, out)
	if err != nil {
		si.close()
		return nil, err
	}
	si.seedOTC(now, out)
	targets, _ := json.Marshal([]wiring.TargetConfig{
		{Name: demoOTC, Provider: domain.ProviderHuawei, Endpoint: si.otc.URL, Account: si.otc.DomainID()},
		{Name: demoGMI, Provider: domain.ProviderGMI, Endpoint: si.gmi.Endpoint(), Account: demoGMIOrg},
	})
	caller := si.otc.Caller()
	for _, k := range demoEnv {
		os.Unsetenv(k)
	}
	for k, v := range map[string]string{
		wiring.EnvTargets:     string(targets),
		huawei.EnvAccessKeyID: caller.AccessKeyID, huawei.EnvSecretAccessKey: caller.SecretAccessKey,
		gmi.EnvOrganizationID: demoGMIOrg, gmi.EnvAccessToken: tokens.AccessToken,
		gmi.EnvRefreshToken: tokens.RefreshToken, gmi.EnvClientID: tokens.ClientID,
	} {
		os.Setenv(k, v)
	}
	fmt.Fprintf(out, "\n== Configured as targets, as a user does for the CLI\n   %s='%s'\n", wiring.EnvTargets, targets)
	fmt.Fprintf(out, "   and the credentials the CLI reads: %s, %s (the domain's AK/SK); %s, %s, %s, %s (the GMI session)\n",
		huawei.EnvAccessKeyID, huawei.EnvSecretAccessKey, gmi.EnvOrganizationID, gmi.EnvAccessToken, gmi.EnvRefreshToken, gmi.EnvClientID)
	return si, nil
}

func (si *standIns) seedOTC(now time.Time, out io.Writer) {
	fmt.Fprintf(out, "\n== Seeding a sample Open Telekom Cloud domain (target %s, domain %s)\n", demoOTC, si.otc.DomainID())
	ids := map[string]string{}
	for _, u := range demoHuaweiUsers {
		if ids[u.name] == "" {
			ids[u.name] = si.otc.AddUser(u.name, nil)
		}
		var last *time.Time
		if u.lastUsedDays >= 0 {
			l := now.Add(-time.Duration(u.lastUsedDays)*24*time.Hour - time.Hour)
			last = &l
		}
		si.otc.AddKey(ids[u.name], now.Add(-time.Duration(u.ageDays)*24*time.Hour), last)
		fmt.Fprintf(out, "   %-12s %s\n", u.name, u.story)
	}
}

// seedGMI adds the sample organization, its members and keys, and logs
// keysweep's member in: its session's tokens are what a user stores.
func (si *standIns) seedGMI(now time.Time, out io.Writer) (gmiapi.Tokens, error) {
	fmt.Fprintf(out, "\n== Seeding a sample GMI Cloud organization (target %s, organization %s)\n", demoGMI, demoGMIOrg)
	owners := map[string]*gmiapi.Owner{}
	for _, name := range []string{"Ada Lovelace", "Grace Hopper"} {
		first, last, _ := strings.Cut(name, " ")
		u := si.gmi.AddUser(demoGMIOrg, gmiapi.User{FirstName: first, LastName: last})
		owners[name] = &gmiapi.Owner{ID: u.ID, FirstName: first, LastName: last}
	}
	for _, k := range demoGMIKeys {
		key := gmiapi.Key{Name: k.name, CreatedAt: now.Add(-time.Duration(k.ageDays) * 24 * time.Hour), Owner: owners[k.owner]}
		if k.expiresIn != 0 {
			key.ExpiresAt = now.Add(time.Duration(k.expiresIn) * 24 * time.Hour)
		}
		si.gmi.AddKey(demoGMIOrg, key)
		fmt.Fprintf(out, "   %-14s %-13s %s\n", k.name, k.owner, k.story)
	}
	sweeper := si.gmi.AddUser(demoGMIOrg, gmiapi.User{Email: "keysweep@example.com", FirstName: "keysweep", LastName: "(demo)", Role: gmiapi.RoleOwner})
	return si.gmi.Login(demoGMIOrg, sweeper.ID, "ksdemo")
}

// storeTargetPolicies stores each other target's policy under its name.
func (dm *demo) storeTargetPolicies(ctx context.Context) error {
	for _, name := range []string{demoOTC, demoGMI} {
		p, err := policy.Parse([]byte(demoTargetPolicies[name]))
		if err != nil {
			return fmt.Errorf("demo policy of %s: %w", name, err)
		}
		if err := dm.d.Journal.PutPolicy(ctx, name, p, "keysweep demo"); err != nil {
			return err
		}
	}
	fmt.Fprintf(dm.s.out, "   and for %s (version otc-demo-1): 90 days old / 45 days unused, break-glass exempt, delete 7 days after deactivation\n", demoOTC)
	fmt.Fprintf(dm.s.out, "   and for %s (version gmi-demo-1): 90 days old, keys must expire within 365 days, keep-* exempt, delete 7 days after marked due\n", demoGMI)
	return nil
}

// writeStandInEnv writes the export lines of the targets' variables to a
// file only the user can read (for --keep): the demo's credentials are
// throwaway values of local servers, but credentials are not printed.
func writeStandInEnv() (string, error) {
	path := filepath.Join(os.TempDir(), "keysweep-demo-targets.env")
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o600)
	if err != nil {
		return "", err
	}
	for _, k := range demoEnv {
		if v, ok := os.LookupEnv(k); ok {
			fmt.Fprintf(f, "export %s='%s'\n", k, v)
		}
	}
	return path, f.Close()
}
