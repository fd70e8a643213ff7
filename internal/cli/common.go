package cli

import (
	"context"
	"fmt"
	"os"
	"os/user"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/pflag"

	"github.com/keysweep/keysweep/internal/domain"
	"github.com/keysweep/keysweep/internal/engine"
	"github.com/keysweep/keysweep/internal/keystore/awsiam"
	"github.com/keysweep/keysweep/internal/wiring"
	"github.com/keysweep/keysweep/policy"
)

// common holds the flags every command that reaches a key store or the
// journal shares. Flags left unset take their environment variable when the
// command runs, never as a flag default: help and errors print no value
// from the environment.
type common struct {
	policyTable string
	auditTable  string
	policyID    string
	noReport    bool
	reportWait  time.Duration
	// target names the key store (--target); "" is the default one, or
	// every target for a sweep.
	target string

	// extraTargets are appended to the configured ones (tests: a key
	// store on a local server); an engine without a journal gets the
	// audit table's.
	extraTargets []engine.Target
}

func (c *common) register(fs *pflag.FlagSet) {
	fs.StringVar(&c.policyTable, "policy-table", "", "policy table name (default: env "+wiring.EnvPolicyTable+")")
	fs.StringVar(&c.auditTable, "audit-table", "", "audit table name (default: env "+wiring.EnvAuditTable+")")
	fs.StringVar(&c.policyID, "policy-id", "", "the default target's policy item id in the policy table (default: env "+wiring.EnvPolicyID+", else "+domain.DefaultPolicyID+"; other targets have their own)")
	fs.BoolVar(&c.noReport, "no-report", false, "skip the credential report and list users and keys instead")
	fs.DurationVar(&c.reportWait, "report-wait", awsiam.DefaultReportWait, "how long to wait for the credential report before listing instead")
}

// registerTarget adds --target; what says what no target means.
func (c *common) registerTarget(fs *pflag.FlagSet, what string) {
	fs.StringVar(&c.target, "target", "", "the key store: "+domain.DefaultTarget+" or a target named in "+wiring.EnvTargets+" (default: "+what+")")
}

// resolveEnv fills the flags left unset from the environment.
func (c *common) resolveEnv() {
	if c.policyTable == "" {
		c.policyTable = os.Getenv(wiring.EnvPolicyTable)
	}
	if c.auditTable == "" {
		c.auditTable = os.Getenv(wiring.EnvAuditTable)
	}
	if c.policyID == "" {
		c.policyID = os.Getenv(wiring.EnvPolicyID)
	}
	if c.reportWait <= 0 {
		c.reportWait = awsiam.DefaultReportWait
	}
}

// config is the wiring configuration of the flags and the environment.
func (c *common) config(needTables bool) (wiring.Config, error) {
	c.resolveEnv()
	cfg := wiring.Config{
		PolicyTable: c.policyTable, AuditTable: c.auditTable, PolicyID: c.policyID,
		Retention: wiring.DefaultRetentionDays * 24 * time.Hour,
		BulkTags:  os.Getenv(wiring.EnvBulkTagReads) == "true",
		// `invoke sweeper` writes the report after a scheduled event, as
		// the Lambda does.
		ReportBucket: os.Getenv(wiring.EnvReportBucket),
	}
	if cfg.PolicyID == "" {
		cfg.PolicyID = domain.DefaultPolicyID
	}
	if v := os.Getenv(wiring.EnvRetentionDays); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > 3650 {
			return cfg, usagef("%s: must be a whole number of days from 1 to 3650, got %q", wiring.EnvRetentionDays, v)
		}
		cfg.Retention = time.Duration(n) * 24 * time.Hour
	}
	targets, err := wiring.TargetsFromEnv()
	if err != nil {
		return cfg, usageError{err}
	}
	cfg.Targets = targets
	if cfg.Notices, err = wiring.NoticeConfigFromEnv(); err != nil {
		return cfg, usageError{err}
	}
	if needTables {
		if err := cfg.Validate(); err != nil {
			return cfg, usageError{err}
		}
	}
	return cfg, nil
}

// deps builds the clients; needTables requires both table names.
func (c *common) deps(ctx context.Context, s *streams, needTables bool) (*wiring.Deps, error) {
	cfg, err := c.config(needTables)
	if err != nil {
		return nil, err
	}
	return wiring.NewDeps(ctx, cfg, awsiam.Options{NoReport: c.noReport, ReportWait: c.reportWait, Logger: s.log})
}

