// Command worker is keysweep's worker Lambda function. Wiring only: the
// handler is built in internal/wiring, its logic lives in the engine.
package main

import (
	"github.com/aws/aws-lambda-go/lambda"

	"github.com/keysweep/keysweep/internal/wiring"
)

func main() { lambda.Start(wiring.Worker()) }
