package lambda_test

import (
	"slices"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/keysweep/keysweep/internal/cfntemplate"
	"github.com/keysweep/keysweep/internal/wiring"
)

// archiveGrant is the only thing a function may do with the archive: put
// an object, with its lock, under runs/.
var archiveGrant = cfntemplate.Grant{
	Actions:   []string{"s3:PutObject", "s3:PutObjectRetention"},
	Resources: []string{"${AuditArchiveBucket.Arn}/runs/*"}, If: "CreatesAuditArchive",
}

// AuditArchive=true makes a bucket that keeps docs/AUDIT.md's promise
// (Object Lock in compliance mode by default, versioned, encrypted, public
// access blocked, TLS 1.2 only, kept when the stack goes), and every
// function that writes records (sweeper, API, worker) may only put objects
// under runs/ there and is told the bucket and the lock's days. By default
// there is none.
func TestTemplateAuditArchive(t *testing.T) {
	tpl := cfntemplate.Read(t, "../../template.yaml")
	params := map[string]any{
		"AuditArchive":     cfntemplate.Dig(t, tpl, "Parameters", "AuditArchive", "Default"),
		"AuditArchiveDays": cfntemplate.Dig(t, tpl, "Parameters", "AuditArchiveDays", "Default"),
	}
	if diff := cmp.Diff(map[string]any{"AuditArchive": "false", "AuditArchiveDays": "400"}, params); diff != "" {
		t.Errorf("parameters' defaults (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff(map[string]any{"Fn::Equals": []any{"AuditArchive", "true"}}, cfntemplate.Dig(t, tpl, "Conditions", "CreatesAuditArchive")); diff != "" {
		t.Errorf("CreatesAuditArchive (-want +got):\n%s", diff)
	}
	res := cfntemplate.Dig(t, tpl, "Resources").(map[string]any)
	b := cfntemplate.Dig(t, res, "AuditArchiveBucket")
	p := cfntemplate.Dig(t, b, "Properties")
	got := map[string]any{
		"condition":  cfntemplate.Dig(t, b, "Condition"),
		"deletion":   []any{cfntemplate.Dig(t, b, "DeletionPolicy"), cfntemplate.Dig(t, b, "UpdateReplacePolicy")},
		"lock":       []any{cfntemplate.Dig(t, p, "ObjectLockEnabled"), cfntemplate.Dig(t, p, "ObjectLockConfiguration", "ObjectLockEnabled")},
		"retention":  cfntemplate.Dig(t, p, "ObjectLockConfiguration", "Rule", "DefaultRetention"),
		"versioning": cfntemplate.Dig(t, p, "VersioningConfiguration", "Status"),
		"encryption": cfntemplate.Dig(t, p, "BucketEncryption", "ServerSideEncryptionConfiguration", "0", "ServerSideEncryptionByDefault", "SSEAlgorithm"),
		"public":     cfntemplate.Dig(t, p, "PublicAccessBlockConfiguration"),
		"ownership":  cfntemplate.Dig(t, p, "OwnershipControls", "Rules", "0", "ObjectOwnership"),
	}
	want := map[string]any{
		"condition":  "CreatesAuditArchive",
		"deletion":   []any{"Retain", "Retain"},
		"lock":       []any{"true", "Enabled"},
		"retention":  map[string]any{"Mode": "COMPLIANCE", "Days": "AuditArchiveDays"},
		"versioning": "Enabled",
		"encryption": "AES256",
		"public":     map[string]any{"BlockPublicAcls": "true", "BlockPublicPolicy": "true", "IgnorePublicAcls": "true", "RestrictPublicBuckets": "true"},
		"ownership":  "BucketOwnerEnforced",
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("AuditArchiveBucket (-want +got):\n%s", diff)
	}
	if lc := cfntemplate.Dig(t, p, "LifecycleConfiguration", "Rules", "0"); cfntemplate.Dig(t, lc, "ExpirationInDays") != nil || cfntemplate.Dig(t, lc, "NoncurrentVersionExpiration") != nil {
		t.Errorf("the archive's lifecycle expires objects (%v): the lock alone decides how long they stay", lc)
	}
	bp := cfntemplate.Dig(t, res, "AuditArchiveBucketPolicy")
	if cfntemplate.Dig(t, bp, "Condition") != "CreatesAuditArchive" || cfntemplate.Dig(t, bp, "Properties", "Bucket") != "AuditArchiveBucket" {
		t.Errorf("AuditArchiveBucketPolicy is not on AuditArchiveBucket under CreatesAuditArchive")
	}
	var sids []string
	for _, st := range cfntemplate.DocStatements(t, cfntemplate.Dig(t, bp, "Properties", "PolicyDocument"), "") {
		if st.Effect != "Deny" || !slices.Equal(st.Resources, []string{"AuditArchiveBucket.Arn", "${AuditArchiveBucket.Arn}/*"}) {
			t.Errorf("archive bucket policy statement %s: %v on %v; want a Deny on the bucket and its objects", st.Sid, st.Effect, st.Resources)
		}
		sids = append(sids, st.Sid)
	}
	if !slices.Equal(sids, []string{"DenyInsecureTransport", "DenyOldTLS"}) {
		t.Errorf("archive bucket policy: %v, want DenyInsecureTransport and DenyOldTLS", sids)
	}

	bucketEnv := map[string]any{"Fn::If": []any{"CreatesAuditArchive", "AuditArchiveBucket", ""}}
	for _, fn := range []string{"SweeperFunction", "ApiFunction", "WorkerFunction"} {
		vars := cfntemplate.Dig(t, res, fn, "Properties", "Environment", "Variables")
		if diff := cmp.Diff(bucketEnv, cfntemplate.Dig(t, vars, wiring.EnvArchiveBucket)); diff != "" {
			t.Errorf("%s: %s (-want +got):\n%s", fn, wiring.EnvArchiveBucket, diff)
		}
		if got := cfntemplate.Dig(t, vars, wiring.EnvArchiveDays); got != "AuditArchiveDays" {
			t.Errorf("%s: %s is %v, want !Ref AuditArchiveDays", fn, wiring.EnvArchiveDays, got)
		}
	}
	wp := cfntemplate.Dig(t, res, "WorkerAuditArchivePolicy")
	if cfntemplate.Dig(t, wp, "Condition") != "IsOrganizationModeWithAuditArchive" {
		t.Errorf("WorkerAuditArchivePolicy's condition is %v", cfntemplate.Dig(t, wp, "Condition"))
	}
	worker := cfntemplate.DocStatements(t, cfntemplate.Dig(t, wp, "Properties", "PolicyDocument"), "CreatesAuditArchive")
	cfntemplate.OnlyGrants(t, "WorkerAuditArchivePolicy", worker, "s3", []cfntemplate.Grant{archiveGrant})
	role := cfntemplate.AttachedStatements(t, res, "WorkerRole")
	for _, st := range role {
		if st.Effect == "Allow" && slices.ContainsFunc(st.Actions, func(a string) bool {
			return a == "s3:*" || a == "s3:DeleteObject" || a == "s3:PutBucketObjectLockConfiguration"
		}) {
			t.Errorf("WorkerRole: %s grants %v", st.Sid, st.Actions)
		}
	}
}
