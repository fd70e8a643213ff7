// Command sweep-memjournal is a diagnostic for the benchmark: it runs the
// sweeper handler exactly as `keysweep sweep` does (lambda.Sweeper, the same
// engine, provider, SDK and retryer, reading IAM through AWS_ENDPOINT_URL)
// but keeps the audit trail in memory (mem.Journal) instead of DynamoDB.
//
// The emulator's DynamoDB copies a whole table on every TransactWriteItems,
// so on a large account it, not IAM, sets the pace of acting; this run
// shows what the IAM side alone takes. It is not a way to run keysweep.
//
//	sweep-memjournal -policy policy.json [-bulk-tags] [-no-report]
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/keysweep/keysweep/internal/domain"
	"github.com/keysweep/keysweep/internal/engine"
	"github.com/keysweep/keysweep/internal/journal/mem"
	"github.com/keysweep/keysweep/internal/keystore/awsiam"
	"github.com/keysweep/keysweep/internal/lambda"
	"github.com/keysweep/keysweep/internal/trigger"
	"github.com/keysweep/keysweep/internal/wiring"
	"github.com/keysweep/keysweep/policy"
)

func main() {
	file := flag.String("policy", "", "policy file, JSON or YAML (required)")
	noReport := flag.Bool("no-report", false, "skip the credential report")
	bulkTags := flag.Bool("bulk-tags", false, "read tags in bulk (GetAccountAuthorizationDetails), as KEYSWEEP_BULK_TAGS=true does")
	flag.Parse()
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, *file, awsiam.Options{NoReport: *noReport, BulkTags: *bulkTags}); err != nil {
		fmt.Fprintln(os.Stderr, "sweep-memjournal:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, file string, opts awsiam.Options) error {
	data, err := os.ReadFile(file)
	if err != nil {
		return err
	}
	p, err := policy.Parse(data)
	if err != nil {
		return fmt.Errorf("policy %s: %w", file, err)
	}
	cfg := wiring.Config{PolicyTable: "unused", AuditTable: "unused", Retention: 400 * 24 * time.Hour}
	d, err := wiring.NewDeps(ctx, cfg, opts)
	if err != nil {
		return err
	}
	h := &lambda.Sweeper{Targets: []engine.Target{{Name: domain.DefaultTarget, Engine: &engine.Engine{Store: d.Store, Journal: mem.New()}}}, Policy: p, ManualKind: "cli"}
	sum, err := h.Run(ctx, trigger.Event{Kind: "manual"})
	if sum != nil {
		enc := json.NewEncoder(os.Stdout)
		enc.SetIndent("", "  ")
		_ = enc.Encode(sum)
	}
	return err
}
