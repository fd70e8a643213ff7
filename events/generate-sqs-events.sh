#!/usr/bin/env bash
# Regenerates events/sqs-account-message.json, the SQS event Lambda gives
# the organization worker for one account message, with the pinned SAM CLI.
# Run from the repository root after `make venv`:
# events/generate-sqs-events.sh
#
# `sam local generate-event sqs receive-message` pastes --body into its JSON
# unescaped, so the body is given with its quotes escaped, and its
# md5OfBody, taken of the escaped text, is computed again of the body.
set -euo pipefail
SAM=${SAM:-.venv/bin/sam}
PYTHON=${PYTHON:-.venv/bin/python}
export SAM_CLI_TELEMETRY=0
RUN=org-20260101T000000Z-0a1b2c3d
ACCOUNT=210987654321
BODY="{\"orgRunId\":\"$RUN\",\"accountId\":\"$ACCOUNT\",\"eventId\":\"org:$RUN:$ACCOUNT\"}"

"$SAM" local generate-event sqs receive-message --queue-name keysweep-AccountQueue-EXAMPLE \
	--body "${BODY//\"/\\\"}" >events/sqs-account-message.json
"$PYTHON" - events/sqs-account-message.json <<'PY'
import hashlib, json, sys
path = sys.argv[1]
e = json.load(open(path))
for r in e["Records"]:
    r["md5OfBody"] = hashlib.md5(r["body"].encode()).hexdigest()
open(path, "w").write(json.dumps(e, indent=2) + "\n")
PY
