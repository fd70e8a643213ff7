package lambda_test

import (
	"slices"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/keysweep/keysweep/internal/cfntemplate"
	"github.com/keysweep/keysweep/internal/wiring"
)

// ReportBucket=true makes a bucket that keeps the promises docs/REPORT.md
// makes (encrypted, public access blocked, owner-enforced, reports expiring
// by lifecycle, TLS 1.2 only), tells the sweeper its name, and lets the
// sweeper alone write reports and sign links to them, nothing else; by
// default there is none.
func TestTemplateReportBucket(t *testing.T) {
	tpl := cfntemplate.Read(t, "../../template.yaml")
	if got := cfntemplate.Dig(t, tpl, "Parameters", "ReportBucket", "Default"); got != "false" {
		t.Errorf("ReportBucket defaults to %v, want false", got)
	}
	if diff := cmp.Diff(map[string]any{"Fn::Equals": []any{"ReportBucket", "true"}}, cfntemplate.Dig(t, tpl, "Conditions", "CreatesReportBucket")); diff != "" {
		t.Errorf("CreatesReportBucket (-want +got):\n%s", diff)
	}
	res := cfntemplate.Dig(t, tpl, "Resources").(map[string]any)
	b := cfntemplate.Dig(t, res, "ReportsBucket")
	p := cfntemplate.Dig(t, b, "Properties")
	rule := cfntemplate.Dig(t, p, "LifecycleConfiguration", "Rules", "0")
	got := map[string]any{
		"condition":  cfntemplate.Dig(t, b, "Condition"),
		"encryption": cfntemplate.Dig(t, p, "BucketEncryption", "ServerSideEncryptionConfiguration", "0", "ServerSideEncryptionByDefault", "SSEAlgorithm"),
		"public":     cfntemplate.Dig(t, p, "PublicAccessBlockConfiguration"),
		"ownership":  cfntemplate.Dig(t, p, "OwnershipControls", "Rules", "0", "ObjectOwnership"),
		"expiry":     []any{cfntemplate.Dig(t, rule, "Status"), cfntemplate.Dig(t, rule, "Prefix"), cfntemplate.Dig(t, rule, "ExpirationInDays")},
	}
	want := map[string]any{
		"condition":  "CreatesReportBucket",
		"encryption": "AES256",
		"public":     map[string]any{"BlockPublicAcls": "true", "BlockPublicPolicy": "true", "IgnorePublicAcls": "true", "RestrictPublicBuckets": "true"},
		"ownership":  "BucketOwnerEnforced",
		"expiry":     []any{"Enabled", "reports/", "ReportRetentionDays"},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("ReportsBucket (-want +got):\n%s", diff)
	}
	bp := cfntemplate.Dig(t, res, "ReportsBucketPolicy")
	if cfntemplate.Dig(t, bp, "Condition") != "CreatesReportBucket" || cfntemplate.Dig(t, bp, "Properties", "Bucket") != "ReportsBucket" {
		t.Errorf("ReportsBucketPolicy is not on ReportsBucket under CreatesReportBucket")
	}
	denies := map[string]any{}
	for _, st := range cfntemplate.DocStatements(t, cfntemplate.Dig(t, bp, "Properties", "PolicyDocument"), "") {
		if st.Effect != "Deny" || !slices.Equal(st.Actions, []string{"s3:*"}) || !slices.Equal(st.Resources, []string{"ReportsBucket.Arn", "${ReportsBucket.Arn}/*"}) {
			t.Errorf("bucket policy statement %s: %v %v on %v; want a Deny of s3:* on the bucket and its objects", st.Sid, st.Effect, st.Actions, st.Resources)
		}
		denies[st.Sid] = st.Condition
	}
	wantDenies := map[string]any{
		"DenyInsecureTransport": map[string]any{"Bool": map[string]any{"aws:SecureTransport": "false"}},
		"DenyOldTLS":            map[string]any{"NumericLessThan": map[string]any{"s3:TlsVersion": "1.2"}},
	}
	if diff := cmp.Diff(wantDenies, denies); diff != "" {
		t.Errorf("bucket policy (-want +got):\n%s", diff)
	}

	sweeper := cfntemplate.Statements(t, cfntemplate.Dig(t, res, "SweeperFunction", "Properties", "Policies"))
	cfntemplate.OnlyGrants(t, "SweeperFunction", sweeper, "s3", []cfntemplate.Grant{{
		Actions: []string{"s3:PutObject", "s3:GetObject"}, Resources: []string{"${ReportsBucket.Arn}/reports/*"}, If: "CreatesReportBucket",
	}})
	api := cfntemplate.Statements(t, cfntemplate.Dig(t, res, "ApiFunction", "Properties", "Policies"))
	cfntemplate.OnlyGrants(t, "ApiFunction", api, "s3", nil)
	// The report's history is the journal's Activity: one scan of the
	// audit table, which the sweeper may make only when it writes reports.
	var scans []cfntemplate.Grant
	for _, st := range sweeper {
		if slices.Contains(st.Actions, "dynamodb:Scan") {
			scans = append(scans, cfntemplate.Grant{Actions: st.Actions, Resources: st.Resources, If: st.If})
		}
	}
	wantScans := []cfntemplate.Grant{{Actions: []string{"dynamodb:Scan"}, Resources: []string{"AuditTable.Arn"}, If: "CreatesReportBucket"}}
	if diff := cmp.Diff(wantScans, scans); diff != "" {
		t.Errorf("sweeper's scans (-want +got):\n%s", diff)
	}
	env := map[string]any{"Fn::If": []any{"CreatesReportBucket", "ReportsBucket", ""}}
	if diff := cmp.Diff(env, cfntemplate.Dig(t, res, "SweeperFunction", "Properties", "Environment", "Variables", wiring.EnvReportBucket)); diff != "" {
		t.Errorf("sweeper %s (-want +got):\n%s", wiring.EnvReportBucket, diff)
	}
}

