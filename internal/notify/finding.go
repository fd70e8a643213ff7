package notify

import (
	"fmt"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/securityhub/types"

	"github.com/keysweep/keysweep/internal/domain"
)

// Resolution says why a key's finding is resolved; empty for an open one.
type Resolution = domain.FindingResolution

// Resolutions.
const (
	Open                = domain.FindingOpen
	ResolvedDeactivated = domain.FindingDeactivated // acted on: the key can no longer be used
	ResolvedDeleted     = domain.FindingDeleted     // acted on: the key is gone
	ResolvedExempt      = domain.FindingExempt      // the policy exempts it now
	ResolvedFresh       = domain.FindingFresh       // within the limits again (used, or a new policy)
)

// KeyFinding is one key as Security Hub is told of it: open while the key
// is stale or soon stale, resolved once it is not. FirstSeen is the
// finding's CreatedAt and FirstObservedAt: pass it (the time of the key's
// first notice or decision record, say) to keep them the same across
// imports; zero stamps each import's time.
type KeyFinding = domain.KeyFinding

// Severity thresholds: a soon-stale key is LOW; a stale one MEDIUM up to
// 30 days past its stale date, HIGH after. A resolved finding is
// INFORMATIONAL.
const highAfter = 30 * 24 * time.Hour

// Remediation links, as plain strings: Security Hub's IAM.3 control (keys
// rotated every 90 days; CIS AWS Foundations 1.14).
const remediationURL = "https://docs.aws.amazon.com/securityhub/latest/userguide/iam-controls.html#iam-3"

// findingType is the finding's ASFF type.
const findingType = "Software and Configuration Checks/AWS Security Best Practices"

// FindingID is the finding id of a key: stable across runs, so that a
// later import updates the finding instead of adding one.
func FindingID(p domain.Provider, account, keyID string) string {
	if p == "" {
		p = domain.ProviderAWS
	}
	return fmt.Sprintf("keysweep/%s/%s/%s", account, p, keyID)
}

func severity(k KeyFinding, now time.Time) types.SeverityLabel {
	switch {
	case k.Resolution != Open:
		return types.SeverityLabelInformational
	case now.Before(k.StaleAt):
		return types.SeverityLabelLow
	case now.Sub(k.StaleAt) <= highAfter:
		return types.SeverityLabelMedium
	}
	return types.SeverityLabelHigh
}

// finding builds the ASFF finding of k, imported by account hub in
// region at time now.
func (f *Findings) finding(k KeyFinding, now time.Time) types.AwsSecurityFinding {
	if k.Provider == "" {
		k.Provider = domain.ProviderAWS
	}
	first := k.FirstSeen
	if first.IsZero() {
		first = now
	}
	sev := severity(k, now)
	compliance, workflow, record := types.ComplianceStatusFailed, types.WorkflowStatusNew, types.RecordStateActive
	if k.Resolution != Open {
		compliance, workflow = types.ComplianceStatusPassed, types.WorkflowStatusResolved
	}
	if k.Resolution == ResolvedDeleted {
		record = types.RecordStateArchived
	}
	rule := k.Rule
	if rule == "" {
		rule = "default"
	}
	return types.AwsSecurityFinding{
		SchemaVersion:   aws.String("2018-10-08"),
		Id:              aws.String(FindingID(k.Provider, k.Account, k.KeyID)),
		ProductArn:      aws.String(f.productARN()),
		GeneratorId:     aws.String("keysweep/policy/" + rule),
		AwsAccountId:    aws.String(f.Account),
		Types:           []string{findingType},
		CreatedAt:       aws.String(asffTime(first)),
		UpdatedAt:       aws.String(asffTime(now)),
		FirstObservedAt: aws.String(asffTime(first)),
		LastObservedAt:  aws.String(asffTime(now)),
		Severity:        &types.Severity{Label: sev, Original: aws.String(string(sev))},
		// Providers set severity and types here; the top-level ones are
		// only taken on the first import.
		FindingProviderFields: &types.FindingProviderFields{
			Severity: &types.FindingProviderSeverity{Label: sev, Original: aws.String(string(sev))},
			Types:    []string{findingType},
		},
		Title:       aws.String(limit(findingTitle(k, now), 256)),
		Description: aws.String(limit(findingDescription(k), 1024)),
		Remediation: &types.Remediation{Recommendation: &types.Recommendation{
			Text: aws.String("Rotate the key: create a new key, move its users to it, then deactivate and delete this one. " +
				"keysweep deactivates stale keys and deletes them later; a key that must stay is exempted in keysweep's policy."),
			Url: aws.String(remediationURL),
		}},
		Resources:     []types.Resource{f.resource(k)},
		Compliance:    &types.Compliance{Status: compliance},
		Workflow:      &types.Workflow{Status: workflow},
		RecordState:   record,
		ProductFields: productFields(k),
	}
}

