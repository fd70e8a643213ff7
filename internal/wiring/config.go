// Package wiring builds keysweep from its environment, once: the AWS
// configuration and clients, the journal, the key stores of every target,
// and the handlers of the Lambda functions. functions/<name>/main.go and
// the CLI call it; nothing else reads the environment.
package wiring

import (
	"fmt"
	"os"
	"strconv"
	"time"

	"github.com/keysweep/keysweep/internal/domain"
)

// Environment variables read by the functions and the CLI.
const (
	EnvPolicyTable     = "POLICY_TABLE"
	EnvAuditTable      = "AUDIT_TABLE"
	EnvPolicyID        = "POLICY_ID"
	EnvRetentionDays   = "AUDIT_RETENTION_DAYS"
	EnvSweeperFunction = "SWEEPER_FUNCTION"
	EnvBulkTagReads    = "KEYSWEEP_BULK_TAGS"
	EnvArchiveBucket   = "AUDIT_ARCHIVE_BUCKET"
	EnvArchiveDays     = "AUDIT_ARCHIVE_DAYS"
	// EnvReportBucket names the bucket the sweeper writes the posture
	// report to after each scheduled run; empty: no report.
	EnvReportBucket = "REPORT_BUCKET"
)

// DefaultRetentionDays is the audit records' default lifetime.
const DefaultRetentionDays = 400

// Config is what the functions read from their environment.
type Config struct {
	PolicyTable string
	AuditTable  string
	PolicyID    string
	Retention   time.Duration
	// BulkTags lets the AWS key store read users' tags in bulk
	// (iam:GetAccountAuthorizationDetails, granted only when asked).
	BulkTags bool
	// Targets are the key stores swept besides the AWS account the
	// deployment runs in.
	Targets []TargetConfig
	// ArchiveBucket, when set, is an S3 bucket with Object Lock where each
	// run's records are also kept, locked for ArchiveRetention.
	ArchiveBucket    string
	ArchiveRetention time.Duration
	// ReportBucket is where the sweeper writes the posture report after
	// each scheduled run; empty: nowhere.
	ReportBucket string
	// Notices are the channels that tell people (notifier.go).
	Notices NoticeConfig
}

// ConfigFromEnv reads Config from the environment.
func ConfigFromEnv() (Config, error) {
	c := Config{
		PolicyTable:  os.Getenv(EnvPolicyTable),
		AuditTable:   os.Getenv(EnvAuditTable),
		PolicyID:     os.Getenv(EnvPolicyID),
		Retention:    DefaultRetentionDays * 24 * time.Hour,
		BulkTags:     os.Getenv(EnvBulkTagReads) == "true",
		ReportBucket: os.Getenv(EnvReportBucket),
	}
	if c.PolicyID == "" {
		c.PolicyID = domain.DefaultPolicyID
	}
	if v := os.Getenv(EnvRetentionDays); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > 3650 {
			return c, fmt.Errorf("%s: must be a whole number of days from 1 to 3650, got %q", EnvRetentionDays, v)
		}
		c.Retention = time.Duration(n) * 24 * time.Hour
	}
	c.ArchiveBucket = os.Getenv(EnvArchiveBucket)
	if v := os.Getenv(EnvArchiveDays); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > 3650 {
			return c, fmt.Errorf("%s: must be a whole number of days from 1 to 3650, got %q", EnvArchiveDays, v)
		}
		c.ArchiveRetention = time.Duration(n) * 24 * time.Hour
	}
	targets, err := TargetsFromEnv()
	if err != nil {
		return c, err
	}
	c.Targets = targets
	if c.Notices, err = NoticeConfigFromEnv(); err != nil {
		return c, err
	}
	return c, c.Validate()
}

// Validate checks that the table names are set.
func (c Config) Validate() error {
	if c.PolicyTable == "" {
		return fmt.Errorf("policy table: not set (flag --policy-table or %s)", EnvPolicyTable)
	}
	if c.AuditTable == "" {
		return fmt.Errorf("audit table: not set (flag --audit-table or %s)", EnvAuditTable)
	}
	return nil
}