// targets are the configured key stores, each engine with the CLI's
// logger, a progress display on a terminal, and the tweaks given.
func (c *common) targets(d *wiring.Deps, s *streams, tweaks ...func(*engine.Engine)) []engine.Target {
	progress := progressFunc(s.err)
	adapt := func(e *engine.Engine) *engine.Engine {
		cp := *e
		cp.Progress, cp.Logger = progress, s.log
		if cp.Journal == nil {
			cp.Journal = d.Journal // one audit trail for every target
		}
		for _, f := range tweaks {
			f(&cp)
		}
		return &cp
	}
	ts := append(d.Targets(s.log), c.extraTargets...)
	out := make([]engine.Target, len(ts))
	for i, t := range ts {
		if t.Engine != nil {
			t.Engine = adapt(t.Engine)
		} else if opener := t.Open; opener != nil {
			t.Open = func(ctx context.Context) (*engine.Engine, error) {
				e, err := opener(ctx)
				if err != nil {
					return nil, err
				}
				return adapt(e), nil
			}
		}
		out[i] = t
	}
	return out
}

// pick finds the target named by --target, the default one when unset.
func (c *common) pick(ts []engine.Target) (engine.Target, error) {
	if c.target == "" {
		return ts[0], nil
	}
	var names []string
	for _, t := range ts {
		if t.Name == c.target {
			return t, nil
		}
		names = append(names, t.Name)
	}
	return engine.Target{}, usagef("--target: no target %q (configured: %s; others come from %s)", c.target, strings.Join(names, ", "), wiring.EnvTargets)
}

// open returns the target's engine; a target that cannot be opened (its
// credentials missing, its endpoint wrong) is a failure naming it.
func open(ctx context.Context, t engine.Target) (*engine.Engine, error) {
	e, err := t.Resolve(ctx)
	if err != nil {
		return nil, fmt.Errorf("target %s: %w", t.Name, err)
	}
	return e, nil
}

// policyIDOf is the policy item a target's commands read and write: the
// default target's is --policy-id (or POLICY_ID, or "default"), the
// others' their own from KEYSWEEP_TARGETS.
func policyIDOf(t engine.Target) string {
	if t.PolicyID != "" {
		return t.PolicyID
	}
	return domain.DefaultPolicyID
}

// traits says, in the policy's terms, what the store of an engine can
// judge: a rule it cannot serve is refused by policy.ValidateFor.
func traits(e *engine.Engine) policy.StoreTraits {
	prov := e.Store.Provider()
	c := e.Store.Capabilities()
	t := policy.StoreTraits{Name: prov.Title(), LastUsed: c.LastUsed, Deactivate: c.Deactivate,
		Expiry: c.Expiry, Tags: c.OwnerTags, Paths: c.OwnerPaths}
	if prov == domain.ProviderAWS || prov == "" {
		t.UserNames, t.UserNamesRule = policy.AllTraits.UserNames, policy.AllTraits.UserNamesRule
	}
	return t
}

// osUser names the person at the terminal.
func osUser() string {
	if u := os.Getenv("USER"); u != "" {
		return u
	}
	if u, err := user.Current(); err == nil && u.Username != "" {
		return u.Username
	}
	return "unknown"
}

func splitList(s string) []string {
	if s == "" {
		return nil
	}
	var out []string
	for _, p := range strings.Split(s, ",") {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, p)
		}
	}
	return out
}

func readPolicyFile(path string) (*policy.Policy, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, usageError{fmt.Errorf("policy file: %w", err)}
	}
	p, err := policy.Parse(data)
	if err != nil {
		return nil, usageError{fmt.Errorf("policy file %s: %w", path, err)}
	}
	return p, nil
}

func parseDate(s string) (time.Time, error) {
	if t, err := time.Parse(time.RFC3339, s); err == nil {
		return t.UTC(), nil
	}
	t, err := time.Parse(time.DateOnly, s)
	if err != nil {
		return time.Time{}, fmt.Errorf("%q is neither YYYY-MM-DD nor RFC 3339", s)
	}
	return t.UTC(), nil
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}
