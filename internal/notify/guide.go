package notify

import (
	"fmt"
	"regexp"
	"strings"

	"github.com/keysweep/keysweep/internal/domain"
)

// guide is how an owner deals with a key in one provider's store.
type guide struct {
	canDeactivate bool
	accountWord   string // "account", "domain", "organization"
	keyWord       string // "access key", "API key"
	// restore makes a deactivated key active again; nil: it cannot be.
	restore []step
	// create gets a new key; remove deletes the old one after a rotation.
	create, remove []step
	// activity shows what the key did (a revoked key may be exposed).
	activity []step
	// keep is how a key that must stay is exempted.
	keep []step
}

func guideFor(f Facts) guide {
	switch f.Provider {
	case domain.ProviderHuawei:
		return huaweiGuide(f)
	case domain.ProviderGMI:
		return gmiGuide(f)
	}
	return awsGuide(f)
}

func awsGuide(f Facts) guide {
	u, k := shellQuote(f.User), shellQuote(f.KeyID)
	g := guide{
		canDeactivate: true, accountWord: "account", keyWord: "access key",
		restore: []step{{
			Text:    "With the AWS CLI, as someone allowed to manage the user's keys:",
			Command: fmt.Sprintf("aws iam update-access-key --user-name %s --access-key-id %s --status Active", u, k),
		}},
		create: []step{{
			Text:    "Create a new key for " + f.User + " and move your applications to it:",
			Command: "aws iam create-access-key --user-name " + u,
		}},
		remove: []step{{
			Text:    "Then delete the old key:",
			Command: fmt.Sprintf("aws iam delete-access-key --user-name %s --access-key-id %s", u, k),
		}},
		activity: []step{{
			Text:    "Review what the key did in CloudTrail (the last 90 days of management events):",
			Command: "aws cloudtrail lookup-events --lookup-attributes AttributeKey=AccessKeyId,AttributeValue=" + k,
		}},
	}
	if f.ExemptionTag != "" {
		g.keep = []step{{
			Text: fmt.Sprintf("If the key must stay, ask an administrator to tag user %s with %s=true, or with an RFC 3339 time until which it may stay (e.g. 2027-01-31T00:00:00Z):",
				f.User, f.ExemptionTag),
			Command: fmt.Sprintf("aws iam tag-user --user-name %s --tags %s", u, shellQuote("Key="+f.ExemptionTag+",Value=true")),
		}}
	} else {
		g.keep = policyKeep()
	}
	return g
}

func huaweiGuide(f Facts) guide {
	return guide{
		canDeactivate: true, accountWord: "account", keyWord: "access key",
		restore: []step{
			{Text: fmt.Sprintf("In the console: IAM > Users > %s > Security Settings > Access Keys, enable the key. Or with the IAM API:", f.User),
				Command: fmt.Sprintf(`PUT /v3.0/OS-CREDENTIAL/credentials/%s  {"credential": {"status": "active"}}`, f.KeyID)},
		},
		create: []step{{Text: fmt.Sprintf("In the console (IAM > Users > %s > Security Settings > Access Keys), create a new access key and move your applications to it.", f.User)}},
		remove: []step{{Text: "Then delete the old key in the same place."}},
		activity: []step{{
			Text: "Review what the key did in Cloud Trace Service (CTS), filtering the traces by the access key id.",
		}},
		keep: policyKeep(),
	}
}

func gmiGuide(f Facts) guide {
	return guide{
		canDeactivate: false, accountWord: "organization", keyWord: "API key",
		create: []step{{Text: "In the GMI Cloud console, create a new API key for your organization and move your applications to it."}},
		remove: []step{{Text: "Then delete the old key there."}},
		keep:   policyKeep(),
	}
}

func policyKeep() []step {
	return []step{{Text: "If the key must stay, ask an administrator to list its id under exemptions.accessKeyIds in keysweep's policy."}}
}

// shellSafe are the characters a POSIX shell takes literally.
var shellSafe = regexp.MustCompile(`^[A-Za-z0-9_.,@=+:/%-]+$`)

// shellQuote quotes s for a POSIX shell where it needs it.
func shellQuote(s string) string {
	if shellSafe.MatchString(s) {
		return s
	}
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}
