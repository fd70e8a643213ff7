// Command dispatcher starts an organization run (on the schedule, or on
// demand with `aws lambda invoke`): it lists the organization's accounts,
// records the run and sends one message per selected account to the account
// queue. Wiring only; the logic is in org.
package main

import (
	"context"
	"log/slog"
	"os"

	"github.com/aws/aws-lambda-go/lambda"
	"github.com/aws/aws-lambda-go/lambdacontext"
	"github.com/aws/aws-sdk-go-v2/service/organizations"
	"github.com/aws/aws-sdk-go-v2/service/sqs"

	"github.com/keysweep/keysweep/app"
	"github.com/keysweep/keysweep/awsiam"
	"github.com/keysweep/keysweep/org"
)

func main() {
	logger := lambdacontext.NewLogger()
	slog.SetDefault(logger)
	cfg, err := app.ConfigFromEnv()
	if err != nil {
		logger.Error("configuration", "err", err)
		os.Exit(1)
	}
	queueURL, err := org.QueueURLFromEnv()
	if err != nil {
		logger.Error("configuration", "err", err)
		os.Exit(1)
	}
	deps, err := app.NewDeps(context.Background(), cfg, awsiam.Options{Logger: logger})
	if err != nil {
		logger.Error("aws clients", "err", err)
		os.Exit(1)
	}
	d := &org.Dispatcher{
		Orgs:      organizations.NewFromConfig(deps.AWS),
		Queue:     &org.SQSQueue{API: sqs.NewFromConfig(deps.AWS), URL: queueURL},
		Journal:   deps.Store,
		Policies:  deps.Store,
		PolicyID:  cfg.PolicyID,
		AccountID: deps.Provider.AccountID,
		Logger:    logger,
	}
	lambda.Start(d.HandleEvent)
}
