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

.PHONY: help venv deps test vet lint-template checkov venv-checkov build demo events invoke \
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

lint-template: venv ## cfn-lint, sam validate --lint and checkov on the templates
	$(VENV)/bin/cfn-lint template.yaml
	$(VENV)/bin/cfn-lint templates/member-role.yaml
	$(SAM) validate --lint
	$(MAKE) --no-print-directory checkov

# --- checkov (docs/SECURITY.md) ------------------------------------------------
# checkov pins a boto3 the SAM CLI cannot run with, so it has a venv of its
# own, pinned by requirements-checkov.txt (under .cache/, which git ignores).
CHECKOV_VENV := .cache/venv-checkov
CHECKOV_OUT  := .cache/checkov
# Offline: no policy download or platform mapping (--skip-download,
# BC_SKIP_MAPPING), no PyPI version check; a template it cannot parse fails.
CHECKOV_RUN  := BC_SKIP_MAPPING=TRUE CKV_SKIP_PACKAGE_UPDATE_CHECK=true CKV_PARSE_ERROR_FAIL=true \
	$(CHECKOV_VENV)/bin/checkov --skip-download --framework cloudformation

venv-checkov: $(CHECKOV_VENV)/.stamp ## Create .cache/venv-checkov with the pinned checkov

$(CHECKOV_VENV)/.stamp: requirements-checkov.txt
	$(PYTHON) -m venv $(CHECKOV_VENV)
	$(CHECKOV_VENV)/bin/pip install --quiet -r requirements-checkov.txt
	touch $@

# checkov judges a template by its parameters' defaults and leaves out every
# resource whose Condition is then false: organization mode, the API Gateway
# logging role, the report and archive buckets and the optional policies would never be
# scanned. So it
# scans each template as it is and a copy with those defaults turned on
# (ALL_ON), and then checks that every resource it should judge was judged.
ALL_ON_TEMPLATE := -e '/^  OrganizationMode:$$/,/^    Default:/s/Default: "false"/Default: "true"/' \
	-e '/^  CreateApiGatewayLoggingRole:$$/,/^    Default:/s/Default: "false"/Default: "true"/' \
	-e '/^  BulkTagReads:$$/,/^    Default:/s/Default: "false"/Default: "true"/' \
	-e '/^  ProtectedPaths:$$/,/^    Default:/s|Default: ""|Default: "/breakglass/"|' \
	-e '/^  ReportBucket:$$/,/^    Default:/s/Default: "false"/Default: "true"/' \
	-e '/^  AuditArchive:$$/,/^    Default:/s/Default: "false"/Default: "true"/' \
	-e '/^  TargetSecretArns:$$/,/^    Default:/s|Default: ""|Default: "arn:aws:secretsmanager:us-east-1:111122223333:secret:keysweep/otc-AbCdEf"|' \
	-e '/^  NoticeSender:$$/,/^    Default:/s|Default: ""|Default: "keysweep@example.com"|' \
	-e '/^  SecurityHubFindings:$$/,/^    Default:/s/Default: "false"/Default: "true"/'
ALL_ON_MEMBER := -e '/^  BulkTagReads:$$/,/^    Default:/s/Default: "false"/Default: "true"/' \
	-e '/^  ProtectedPaths:$$/,/^    Default:/s|Default: ""|Default: "/breakglass/"|' \
	-e '/^  OperatorRoleArn:$$/,/^    Default:/s|Default: ""|Default: "arn:aws:iam::111122223333:role/operator"|'

checkov: venv-checkov ## checkov on both templates, offline; fails on any finding neither fixed nor skipped with a reason
	@mkdir -p $(CHECKOV_OUT)/all-on
	sed $(ALL_ON_TEMPLATE) template.yaml > $(CHECKOV_OUT)/all-on/template.yaml
	sed $(ALL_ON_MEMBER) templates/member-role.yaml > $(CHECKOV_OUT)/all-on/member-role.yaml
	@# Every default meant to be turned on was: a renamed parameter fails here.
	test "$$(diff template.yaml $(CHECKOV_OUT)/all-on/template.yaml | grep -c '^>')" = 9
	test "$$(diff templates/member-role.yaml $(CHECKOV_OUT)/all-on/member-role.yaml | grep -c '^>')" = 3
	@echo "checkov: the templates as they are (findings only)"
	$(CHECKOV_RUN) --compact --quiet -f template.yaml -f templates/member-role.yaml
	@echo "checkov: organization mode and every optional resource on"
	rc=0; $(CHECKOV_RUN) -o json --output-file-path $(CHECKOV_OUT) \
		-f $(CHECKOV_OUT)/all-on/template.yaml -f $(CHECKOV_OUT)/all-on/member-role.yaml >/dev/null || rc=$$?; \
	$(CHECKOV_VENV)/bin/python -c "$$CHECKOV_REPORT" $(CHECKOV_OUT)/results_json.json \
		$(CHECKOV_OUT)/all-on/template.yaml $(CHECKOV_OUT)/all-on/member-role.yaml; \
	test $$rc = 0

