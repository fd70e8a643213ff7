package wiring

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"regexp"

	"github.com/keysweep/keysweep/internal/domain"
)

// EnvTargets holds the key stores swept besides the deployment's own AWS
// account: a JSON list of TargetConfig.
const EnvTargets = "KEYSWEEP_TARGETS"

// TargetConfig names one key store to sweep besides the AWS account the
// deployment runs in: a Huawei Cloud / Open Telekom Cloud domain, or a GMI
// Cloud organization. Its credentials are in a Secrets Manager secret (the
// Lambda) or the environment (the CLI), never in this configuration.
type TargetConfig struct {
	// Name is how the CLI, the API and the records name the target; the
	// target's policy item has this id unless PolicyID says otherwise.
	Name     string          `json:"name"`
	Provider domain.Provider `json:"provider"`
	// SecretARN names the secret holding the credentials (the Lambda).
	SecretARN string `json:"secretArn,omitempty"`
	// Endpoint is the API's base URL (Huawei/OTC IAM endpoint, GMI API);
	// the secret's endpoint when empty.
	Endpoint string `json:"endpoint,omitempty"`
	// Account is the Huawei/OTC domain id or the GMI organization id; the
	// secret's when empty.
	Account  string `json:"account,omitempty"`
	PolicyID string `json:"policyId,omitempty"`
}

var targetName = regexp.MustCompile(`^[a-z0-9][a-z0-9-]{0,63}$`)

// TargetsFromEnv reads EnvTargets; empty means none.
func TargetsFromEnv() ([]TargetConfig, error) {
	raw := bytes.TrimSpace([]byte(os.Getenv(EnvTargets)))
	if len(raw) == 0 {
		return nil, nil
	}
	return ParseTargets(raw)
}

// ParseTargets reads a JSON list of targets, strictly.
func ParseTargets(raw []byte) ([]TargetConfig, error) {
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.DisallowUnknownFields()
	var ts []TargetConfig
	if err := dec.Decode(&ts); err != nil {
		return nil, fmt.Errorf("%s: %w", EnvTargets, err)
	}
	seen := map[string]bool{domain.DefaultTarget: true}
	for i, t := range ts {
		where := fmt.Sprintf("%s[%d]", EnvTargets, i)
		switch {
		case !targetName.MatchString(t.Name):
			return nil, fmt.Errorf("%s.name: 1-64 lower-case letters, digits and -, got %q", where, t.Name)
		case seen[t.Name]:
			return nil, fmt.Errorf("%s.name: %q is taken (%q names the deployment's own AWS account)", where, t.Name, domain.DefaultTarget)
		case t.Provider != domain.ProviderHuawei && t.Provider != domain.ProviderGMI:
			return nil, fmt.Errorf("%s.provider: %q or %q, got %q", where, domain.ProviderHuawei, domain.ProviderGMI, t.Provider)
		}
		seen[t.Name] = true
		if ts[i].PolicyID == "" {
			ts[i].PolicyID = t.Name
		}
	}
	return ts, nil
}
