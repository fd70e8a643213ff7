package fanout_test

import (
	"github.com/keysweep/keysweep/internal/fanout"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestMemberFromEnv(t *testing.T) {
	tests := []struct {
		name    string
		env     map[string]string
		want    fanout.Member
		wantErr bool
	}{
		{"defaults", map[string]string{"AWS_REGION": "eu-west-1"}, fanout.Member{RoleName: fanout.DefaultRoleName, Partition: "aws"}, false},
		{"china", map[string]string{"AWS_REGION": "cn-north-1"}, fanout.Member{RoleName: fanout.DefaultRoleName, Partition: "aws-cn"}, false},
		{"govcloud", map[string]string{"AWS_REGION": "us-gov-west-1"}, fanout.Member{RoleName: fanout.DefaultRoleName, Partition: "aws-us-gov"}, false},
		{"set", map[string]string{fanout.EnvRoleName: "sweeper", fanout.EnvExternalID: "ext-123", fanout.EnvPartition: "aws-cn"}, fanout.Member{RoleName: "sweeper", ExternalID: "ext-123", Partition: "aws-cn"}, false},
		{"bad role", map[string]string{fanout.EnvRoleName: "role/with/slash"}, fanout.Member{}, true},
		{"bad external id", map[string]string{fanout.EnvExternalID: "x"}, fanout.Member{}, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			for _, k := range []string{fanout.EnvRoleName, fanout.EnvExternalID, fanout.EnvPartition, "AWS_REGION"} {
				t.Setenv(k, tc.env[k])
			}
			got, err := fanout.MemberFromEnv()
			if tc.wantErr {
				if err == nil {
					t.Fatalf("fanout.MemberFromEnv = %+v, want an error", got)
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
	for v, want := range map[string]int{"": fanout.DefaultMaxReceives, "5": 5, "0": -1, "x": -1} {
		t.Setenv(fanout.EnvMaxReceives, v)
		got, err := fanout.MaxReceivesFromEnv()
		if want < 0 {
			if err == nil {
				t.Errorf("%s=%q: no error", fanout.EnvMaxReceives, v)
			}
			continue
		}
		if err != nil || got != want {
			t.Errorf("%s=%q: %d, %v; want %d", fanout.EnvMaxReceives, v, got, err, want)
		}
	}
	t.Setenv(fanout.EnvQueueURL, "")
	if _, err := fanout.QueueURLFromEnv(); err == nil {
		t.Error("fanout.QueueURLFromEnv without a URL: no error")
	}
}