# Prints the all-on scan's findings and skips, and fails when a resource of
# a type checkov has checks for got no result at all: checkov could not
# read it (an intrinsic function where it wants a value) or left it out.
define CHECKOV_REPORT
import json, sys, yaml
class Loader(yaml.SafeLoader): pass
Loader.add_multi_constructor("!", lambda loader, tag, node: None)
judged = {"AWS::Serverless::Function", "AWS::Serverless::Api", "AWS::SQS::Queue", "AWS::DynamoDB::Table",
          "AWS::Logs::LogGroup", "AWS::IAM::Role", "AWS::IAM::Policy", "AWS::KMS::Key", "AWS::SNS::Topic",
          "AWS::S3::Bucket"}
report = json.load(open(sys.argv[1]))
res = report["results"]
for r in res["failed_checks"]:
    print(f"FAILED  {r['check_id']} {r['resource']} ({r['file_path']}:{r['file_line_range'][0]}): {r['check_name']}")
for r in res["skipped_checks"]:
    print(f"skipped {r['check_id']} {r['resource']}: {r['check_result'].get('suppress_comment', '')}")
seen = {(r["file_path"].split("/")[-1], r["resource"]) for kind in ("passed_checks", "failed_checks", "skipped_checks")
        for r in res[kind]}
missing = []
for path in sys.argv[2:]:
    name = path.split("/")[-1]
    for n, r in yaml.load(open(path), Loader=Loader)["Resources"].items():
        if r["Type"] in judged and (name, f"{r['Type']}.{n}") not in seen:
            missing.append(f"{name}: {r['Type']}.{n}")
s = report["summary"]
print(f"Passed checks: {s['passed']}, Failed checks: {s['failed']}, Skipped checks: {s['skipped']}, "
      f"parsing errors: {s['parsing_errors']}, resources: {s['resource_count']}")
if missing:
    sys.exit("checkov judged none of these resources:\n  " + "\n  ".join(missing))
if s["failed"] or s["parsing_errors"]:
    sys.exit("checkov: fix each finding or skip it with a reason (docs/SECURITY.md)")
endef
export CHECKOV_REPORT

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
# 80 minutes on 2 cores, since runs at IAM's rate (10/s) take calls ÷ 10
# seconds. Each run appends a JSON line to BENCH_OUT;
# bench-report prints the tables of docs/PERFORMANCE.md from it. `fast`
# reads tags in bulk (KEYSWEEP_BULK_TAGS=true, the opt-in permission);
# `fast-nobulk` is keysweep as deployed by default.
bench: venv venv-bench bench-lambda ## Reproduce docs/PERFORMANCE.md (about 80 minutes; results in BENCH_OUT)
	$(BENCH) -label real-w -variants 10000 -tools fast,fast-nobulk,fast-memjournal,c7n
	@# W with nothing newly stale, the second run measured (issue 16).
	$(BENCH) -label steady-state -variants 10000 -nothing-stale -steady -tools fast,fast-nobulk
	$(BENCH) -label slow-journal -variants 10000 -journal-write-latency 100ms -tools fast
	@# 50,000 users with the audit trail in memory: moto's TransactWriteItems
	@# copies whole tables, and outgrows the machine on this run.
	$(BENCH) -label real-50k -variants 50000 -tools fast-memjournal
	$(BENCH) -label real-1k -variants 1000 \
		-tools fast,fast-nobulk,fast-notags,fast-memjournal,fallback,naive,c7n,c7n-two,c7n-original
	$(BENCH) -label exempt-only -variants 1000 -nothing-stale -tools fast,fast-nobulk
	$(BENCH) -label side-by-side -variants 1000 -tools fast,c7n -used-after-report 0.005
	$(BENCH) -label limits -scenarios exempt-key-id,no-recheck,date-agreement -tools fast,c7n
	$(MAKE) --no-print-directory bench-report

bench-report: ## Print docs/PERFORMANCE.md's tables from BENCH_OUT
	go run ./bench/cmd/keysweep-bench report $(BENCH_OUT)

bench-lambda: ## Size and start-up time of the sweeper's Lambda binary (also in bench/results/lambda.txt)
	go run ./bench/cmd/keysweep-bench lambda | tee bench/results/lambda.txt