// Targets reaches the sweeper and the API as KEYSWEEP_TARGETS, and both
// may read and write back exactly the secrets TargetSecretArns lists,
// and only when it lists any.
func TestTemplateTargets(t *testing.T) {
	tpl := cfntemplate.Read(t, "../../template.yaml")
	params := map[string]any{
		"Targets":          []any{cfntemplate.Dig(t, tpl, "Parameters", "Targets", "Type"), cfntemplate.Dig(t, tpl, "Parameters", "Targets", "Default")},
		"TargetSecretArns": []any{cfntemplate.Dig(t, tpl, "Parameters", "TargetSecretArns", "Type"), cfntemplate.Dig(t, tpl, "Parameters", "TargetSecretArns", "Default")},
	}
	if diff := cmp.Diff(map[string]any{"Targets": []any{"String", "[]"}, "TargetSecretArns": []any{"CommaDelimitedList", ""}}, params); diff != "" {
		t.Errorf("parameters (-want +got):\n%s", diff)
	}
	has := map[string]any{"Fn::Not": []any{map[string]any{"Fn::Equals": []any{map[string]any{"Fn::Join": []any{"", "TargetSecretArns"}}, ""}}}}
	if diff := cmp.Diff(has, cfntemplate.Dig(t, tpl, "Conditions", "HasTargetSecrets")); diff != "" {
		t.Errorf("HasTargetSecrets (-want +got):\n%s", diff)
	}
	res := cfntemplate.Dig(t, tpl, "Resources").(map[string]any)
	for _, fn := range []string{"SweeperFunction", "ApiFunction"} {
		if got := cfntemplate.Dig(t, res, fn, "Properties", "Environment", "Variables", wiring.EnvTargets); got != "Targets" {
			t.Errorf("%s: %s is %v, want !Ref Targets", fn, wiring.EnvTargets, got)
		}
		sts := cfntemplate.Statements(t, cfntemplate.Dig(t, res, fn, "Properties", "Policies"))
		cfntemplate.OnlyGrants(t, fn, sts, "secretsmanager", []cfntemplate.Grant{{
			Actions:   []string{"secretsmanager:GetSecretValue", "secretsmanager:PutSecretValue"},
			Resources: []string{"TargetSecretArns"}, If: "HasTargetSecrets",
		}})
	}
	for _, fn := range []string{"DispatcherFunction", "WorkerFunction"} {
		if got := cfntemplate.Dig(t, res, fn, "Properties", "Environment", "Variables", wiring.EnvTargets); got != nil {
			t.Errorf("%s is told the targets (%v): organization runs sweep AWS member accounts only", fn, got)
		}
	}
}
