// Command api is the REST API's Lambda behind API Gateway (IAM
// authorization): revoke or inspect one key, start a sweep, read a run.
// Wiring only; the logic is in app and sweep.
package main

import (
	"context"
	"log/slog"
	"os"

	"github.com/aws/aws-lambda-go/lambda"
	"github.com/aws/aws-lambda-go/lambdacontext"
	lambdasvc "github.com/aws/aws-sdk-go-v2/service/lambda"

	"github.com/keysweep/keysweep/app"
	"github.com/keysweep/keysweep/awsiam"
)

func main() {
	logger := lambdacontext.NewLogger()
	slog.SetDefault(logger)
	cfg, err := app.ConfigFromEnv()
	if err != nil {
		logger.Error("configuration", "err", err)
		os.Exit(1)
	}
	sweeper := os.Getenv(app.EnvSweeperFunction)
	if sweeper == "" {
		logger.Error("configuration", "err", app.EnvSweeperFunction+": not set (the sweeper function POST /sweeps invokes)")
		os.Exit(1)
	}
	deps, err := app.NewDeps(context.Background(), cfg, awsiam.Options{Logger: logger})
	if err != nil {
		logger.Error("aws clients", "err", err)
		os.Exit(1)
	}
	api := app.NewAPI(deps, &app.LambdaStarter{Client: lambdasvc.NewFromConfig(deps.AWS), Function: sweeper}, logger)
	api.RequireIdentity = true
	lambda.Start(api.Handle)
}
