// Command worker sweeps one member account per message from the account
// queue: it assumes the member role and runs the same engine as the
// single-account sweeper, writing to the central audit table. Wiring only;
// the logic is in org.
package main

import (
	"context"
	"log/slog"
	"os"

	"github.com/aws/aws-lambda-go/lambda"
	"github.com/aws/aws-lambda-go/lambdacontext"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	"github.com/aws/aws-sdk-go-v2/service/sts"

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
	member, err := org.MemberFromEnv()
	if err != nil {
		logger.Error("configuration", "err", err)
		os.Exit(1)
	}
	maxReceives, err := org.MaxReceivesFromEnv()
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
	w := &org.Worker{
		Journal:  deps.Store,
		Policies: deps.Store,
		PolicyID: cfg.PolicyID,
		Accounts: &org.AssumeRoleOpener{
			STS:        sts.NewFromConfig(deps.AWS),
			Config:     deps.AWS,
			Partition:  member.Partition,
			RoleName:   member.RoleName,
			ExternalID: member.ExternalID,
			Provider:   awsiam.Options{Logger: logger},
			Logger:     logger,
		},
		MaxReceives: maxReceives,
		Delay:       &org.SQSDelayer{API: sqs.NewFromConfig(deps.AWS), URL: queueURL},
		Logger:      logger,
	}
	lambda.Start(w.HandleSQS)
}
