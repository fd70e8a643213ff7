package app

import (
	"slices"
	"strings"
	"testing"

	"github.com/keysweep/keysweep/internal/cfntemplate"
)

// The revocation API's part of template.yaml keeps the promises docs/API.md
// makes, which cfn-lint cannot check: IAM authorization on every route, a
// role narrower than the sweeper's that cannot change the policy, stage
// throttling, access logs, the URL as an output, and every path and method
// reaching the function so that it answers 404 and 405 itself.
func TestTemplateAPI(t *testing.T) {
	tpl := cfntemplate.Read(t, "../template.yaml")
	res := cfntemplate.Dig(t, tpl, "Resources").(map[string]any)
	api := cfntemplate.Dig(t, res, "KeysweepApi", "Properties")
	if got := cfntemplate.Dig(t, api, "Auth", "DefaultAuthorizer"); got != "AWS_IAM" {
		t.Errorf("DefaultAuthorizer %v, want AWS_IAM", got)
	}
	ms := cfntemplate.Dig(t, api, "MethodSettings", "0")
	if cfntemplate.Dig(t, ms, "ThrottlingRateLimit") == nil || cfntemplate.Dig(t, ms, "ThrottlingBurstLimit") == nil {
		t.Errorf("no stage throttling: %v", ms)
	}
	if cfntemplate.Dig(t, api, "AccessLogSetting", "DestinationArn") == nil {
		t.Error("no access log destination")
	}
	if cfntemplate.Dig(t, tpl, "Outputs", "ApiUrl", "Value") == nil {
		t.Error("no ApiUrl output")
	}

	fn := cfntemplate.Dig(t, res, "ApiFunction", "Properties")
	paths := map[string]bool{}
	for name, ev := range cfntemplate.Dig(t, fn, "Events").(map[string]any) {
		p := cfntemplate.Dig(t, ev, "Properties")
		if cfntemplate.Dig(t, ev, "Type") != "Api" || cfntemplate.Dig(t, p, "RestApiId") != "KeysweepApi" {
			t.Errorf("event %s is not on KeysweepApi", name)
		}
		if auth := cfntemplate.Dig(t, p, "Auth"); auth != nil {
			t.Errorf("event %s overrides the IAM authorizer: %v", name, auth)
		}
		if m := cfntemplate.Dig(t, p, "Method"); m != "any" {
			t.Errorf("event %s: method %v, want any (the function answers 405)", name, m)
		}
		paths[cfntemplate.Dig(t, p, "Path").(string)] = true
	}
	for _, want := range append(slices.Clone(templates), "/{proxy+}", "/") {
		if !paths[want] {
			t.Errorf("no API event for %s", want)
		}
	}

	apiActions := iamActions(cfntemplate.Actions(t, cfntemplate.Dig(t, fn, "Policies")))
	sweeperActions := iamActions(cfntemplate.Actions(t, cfntemplate.Dig(t, res, "SweeperFunction", "Properties", "Policies")))
	if len(apiActions) >= len(sweeperActions) {
		t.Errorf("the API may call %d IAM actions %v, the sweeper %d: want fewer", len(apiActions), apiActions, len(sweeperActions))
	}
	for _, a := range []string{"iam:ListUsers", "iam:GenerateCredentialReport", "iam:GetCredentialReport", "iam:GetAccountAuthorizationDetails"} {
		if slices.Contains(apiActions, a) {
			t.Errorf("the API may call %s, which it never needs", a)
		}
	}
	for _, st := range cfntemplate.Dig(t, fn, "Policies", "0", "Statement").([]any) {
		if !slices.Contains(cfntemplate.Strs(cfntemplate.Dig(t, st, "Resource")), "PolicyTable.Arn") {
			continue
		}
		if got := cfntemplate.Strs(cfntemplate.Dig(t, st, "Action")); !slices.Equal(got, []string{"dynamodb:GetItem"}) {
			t.Errorf("the API may %v on the policy table, want only dynamodb:GetItem", got)
		}
	}
}

func iamActions(actions []string) []string {
	var out []string
	for _, a := range actions {
		if strings.HasPrefix(a, "iam:") {
			out = append(out, a)
		}
	}
	return out
}
