// Package lambdatest runs keysweep's Lambda artifacts as Lambda runs them,
// without Docker: each function's bootstrap built by the Makefile target
// that `sam build` runs (for the host's architecture), executed under AWS's
// Lambda Runtime Interface Emulator (aws-lambda-rie, pinned as a tool in
// go.mod; the component `sam local invoke` runs inside its containers),
// with the environment, timeout and memory size that template.yaml gives
// the function, against a local AWS emulator (moto).
//
// It is test support and developer tooling, never shipped: the emulator
// tests of this package and `make invoke` (cmd/lambda-invoke) use it.
//
// The pieces:
//   - Template reads template.yaml with its short-form intrinsic functions
//     (cfntemplate.Parse).
//   - Stack gives the template's resources local values: it creates the
//     DynamoDB tables and SQS queues a function's environment refers to in
//     the emulator (their schema and attributes from the template), and
//     cfntemplate's Resolver resolves !Ref, !GetAtt, !Sub and the
//     conditions against them.
//   - BuildBootstrap runs `make build-<LogicalId>`; EmulatorBinary builds
//     the pinned aws-lambda-rie.
//   - Start runs one function under the emulator, bound to loopback only;
//     Runtime.Invoke posts an event and tells a function error from an
//     answer.
package lambdatest
