package fanout

import (
	"fmt"
	"os"
	"regexp"
	"strconv"
	"strings"
)

// Environment variables of the dispatcher and worker functions (besides
// app's table variables), set by template.yaml.
const (
	EnvQueueURL    = "ACCOUNT_QUEUE_URL"  // dispatcher, worker: the account queue
	EnvRoleName    = "MEMBER_ROLE_NAME"   // worker, CLI: the member role's name
	EnvExternalID  = "MEMBER_EXTERNAL_ID" // worker, CLI: the member role's external id
	EnvPartition   = "KEYSWEEP_PARTITION" // worker: aws, aws-cn, aws-us-gov
	EnvMaxReceives = "MAX_RECEIVES"       // worker: the queue's maxReceiveCount
)

// DefaultRoleName is the member role's name in templates/member-role.yaml.
const DefaultRoleName = "keysweep-member"

var (
	roleNameRE   = regexp.MustCompile(`^[\w+=,.@-]{1,64}$`)
	externalIDRE = regexp.MustCompile(`^[\w+=,.@:/-]+$`)
)

// Member is how a worker reaches member accounts.
type Member struct {
	RoleName   string
	ExternalID string
	Partition  string
}

// Validate checks the role name and external id as STS would.
func (m Member) Validate() error {
	if !roleNameRE.MatchString(m.RoleName) {
		return fmt.Errorf("member role name: want 1-64 letters, digits or +=,.@_-, got %q", m.RoleName)
	}
	if m.ExternalID != "" && (len(m.ExternalID) < 2 || len(m.ExternalID) > 1224 || !externalIDRE.MatchString(m.ExternalID)) {
		return fmt.Errorf("external id: want 2-1224 letters, digits or +=,.@:/_-")
	}
	return nil
}

// PartitionOf returns the partition of a region: aws-cn for cn-*, aws-us-gov
// for us-gov-*, else aws.
func PartitionOf(region string) string {
	switch {
	case strings.HasPrefix(region, "cn-"):
		return "aws-cn"
	case strings.HasPrefix(region, "us-gov-"):
		return "aws-us-gov"
	}
	return "aws"
}

// MemberFromEnv reads the worker's member settings; the role name defaults
// to DefaultRoleName, the partition to the one of AWS_REGION.
func MemberFromEnv() (Member, error) {
	m := Member{RoleName: os.Getenv(EnvRoleName), ExternalID: os.Getenv(EnvExternalID), Partition: os.Getenv(EnvPartition)}
	if m.RoleName == "" {
		m.RoleName = DefaultRoleName
	}
	if m.Partition == "" {
		m.Partition = PartitionOf(os.Getenv("AWS_REGION"))
	}
	return m, m.Validate()
}

// MaxReceivesFromEnv reads EnvMaxReceives; DefaultMaxReceives when unset.
func MaxReceivesFromEnv() (int, error) {
	v := os.Getenv(EnvMaxReceives)
	if v == "" {
		return DefaultMaxReceives, nil
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < 1 || n > 1000 {
		return 0, fmt.Errorf("%s: want a whole number from 1 to 1000 (the queue's maxReceiveCount), got %q", EnvMaxReceives, v)
	}
	return n, nil
}

// QueueURLFromEnv reads the dispatcher's queue URL.
func QueueURLFromEnv() (string, error) {
	u := os.Getenv(EnvQueueURL)
	if u == "" {
		return "", fmt.Errorf("account queue: %s not set", EnvQueueURL)
	}
	return u, nil
}
