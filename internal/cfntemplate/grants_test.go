package cfntemplate

import "testing"

func TestOnlyGrants(t *testing.T) {
	want := []Grant{{Actions: []string{"s3:PutObject", "s3:GetObject"}, Resources: []string{"${Bucket.Arn}/reports/*"}, If: "HasBucket"}}
	grant := Statement{Sid: "Write", Effect: "Allow", Actions: []string{"s3:PutObject", "s3:GetObject"},
		Resources: []string{"${Bucket.Arn}/reports/*"}, If: "HasBucket"}
	other := Statement{Sid: "Logs", Effect: "Allow", Actions: []string{"logs:PutLogEvents"}, Resources: []string{"*"}}
	for _, tc := range []struct {
		name string
		sts  []Statement
		errs int
	}{
		{"exactly", []Statement{other, grant}, 0},
		{"missing", []Statement{other}, 1},
		{"always", []Statement{{Sid: "Write", Effect: "Allow", Actions: grant.Actions, Resources: grant.Resources}}, 1},
		{"wider", []Statement{grant, {Sid: "All", Effect: "Allow", Actions: []string{"s3:*"}, Resources: []string{"*"}}}, 1},
		{"star action", []Statement{grant, {Sid: "Star", Effect: "Allow", Actions: []string{"*"}, Resources: []string{"*"}}}, 1},
		{"with a condition", []Statement{{Sid: "Write", Effect: "Allow", Actions: grant.Actions, Resources: grant.Resources, If: "HasBucket",
			Condition: map[string]any{"Bool": map[string]any{"aws:SecureTransport": "true"}}}}, 1},
		{"a deny is not a grant", []Statement{grant, {Sid: "Deny", Effect: "Deny", Actions: []string{"s3:*"}, Resources: []string{"*"}}}, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := &recorder{TB: t}
			OnlyGrants(r, "role", tc.sts, "s3", want)
			if len(r.errs) != tc.errs {
				t.Errorf("%d errors, want %d: %q", len(r.errs), tc.errs, r.errs)
			}
		})
	}
}
