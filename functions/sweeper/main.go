// Command sweeper is the scheduled Lambda: it sweeps the account's IAM
// access keys against the stored policy. Wiring only; the logic is in app
// and sweep.
package main

import (
	"context"
	"encoding/json"
	"log/slog"
	"os"

	"github.com/aws/aws-lambda-go/lambda"
	"github.com/aws/aws-lambda-go/lambdacontext"

	"github.com/keysweep/keysweep/app"
	"github.com/keysweep/keysweep/awsiam"
	"github.com/keysweep/keysweep/sweep"
)

func main() {
	logger := lambdacontext.NewLogger()
	slog.SetDefault(logger)
	cfg, err := app.ConfigFromEnv()
	if err != nil {
		logger.Error("configuration", "err", err)
		os.Exit(1)
	}
	deps, err := app.NewDeps(context.Background(), cfg, awsiam.Options{Logger: logger})
	if err != nil {
		logger.Error("aws clients", "err", err)
		os.Exit(1)
	}
	h := &app.Sweeper{
		Engine:   &sweep.Engine{Provider: deps.Provider, Journal: deps.Store, Logger: logger},
		Policies: deps.Store,
		PolicyID: cfg.PolicyID,
		Logger:   logger,
		Metrics:  os.Stdout,
	}
	lambda.Start(func(ctx context.Context, raw json.RawMessage) (*app.Summary, error) {
		return h.Handle(ctx, raw)
	})
}
