# keysweep developer tasks. `make help` lists them.
#
# Python tools (moto for the local AWS emulator, SAM CLI, cfn-lint) live in
# .venv, pinned by requirements-dev.txt; Go tests find the emulator there.

SHELL := bash
.SHELLFLAGS := -eu -o pipefail -c
.DEFAULT_GOAL := help

PYTHON ?= python3
VENV   := .venv
SAM    := $(VENV)/bin/sam
# No usage reports from the SAM CLI, in CI or on laptops.
export SAM_CLI_TELEMETRY := 0
# Never let a build or test rewrite go.mod or go.sum behind a developer's back.
export GOFLAGS ?= -mod=readonly

# Lambda binaries: static, for the template's Architectures (arm64), without
# the legacy RPC shim, reproducible. The Lambda emulator tests and `make
# invoke` run these same targets with LAMBDA_GOARCH set to the host's.
LAMBDA_GOARCH  := arm64
LAMBDA_GOENV   := GOOS=linux GOARCH=$(LAMBDA_GOARCH) CGO_ENABLED=0
LAMBDA_GOBUILD := go build -tags lambda.norpc -trimpath -ldflags "-s -w"

.PHONY: help venv deps test vet lint-template build demo events invoke \
	build-SweeperFunction build-ApiFunction build-DispatcherFunction build-WorkerFunction \
	venv-bench bench bench-lambda bench-report

help: ## List the targets
	@grep -hE '^[a-zA-Z_-]+:.*## ' $(MAKEFILE_LIST) | \
		awk 'BEGIN {FS = ":.*## "}; {printf "  %-26s %s\n", $$1, $$2}'

venv: $(VENV)/.stamp ## Create .venv with the pinned Python tools (moto, SAM CLI, cfn-lint)

# Reinstall only when the pins change.
$(VENV)/.stamp: requirements-dev.txt
	$(PYTHON) -m venv $(VENV)
	$(VENV)/bin/pip install --quiet -r requirements-dev.txt
	touch $@

deps: ## Download Go modules
	go mod download

vet: deps ## go vet every package
	go vet ./...

test: venv deps ## Vet, run all Go tests (race detector, local emulator) and lint the template
	go vet ./...
	go test -race -count=1 ./...
	$(MAKE) --no-print-directory lint-template

lint-template: venv ## cfn-lint and sam validate --lint on template.yaml
	$(VENV)/bin/cfn-lint template.yaml
	$(VENV)/bin/cfn-lint templates/member-role.yaml
	$(SAM) validate --lint

build: venv ## sam build: every function through its build-<LogicalId> target below
	$(SAM) build

# SAM runs these with ARTIFACTS_DIR set (Metadata: BuildMethod: makefile).
build-SweeperFunction: ## (SAM) build the sweeper's bootstrap into $(ARTIFACTS_DIR)
	$(LAMBDA_GOENV) $(LAMBDA_GOBUILD) -o $(ARTIFACTS_DIR)/bootstrap ./functions/sweeper

build-ApiFunction: ## (SAM) build the API's bootstrap into $(ARTIFACTS_DIR)
	$(LAMBDA_GOENV) $(LAMBDA_GOBUILD) -o $(ARTIFACTS_DIR)/bootstrap ./functions/api

build-DispatcherFunction: ## (SAM) build the dispatcher's bootstrap into $(ARTIFACTS_DIR)
	$(LAMBDA_GOENV) $(LAMBDA_GOBUILD) -o $(ARTIFACTS_DIR)/bootstrap ./functions/dispatcher

build-WorkerFunction: ## (SAM) build the worker's bootstrap into $(ARTIFACTS_DIR)
	$(LAMBDA_GOENV) $(LAMBDA_GOBUILD) -o $(ARTIFACTS_DIR)/bootstrap ./functions/worker

