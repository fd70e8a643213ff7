package fanout

import (
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestMemberFromEnv(t *testing.T) {
	tests := []struct {
		name    string
		env     map[string]string
		want    Member
		wantErr bool
	}{
		{"defaults", map[string]string{"AWS_REGION": "eu-west-1"}, Member{RoleName: DefaultRoleName, Partition: "aws"}, false},
		{"china", map[string]string{"AWS_REGION": "cn-north-1"}, Member{RoleName: DefaultRoleName, Partition: "aws-cn"}, false},
		{"govcloud", map[string]string{"AWS_REGION": "us-gov-west-1"}, Member{RoleName: DefaultRoleName, Partition: "aws-us-gov"}, false},
		{"set", map[string]string{EnvRoleName: "sweeper", EnvExternalID: "ext-123", EnvPartition: "aws-cn"}, Member{RoleName: "sweeper", ExternalID: "ext-123", Partition: "aws-cn"}, false},
		{"bad role", map[string]string{EnvRoleName: "role/with/slash"}, Member{}, true},
		{"bad external id", map[string]string{EnvExternalID: "x"}, Member{}, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			for _, k := range []string{EnvRoleName, EnvExternalID, EnvPartition, "AWS_REGION"} {
				t.Setenv(k, tc.env[k])
			}
			got, err := MemberFromEnv()
			if tc.wantErr {
				if err == nil {
					t.Fatalf("MemberFromEnv = %+v, want an error", got)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
		})
	}
}

func TestMaxReceivesFromEnv(t *testing.T) {
	for v, want := range map[string]int{"": DefaultMaxReceives, "5": 5, "0": -1, "x": -1} {
		t.Setenv(EnvMaxReceives, v)
		got, err := MaxReceivesFromEnv()
		if want < 0 {
			if err == nil {
				t.Errorf("%s=%q: no error", EnvMaxReceives, v)
			}
			continue
		}
		if err != nil || got != want {
			t.Errorf("%s=%q: %d, %v; want %d", EnvMaxReceives, v, got, err, want)
		}
	}
	t.Setenv(EnvQueueURL, "")
	if _, err := QueueURLFromEnv(); err == nil {
		t.Error("QueueURLFromEnv without a URL: no error")
	}
}
