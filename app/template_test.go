package app

import (
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

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
	for _, st := range cfntemplate.Statements(t, cfntemplate.Dig(t, fn, "Policies")) {
		if slices.Contains(st.Resources, "PolicyTable.Arn") && !slices.Equal(st.Actions, []string{"dynamodb:GetItem"}) {
			t.Errorf("the API may %v on the policy table, want only dynamodb:GetItem", st.Actions)
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

// KmsKeyArn, when set, encrypts the tables, the log groups, the queues and
// the functions' environment with that key; left empty, nothing changes
// and every queue still has server-side encryption (SSE-SQS).
func TestTemplateOptionalKmsKey(t *testing.T) {
	tpl := cfntemplate.Read(t, "../template.yaml")
	if got := cfntemplate.Dig(t, tpl, "Parameters", "KmsKeyArn", "Default"); got != "" {
		t.Errorf("KmsKeyArn defaults to %q, want empty", got)
	}
	ifKey := map[string]any{"Fn::If": []any{"HasKmsKey", "KmsKeyArn", "AWS::NoValue"}}
	if diff := cmp.Diff(ifKey, cfntemplate.Dig(t, tpl, "Globals", "Function", "KmsKeyArn")); diff != "" {
		t.Errorf("functions' KmsKeyArn (-want +got):\n%s", diff)
	}
	kinds := map[string]int{}
	for name, r := range cfntemplate.Dig(t, tpl, "Resources").(map[string]any) {
		p := cfntemplate.Dig(t, r, "Properties")
		var got, want any = nil, ifKey
		switch kind := cfntemplate.Dig(t, r, "Type").(string); kind {
		case "AWS::DynamoDB::Table":
			got = cfntemplate.Dig(t, p, "SSESpecification", "KMSMasterKeyId")
			if cfntemplate.Dig(t, p, "SSESpecification", "SSEEnabled") != "true" {
				t.Errorf("%s: SSEEnabled is not true", name)
			}
		case "AWS::Logs::LogGroup":
			got = cfntemplate.Dig(t, p, "KmsKeyId")
		case "AWS::SQS::Queue":
			got = cfntemplate.Dig(t, p, "KmsMasterKeyId")
			sse := map[string]any{"Fn::If": []any{"HasKmsKey", "AWS::NoValue", "true"}}
			if diff := cmp.Diff(sse, cfntemplate.Dig(t, p, "SqsManagedSseEnabled")); diff != "" {
				t.Errorf("%s: SqsManagedSseEnabled (-want +got):\n%s", name, diff)
			}
		default:
			continue
		}
		kinds[cfntemplate.Dig(t, r, "Type").(string)]++
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("%s: key (-want +got):\n%s", name, diff)
		}
	}
	if diff := cmp.Diff(map[string]int{"AWS::DynamoDB::Table": 2, "AWS::Logs::LogGroup": 5, "AWS::SQS::Queue": 3}, kinds); diff != "" {
		t.Errorf("resources checked (-want +got):\n%s", diff)
	}
}

// Every function is traced and has a concurrency of its own: one sweeper
// at a time (a scheduled run never overlaps another), no more API calls at
// once than the stage lets through; the API stage is traced too.
func TestTemplateTracingAndConcurrency(t *testing.T) {
	tpl := cfntemplate.Read(t, "../template.yaml")
	if got := cfntemplate.Dig(t, tpl, "Globals", "Function", "Tracing"); got != "Active" {
		t.Errorf("functions' Tracing %v, want Active", got)
	}
	res := cfntemplate.Dig(t, tpl, "Resources").(map[string]any)
	if got := cfntemplate.Dig(t, res, "KeysweepApi", "Properties", "TracingEnabled"); got != "true" {
		t.Errorf("API stage TracingEnabled %v, want true", got)
	}
	want := map[string]any{"SweeperFunction": "1", "ApiFunction": "ApiThrottlingBurstLimit",
		"DispatcherFunction": "1", "WorkerFunction": "WorkerConcurrency"}
	got := map[string]any{}
	for name, r := range res {
		if cfntemplate.Dig(t, r, "Type") == "AWS::Serverless::Function" {
			got[name] = cfntemplate.Dig(t, r, "Properties", "ReservedConcurrentExecutions")
		}
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("ReservedConcurrentExecutions (-want +got):\n%s", diff)
	}
}
