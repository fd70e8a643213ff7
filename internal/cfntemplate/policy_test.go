package cfntemplate

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
)

const testTemplate = `
Resources:
  Role:
    Type: AWS::IAM::Role
    Properties:
      Policies:
        - PolicyName: p
          PolicyDocument:
            Statement:
              - Sid: Always
                Effect: Allow
                Action: [a:One, a:Two]
                Resource: !GetAtt Table.Arn
                Condition:
                  ForAllValues:StringLike:
                    dynamodb:LeadingKeys: [STATE#*, RUN#*]
              - !If
                - Cond
                - Sid: Sometimes
                  Effect: Allow
                  Action: a:Three
                  Resource: "*"
                - !Ref AWS::NoValue
              - !If
                - Other
                - Sid: Then
                  Effect: Deny
                  Action: a:Four
                  Resource: !Split [",", !Sub "x,y"]
                - Sid: Else
                  Effect: Allow
                  Action: a:Five
                  Resource: "*"
  Extra:
    Type: AWS::IAM::Policy
    Condition: Attached
    Properties:
      Roles: [!Ref Role]
      PolicyDocument:
        Statement:
          - Sid: Extra
            Effect: Allow
            Action: a:Six
            Resource: "*"
  Elsewhere:
    Type: AWS::IAM::Policy
    Properties:
      Roles: [!Ref OtherRole]
      PolicyDocument:
        Statement:
          - Sid: NotMine
            Effect: Allow
            Action: a:Seven
            Resource: "*"
`

func TestStatements(t *testing.T) {
	path := filepath.Join(t.TempDir(), "t.yaml")
	if err := os.WriteFile(path, []byte(testTemplate), 0o600); err != nil {
		t.Fatal(err)
	}
	res := Dig(t, Read(t, path), "Resources").(map[string]any)
	got := Statements(t, Dig(t, res, "Role", "Properties", "Policies"))
	got = append(got, AttachedStatements(t, res, "Role")...)
	want := []Statement{
		{Sid: "Always", Effect: "Allow", Actions: []string{"a:One", "a:Two"}, Resources: []string{"Table.Arn"},
			Condition: map[string]any{"ForAllValues:StringLike": map[string]any{"dynamodb:LeadingKeys": []any{"STATE#*", "RUN#*"}}}},
		{Sid: "Sometimes", Effect: "Allow", Actions: []string{"a:Three"}, Resources: []string{"*"}, If: "Cond"},
		{Sid: "Then", Effect: "Deny", Actions: []string{"a:Four"}, If: "Other"},
		{Sid: "Else", Effect: "Allow", Actions: []string{"a:Five"}, Resources: []string{"*"}, If: "!Other"},
		{Sid: "Extra", Effect: "Allow", Actions: []string{"a:Six"}, Resources: []string{"*"}, If: "Attached"},
	}
	if diff := cmp.Diff(want, got, cmpopts.IgnoreFields(Statement{}, "Raw")); diff != "" {
		t.Errorf("statements (-want +got):\n%s", diff)
	}
	if got := got[0].ConditionValues("ForAllValues:StringLike", "dynamodb:LeadingKeys"); !cmp.Equal(got, []string{"STATE#*", "RUN#*"}) {
		t.Errorf("LeadingKeys %v", got)
	}
	if got := Actions(t, Dig(t, res, "Role", "Properties", "Policies")); !cmp.Equal(got, []string{"a:One", "a:Two", "a:Three", "a:Five"}) {
		t.Errorf("Actions %v, want the allowed ones, conditional ones included", got)
	}
}
