#!/usr/bin/env bash
# Regenerates the API Gateway fixtures events/api-*.json (except
# api-revoke.json, which `make events` makes) with the pinned SAM CLI, then
# edits each one for its route. Run from the repository root after
# `make venv`: events/generate-api-events.sh
#
# `sam local generate-event apigateway aws-proxy` always writes
# pathParameters as {"proxy": PATH} and no caller identity. The edits
# below set what API Gateway sends for the route instead: the route's own
# path parameters (none for /sweeps), an IAM caller in
# requestContext.identity (as AWS_IAM authorization fills it), and, for a
# GET, no body. The proxy route (api-unknown-route.json) keeps its
# generated pathParameters.
set -euo pipefail
SAM=${SAM:-.venv/bin/sam}
PYTHON=${PYTHON:-.venv/bin/python}
export SAM_CLI_TELEMETRY=0
KEY=AKIAIOSFODNN7EXAMPLE
RUN=r-20260101T000000Z-0a1b2c3d

# gen FILE METHOD PATH RESOURCE BODY PARAMS(JSON or "keep")
gen() {
	local file=$1 method=$2 path=$3 resource=$4 body=$5 params=$6
	"$SAM" local generate-event apigateway aws-proxy --method "$method" --path "$path" \
		--resource "$resource" --body "$body" >"events/$file"
	"$PYTHON" - "events/$file" "$params" <<'PY'
import json, sys
path, params = sys.argv[1], sys.argv[2]
e = json.load(open(path))
if params != "keep":
    e["pathParameters"] = json.loads(params)
ident = e["requestContext"]["identity"]
ident["userArn"] = "arn:aws:iam::123456789012:user/security-engineer"
ident["caller"] = "AIDACKCEVSQ6C2EXAMPLE"
ident["user"] = "AIDACKCEVSQ6C2EXAMPLE"
ident["accountId"] = "123456789012"
if e["httpMethod"] == "GET":
    e["body"], e["isBase64Encoded"] = None, False
open(path, "w").write(json.dumps(e, indent=2) + "\n")
PY
}

gen api-revoke-key.json POST "keys/$KEY/revoke" '/keys/{accessKeyId}/revoke' \
	'{"reason": "pushed to a public repository", "action": "delete"}' "{\"accessKeyId\": \"$KEY\"}"
gen api-get-key.json GET "keys/$KEY" '/keys/{accessKeyId}' '' "{\"accessKeyId\": \"$KEY\"}"
gen api-start-sweep.json POST sweeps /sweeps '{"mode": "audit", "users": ["alice", "bob"]}' null
gen api-get-sweep.json GET "sweeps/$RUN" '/sweeps/{runId}' '' "{\"runId\": \"$RUN\"}"
gen api-bad-key-id.json POST keys/AKIA-NOT-A-KEY/revoke '/keys/{accessKeyId}/revoke' '{}' \
	'{"accessKeyId": "AKIA-NOT-A-KEY"}'
gen api-unknown-route.json GET users/alice '/{proxy+}' '' keep
gen api-wrong-method.json DELETE "keys/$KEY" '/keys/{accessKeyId}' '' "{\"accessKeyId\": \"$KEY\"}"
