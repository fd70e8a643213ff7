package wiring

import (
	"context"
	"encoding/json"
	"log/slog"
	"os"

	"github.com/aws/aws-lambda-go/lambdacontext"
	awslambda "github.com/aws/aws-sdk-go-v2/service/lambda"
	"github.com/aws/aws-sdk-go-v2/service/organizations"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	"github.com/aws/aws-sdk-go-v2/service/sts"

	"github.com/keysweep/keysweep/internal/archive"
	"github.com/keysweep/keysweep/internal/engine"
	"github.com/keysweep/keysweep/internal/fanout"
	"github.com/keysweep/keysweep/internal/httpapi"
	"github.com/keysweep/keysweep/internal/keystore/awsiam"
	"github.com/keysweep/keysweep/internal/lambda"
	"github.com/keysweep/keysweep/internal/report"
)

// fromEnv reads the configuration and builds the clients, or exits: a
// function that cannot be configured must fail its start, loudly.
func fromEnv(logger *slog.Logger) *Deps {
	cfg, err := ConfigFromEnv()
	if err != nil {
		logger.Error("configuration", "err", err)
		os.Exit(1)
	}
	d, err := NewDeps(context.Background(), cfg, awsiam.Options{Logger: logger})
	if err != nil {
		logger.Error("aws clients", "err", err)
		os.Exit(1)
	}
	return d
}

func functionLogger() *slog.Logger {
	logger := lambdacontext.NewLogger()
	slog.SetDefault(logger)
	return logger
}

// Engine is the default target's engine on these clients.
func (d *Deps) Engine(logger *slog.Logger) *engine.Engine {
	return &engine.Engine{Store: d.Store, Journal: d.Journal, Logger: logger, Archive: d.archiver(), Notifier: d.Notifier}
}

// archiver is the write-once archive of runs, when one is configured.
func (d *Deps) archiver() engine.Archiver {
	if d.Config.ArchiveBucket == "" {
		return nil
	}
	return &archive.Archive{API: s3.NewFromConfig(d.AWS), Bucket: d.Config.ArchiveBucket, Retention: d.Config.ArchiveRetention}
}

// Sweeper returns the sweeper function's handler.
func Sweeper() func(context.Context, json.RawMessage) (*lambda.Summary, error) {
	logger := functionLogger()
	d := fromEnv(logger)
	h := &lambda.Sweeper{Targets: d.Targets(logger), Policies: d.Journal, Logger: logger, Metrics: os.Stdout, Reports: d.Reports()}
	return h.Handle
}

// Reports writes the posture report to the configured bucket after each
// scheduled run; nil when no bucket is configured.
func (d *Deps) Reports() *lambda.Reports {
	if d.Config.ReportBucket == "" {
		return nil
	}
	// An endpoint on an IP address (a local emulator) gets path-style
	// addresses from the SDK itself; S3 proper, virtual-hosted ones.
	return &lambda.Reports{S3: report.NewS3API(s3.NewFromConfig(d.AWS)), Bucket: d.Config.ReportBucket, Activity: d.Journal}
}

// API returns the API function's handler.
func API() func(context.Context, lambda.APIGatewayProxyRequest) (lambda.APIGatewayProxyResponse, error) {
	logger := functionLogger()
	d := fromEnv(logger)
	fn := os.Getenv(EnvSweeperFunction)
	if fn == "" {
		logger.Error("configuration", "err", EnvSweeperFunction+": not set (the sweeper function POST /sweeps invokes)")
		os.Exit(1)
	}
	api := d.API(logger, &httpapi.LambdaStarter{Client: awslambda.NewFromConfig(d.AWS), Function: fn})
	api.RequireIdentity = true
	return lambda.NewAPI(api.Handler()).Handle
}

// API is the REST API on these clients, starting sweeps with starter.
func (d *Deps) API(logger *slog.Logger, starter httpapi.SweepStarter) *httpapi.API {
	return &httpapi.API{Targets: d.Targets(logger), Policies: d.Journal, Runs: d.Journal, Sweeps: starter, Logger: logger}
}

// Dispatcher returns the organization dispatcher function's handler.
func Dispatcher() func(context.Context, json.RawMessage) (*fanout.Dispatched, error) {
	logger := functionLogger()
	d := fromEnv(logger)
	queueURL, err := fanout.QueueURLFromEnv()
	if err != nil {
		logger.Error("configuration", "err", err)
		os.Exit(1)
	}
	h := lambda.Dispatcher{Dispatcher: &fanout.Dispatcher{
		Orgs:      organizations.NewFromConfig(d.AWS),
		Queue:     &fanout.SQSQueue{API: sqs.NewFromConfig(d.AWS), URL: queueURL},
		Journal:   d.Journal,
		Policies:  d.Journal,
		PolicyID:  d.Config.PolicyID,
		AccountID: d.Store.Account,
		Logger:    logger,
	}}
	return h.HandleEvent
}

// Worker returns the organization worker function's handler.
func Worker() func(context.Context, lambda.SQSEvent) (lambda.SQSEventResponse, error) {
	logger := functionLogger()
	d := fromEnv(logger)
	member, err := fanout.MemberFromEnv()
	if err == nil {
		err = member.Validate()
	}
	maxReceives, rerr := fanout.MaxReceivesFromEnv()
	queueURL, qerr := fanout.QueueURLFromEnv()
	for _, e := range []error{err, rerr, qerr} {
		if e != nil {
			logger.Error("configuration", "err", e)
			os.Exit(1)
		}
	}
	w := lambda.Worker{Metrics: os.Stdout, Worker: &fanout.Worker{
		Journal:  d.Journal,
		Policies: d.Journal,
		PolicyID: d.Config.PolicyID,
		Accounts: &fanout.AssumeRoleOpener{
			STS: sts.NewFromConfig(d.AWS), Config: d.AWS, Partition: member.Partition, RoleName: member.RoleName,
			ExternalID: member.ExternalID, Provider: awsiam.Options{Logger: logger, BulkTags: d.Config.BulkTags}, Logger: logger,
		},
		MaxReceives: maxReceives,
		Delay:       &fanout.SQSDelayer{API: sqs.NewFromConfig(d.AWS), URL: queueURL},
		Archive:     d.archiver(),
		Logger:      logger,
	}}
	return w.HandleSQS
}

// Targets are the key stores these clients sweep: the deployment's AWS
// account first, then the configured others, each opened on first use.
func (d *Deps) Targets(logger *slog.Logger) []engine.Target {
	out := []engine.Target{{Name: "aws", PolicyID: d.Config.PolicyID, Engine: d.Engine(logger)}}
	for _, tc := range d.Config.Targets {
		out = append(out, engine.Target{Name: tc.Name, PolicyID: tc.PolicyID, Open: func(ctx context.Context) (*engine.Engine, error) {
			st, err := d.OpenTarget(ctx, tc, logger)
			if err != nil {
				return nil, err
			}
			return &engine.Engine{Store: st, Journal: d.Journal, Target: tc.Name, Logger: logger, Archive: d.archiver(), Notifier: d.Notifier}, nil
		}})
	}
	return out
}
