package lambda_test

import (
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/keysweep/keysweep/internal/cfntemplate"
	"github.com/keysweep/keysweep/internal/lambda"
)

// The revocation API's part of template.yaml keeps the promises docs/API.md
// makes, which cfn-lint cannot check: IAM authorization on every route, a
// role narrower than the sweeper's that cannot change the policy, stage
// throttling, access logs, the URL as an output, and every path and method
// reaching the function so that it answers 404 and 405 itself.
func TestTemplateAPI(t *testing.T) {
	tpl := cfntemplate.Read(t, "../../template.yaml")
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
	for _, want := range []string{"/keys/{accessKeyId}/revoke", "/keys/{accessKeyId}", "/targets/{target}/keys/{accessKeyId}/revoke", "/targets/{target}/keys/{accessKeyId}", "/sweeps", "/sweeps/{runId}", "/{proxy+}", "/"} {
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

// The audit table is append-only for the sweeper and the API: history
// (pk KEY#<id>) is put and never updated or deleted; only the mutable
// items may be, by partition key prefix (docs/SECURITY.md).
func TestTemplateAuditAppendOnly(t *testing.T) {
	res := cfntemplate.Dig(t, cfntemplate.Read(t, "../../template.yaml"), "Resources").(map[string]any)
	for _, tc := range []struct {
		function string
		mutable  []string
	}{
		{"SweeperFunction", []string{"STATE#*", "PENDING#*", "RESUME#*", "RUN#*", "EVENT#*", "RUNNING#*", "NOTICE#*"}},
		{"ApiFunction", []string{"STATE#*", "PENDING#*", "RUN#*", "NOTICE#*"}},
	} {
		sts := cfntemplate.Statements(t, cfntemplate.Dig(t, res, tc.function, "Properties", "Policies"))
		cfntemplate.AppendOnly(t, tc.function, sts, "AuditTable", tc.mutable)
	}
}

// GetAccountAuthorizationDetails reads every user's policies along with
// the tags: granted only when BulkTagReads is true, which it is not by
// default, and the sweeper is told which (KEYSWEEP_BULK_TAGS).
func TestTemplateBulkTagReadsOffByDefault(t *testing.T) {
	tpl := cfntemplate.Read(t, "../../template.yaml")
	if got := cfntemplate.Dig(t, tpl, "Parameters", "BulkTagReads", "Default"); got != "false" {
		t.Errorf("BulkTagReads defaults to %v, want false", got)
	}
	want := map[string]any{"Fn::Equals": []any{"BulkTagReads", "true"}}
	if diff := cmp.Diff(want, cfntemplate.Dig(t, tpl, "Conditions", "AllowsBulkTagReads")); diff != "" {
		t.Errorf("AllowsBulkTagReads (-want +got):\n%s", diff)
	}
	res := cfntemplate.Dig(t, tpl, "Resources").(map[string]any)
	var granted bool
	for _, st := range cfntemplate.Statements(t, cfntemplate.Dig(t, res, "SweeperFunction", "Properties", "Policies")) {
		if !slices.Contains(st.Actions, "iam:GetAccountAuthorizationDetails") {
			continue
		}
		granted = true
		if st.If != "AllowsBulkTagReads" || len(st.Actions) != 1 {
			t.Errorf("%s grants %v under %q; want GetAccountAuthorizationDetails alone under AllowsBulkTagReads", st.Sid, st.Actions, st.If)
		}
	}
	if !granted {
		t.Error("the sweeper may never call GetAccountAuthorizationDetails, even with BulkTagReads")
	}
	if got := cfntemplate.Dig(t, res, "SweeperFunction", "Properties", "Environment", "Variables", "KEYSWEEP_BULK_TAGS"); got != "BulkTagReads" {
		t.Errorf("KEYSWEEP_BULK_TAGS %v, want !Ref BulkTagReads", got)
	}
}

// Whatever the policy or the code decides, the sweeper's and the API's
// roles may not deactivate or delete the keys of users under
// ProtectedPaths.
func TestTemplateProtectedPathsDenied(t *testing.T) {
	tpl := cfntemplate.Read(t, "../../template.yaml")
	res := cfntemplate.Dig(t, tpl, "Resources").(map[string]any)
	if got := cfntemplate.Dig(t, tpl, "Parameters", "ProtectedPaths", "Type"); got != "CommaDelimitedList" {
		t.Errorf("ProtectedPaths is a %v, want CommaDelimitedList", got)
	}
	for _, fn := range []string{"SweeperFunction", "ApiFunction"} {
		sts := cfntemplate.Statements(t, cfntemplate.Dig(t, res, fn, "Properties", "Policies"))
		cfntemplate.ProtectedPathsDeny(t, fn, sts, "HasProtectedPaths")
	}
}

// KmsKeyArn, when set, encrypts the tables, the log groups, the queues and
// the functions' environment with that key; left empty, nothing changes
// and every queue still has server-side encryption (SSE-SQS).
func TestTemplateOptionalKmsKey(t *testing.T) {
	tpl := cfntemplate.Read(t, "../../template.yaml")
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
	tpl := cfntemplate.Read(t, "../../template.yaml")
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

// A broken hash chain and notices that could not be sent raise an alarm
// in every deployment.
func TestTemplateAlarms(t *testing.T) {
	res := cfntemplate.Dig(t, cfntemplate.Read(t, "../../template.yaml"), "Resources").(map[string]any)
	cfntemplate.CountAlarm(t, res, "ChainBrokenAlarm", lambda.MetricsNamespace, "ChainBroken", "")
	cfntemplate.CountAlarm(t, res, "NoticesFailedAlarm", lambda.MetricsNamespace, "NoticesFailed", "")
}

// Notices are off until a deployment turns them on: no sender (no
// e-mail), findings off; the roles may send e-mail only as the sender's
// address or its domain, publish only to the team topic (the stack's own,
// or the one NoticeTopicArn names), and with SecurityHubFindings import
// and resolve only the account's own findings. The functions are told the
// same (KEYSWEEP_NOTICE_*, KEYSWEEP_SECURITY_HUB).
func TestTemplateNotices(t *testing.T) {
	tpl := cfntemplate.Read(t, "../../template.yaml")
	for param, want := range map[string]string{"NoticeSender": "", "NoticeTopicArn": "", "SecurityHubFindings": "false"} {
		if got := cfntemplate.Dig(t, tpl, "Parameters", param, "Default"); got != want {
			t.Errorf("%s defaults to %v, want %q", param, got, want)
		}
	}
	res := cfntemplate.Dig(t, tpl, "Resources").(map[string]any)
	topic := map[string]any{"Fn::If": []any{"CreatesNoticeTopic", "NoticeTopic", "NoticeTopicArn"}}
	if got := cfntemplate.Dig(t, res, "NoticeTopic", "Condition"); got != "CreatesNoticeTopic" {
		t.Errorf("NoticeTopic condition %v", got)
	}
	if diff := cmp.Diff(topic, cfntemplate.Dig(t, tpl, "Outputs", "NoticeTopicArn", "Value")); diff != "" {
		t.Errorf("NoticeTopicArn output (-want +got):\n%s", diff)
	}
	params := &cfntemplate.Resolver{PlainRefs: true, Params: map[string]any{
		"AWS::Partition": "aws", "AWS::Region": "us-east-1", "AWS::AccountId": "111122223333", "NoticeSender": "keysweep@example.com",
	}}
	for _, fn := range []string{"SweeperFunction", "ApiFunction"} {
		env := cfntemplate.Dig(t, res, fn, "Properties", "Environment", "Variables")
		if got := cfntemplate.Dig(t, env, "KEYSWEEP_NOTICE_SENDER"); got != "NoticeSender" {
			t.Errorf("%s: KEYSWEEP_NOTICE_SENDER %v, want !Ref NoticeSender", fn, got)
		}
		if diff := cmp.Diff(topic, cfntemplate.Dig(t, env, "KEYSWEEP_NOTICE_TOPIC_ARN")); diff != "" {
			t.Errorf("%s: KEYSWEEP_NOTICE_TOPIC_ARN (-want +got):\n%s", fn, diff)
		}
		found := map[string]bool{}
		for _, st := range cfntemplate.Statements(t, cfntemplate.Dig(t, res, fn, "Properties", "Policies")) {
			var notice []string
			for _, a := range st.Actions {
				if strings.HasPrefix(a, "ses:") || strings.HasPrefix(a, "sns:") || strings.HasPrefix(a, "securityhub:") {
					notice = append(notice, a)
				}
			}
			if len(notice) == 0 {
				continue
			}
			found[st.Sid] = true
			switch st.Sid {
			case "SendOwnerNotices":
				if st.If != "HasNoticeSender" || !slices.Equal(st.Actions, []string{"ses:SendEmail"}) {
					t.Errorf("%s: %s grants %v under %q", fn, st.Sid, st.Actions, st.If)
				}
				rs, _ := st.Raw["Resource"].([]any)
				if len(rs) != 2 {
					t.Fatalf("%s: %s resources %v, want the address's and its domain's identity", fn, st.Sid, st.Raw["Resource"])
				}
				addr, err := params.Resolve(t.Context(), map[string]any{"Fn::Sub": rs[0]})
				if err != nil || addr != "arn:aws:ses:us-east-1:111122223333:identity/keysweep@example.com" {
					t.Errorf("%s: sender identity %v (%v)", fn, addr, err)
				}
				dom := cfntemplate.Dig(t, rs[1], "Fn::Sub", "0")
				if dom != "arn:${AWS::Partition}:ses:${AWS::Region}:${AWS::AccountId}:identity/${Domain}" {
					t.Errorf("%s: domain identity %v", fn, dom)
				}
			case "PublishTeamNotices":
				if st.If != "" || !slices.Equal(st.Actions, []string{"sns:Publish"}) || !cmp.Equal(st.Raw["Resource"], topic) {
					t.Errorf("%s: %s grants %v on %v under %q; want sns:Publish on the team topic", fn, st.Sid, st.Actions, st.Raw["Resource"], st.If)
				}
			case "KeepFindings":
				want := []string{"securityhub:BatchImportFindings", "securityhub:BatchUpdateFindings"}
				if fn != "SweeperFunction" || st.If != "KeepsSecurityHubFindings" || !slices.Equal(st.Actions, want) {
					t.Errorf("%s: %s grants %v under %q", fn, st.Sid, st.Actions, st.If)
				}
				want = []string{
					"arn:${AWS::Partition}:securityhub:${AWS::Region}:${AWS::AccountId}:product/${AWS::AccountId}/default",
					"arn:${AWS::Partition}:securityhub:${AWS::Region}:${AWS::AccountId}:hub/default",
				}
				if !slices.Equal(st.Resources, want) {
					t.Errorf("%s: %s resources %v", fn, st.Sid, st.Resources)
				}
			default:
				t.Errorf("%s: %s grants %v", fn, st.Sid, notice)
			}
		}
		want := map[string]bool{"SendOwnerNotices": true, "PublishTeamNotices": true}
		if fn == "SweeperFunction" {
			want["KeepFindings"] = true
			if got := cfntemplate.Dig(t, env, "KEYSWEEP_SECURITY_HUB"); got != "SecurityHubFindings" {
				t.Errorf("KEYSWEEP_SECURITY_HUB %v, want !Ref SecurityHubFindings", got)
			}
		}
		if diff := cmp.Diff(want, found); diff != "" {
			t.Errorf("%s: notice statements (-want +got):\n%s", fn, diff)
		}
	}
}