# The Docker-free `sam local invoke` (docs/LOCAL-INVOKE.md): FUNCTION's
# bootstrap, built by its build-<LogicalId> target below for this machine,
# run under the Lambda runtime interface emulator with the template's
# environment, against the local AWS emulator (AWS_ENDPOINT_URL's, or a
# fresh one). PARAMS='OrganizationMode=true ExternalId=x' sets template
# parameters; ENV_VARS=FILE overrides variables as sam's --env-vars does.
FUNCTION ?= SweeperFunction
EVENT    ?= events/manual-audit.json
invoke: venv ## Invoke FUNCTION on EVENT under the Lambda emulator, no Docker (make invoke FUNCTION=SweeperFunction EVENT=events/manual-audit.json)
	go run ./internal/lambdatest/cmd/lambda-invoke -function '$(FUNCTION)' -event '$(EVENT)' \
		$(foreach p,$(PARAMS),-param '$(p)') $(if $(ENV_VARS),-env-vars '$(ENV_VARS)')

demo: venv ## Run the CLI demo against the local emulator
	go run ./cmd/keysweep demo

events: venv ## Regenerate the SAM-generated payloads in events/ (see events/README.md)
	$(SAM) local generate-event cloudwatch scheduled-event > events/schedule.json
	$(SAM) local generate-event apigateway aws-proxy --method POST \
		--path 'keys/AKIAEXAMPLE/revoke' --resource '/keys/{accessKeyId}/revoke' \
		--body '{}' > events/api-revoke.json
	@# generate-event always fills pathParameters as {"proxy": path}; API
	@# Gateway would pass the resource's own parameter.
	$(VENV)/bin/python -c 'import json, sys; p = sys.argv[1]; e = json.load(open(p)); \
		e["pathParameters"] = {"accessKeyId": "AKIAEXAMPLE"}; \
		open(p, "w").write(json.dumps(e, indent=2) + "\n")' events/api-revoke.json
	SAM=$(SAM) PYTHON=$(VENV)/bin/python bash events/generate-api-events.sh
	SAM=$(SAM) PYTHON=$(VENV)/bin/python bash events/generate-sqs-events.sh

# --- Performance (docs/PERFORMANCE.md) ---------------------------------------
# Cloud Custodian lives in its own venv, pinned by requirements-bench.txt.
BENCH_VENV := .venv-bench
# Where `make bench` appends its results, one JSON line per run.
BENCH_OUT  ?= bench/results/run.jsonl
BENCH      := go run ./bench/cmd/keysweep-bench -out $(BENCH_OUT)

venv-bench: $(BENCH_VENV)/.stamp ## Create .venv-bench with Cloud Custodian for make bench

$(BENCH_VENV)/.stamp: requirements-bench.txt
	$(PYTHON) -m venv $(BENCH_VENV)
	$(BENCH_VENV)/bin/pip install --quiet -r requirements-bench.txt
	touch $@

# The figures in docs/PERFORMANCE.md, in the order they were taken: about
# an hour on 2 cores, since runs at IAM's rate (10/s) take calls ÷ 10
# seconds. Each run appends a JSON line to BENCH_OUT; bench-report prints
# the tables of docs/PERFORMANCE.md from it.
bench: venv venv-bench bench-lambda ## Reproduce docs/PERFORMANCE.md (over an hour; results in BENCH_OUT)
	$(BENCH) -label real-w -variants 10000 -tools fast,fast-memjournal,c7n
	@# 50,000 users with the audit trail in memory: moto's TransactWriteItems
	@# copies whole tables, and outgrows the machine on this run.
	$(BENCH) -label real-50k -variants 50000 -tools fast-memjournal
	$(BENCH) -label real-1k -variants 1000 -tools fast,fast-notags,fast-memjournal,fallback,naive,c7n
	$(BENCH) -label side-by-side -variants 1000 -tools fast,c7n -used-after-report 0.005
	$(MAKE) --no-print-directory bench-report

bench-report: ## Print docs/PERFORMANCE.md's tables from BENCH_OUT
	go run ./bench/cmd/keysweep-bench report $(BENCH_OUT)

bench-lambda: ## Size and start-up time of the sweeper's Lambda binary
	go run ./bench/cmd/keysweep-bench lambda