func findingTitle(k KeyFinding, now time.Time) string {
	what := fmt.Sprintf("%s key %s of %s", k.Provider.Title(), k.KeyID, k.User)
	switch {
	case k.Resolution == Open && k.StaleAt.IsZero():
		return what + " is stale"
	case k.Resolution == Open && now.Before(k.StaleAt):
		return fmt.Sprintf("%s becomes stale on %s", what, day(k.StaleAt))
	case k.Resolution == Open:
		return fmt.Sprintf("%s is stale since %s", what, day(k.StaleAt))
	case k.Resolution == ResolvedFresh:
		return what + " is within the limits again"
	case k.Resolution == ResolvedExempt:
		return what + " is exempt"
	}
	return fmt.Sprintf("%s was %s", what, k.Resolution)
}

func findingDescription(k KeyFinding) string {
	s := k.Reason
	if s == "" {
		s = "stale long-lived access key"
	}
	if !k.StaleAt.IsZero() {
		s += "; stale from " + day(k.StaleAt)
	}
	if k.Resolution != Open {
		s += "; resolved: " + string(k.Resolution)
	}
	return s
}

func (f *Findings) resource(k KeyFinding) types.Resource {
	r := types.Resource{Partition: types.Partition(f.partition()), Region: aws.String(f.Region)}
	if k.Provider == domain.ProviderAWS {
		d := &types.AwsIamAccessKeyDetails{
			AccessKeyId: aws.String(k.KeyID), AccountId: aws.String(k.Account),
			PrincipalName: aws.String(k.User), PrincipalType: aws.String("IAMUser"), UserName: aws.String(k.User),
		}
		if k.Status != "" {
			d.Status = types.AwsIamAccessKeyStatus(k.Status)
		}
		if !k.CreatedAt.IsZero() {
			d.CreatedAt = aws.String(asffTime(k.CreatedAt))
		}
		r.Type, r.Id = aws.String("AwsIamAccessKey"), aws.String(k.KeyID)
		r.Details = &types.ResourceDetails{AwsIamAccessKey: d}
		return r
	}
	other := map[string]string{}
	put(other, "provider", string(k.Provider))
	put(other, "account", k.Account)
	put(other, "target", k.Target)
	put(other, "user", k.User)
	put(other, "keyId", k.KeyID)
	put(other, "keyName", k.KeyName)
	put(other, "status", string(k.Status))
	if !k.CreatedAt.IsZero() {
		put(other, "createdAt", asffTime(k.CreatedAt))
	}
	if k.LastUsedAt != nil {
		put(other, "lastUsedAt", asffTime(*k.LastUsedAt))
	}
	r.Type = aws.String("Other")
	r.Id = aws.String(fmt.Sprintf("%s/%s/%s", k.Provider, k.Account, k.KeyID))
	r.Details = &types.ResourceDetails{Other: other}
	return r
}

func productFields(k KeyFinding) map[string]string {
	m := map[string]string{"ProviderName": "keysweep"}
	put(m, "keysweep/runId", k.RunID)
	put(m, "keysweep/provider", string(k.Provider))
	put(m, "keysweep/account", k.Account)
	put(m, "keysweep/target", k.Target)
	put(m, "keysweep/rule", k.Rule)
	put(m, "keysweep/policyVersion", k.PolicyVersion)
	if !k.StaleAt.IsZero() {
		put(m, "keysweep/staleOn", day(k.StaleAt))
	}
	put(m, "keysweep/resolution", string(k.Resolution))
	return m
}

// put sets a map entry cut to the 1,024 characters ASFF allows, leaving
// out empty values.
func put(m map[string]string, k, v string) {
	if v = cleanString(v); v != "" {
		m[k] = limit(v, 1024)
	}
}

func limit(s string, n int) string {
	if r := []rune(s); len(r) > n {
		return string(r[:n-1]) + "…"
	}
	return s
}

// asffTime is the ISO 8601 form ASFF takes, in UTC with milliseconds.
func asffTime(t time.Time) string { return t.UTC().Format("2006-01-02T15:04:05.000Z") }
