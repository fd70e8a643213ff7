"""Run moto in-process as keysweep's local AWS emulator, plus test-only controls.

Why this exists: keysweep decides from facts that moto cannot produce on its
own. moto stamps every access key "now" and cannot backdate it, its credential
report is always live (real IAM hands out the same snapshot for four hours),
its report says it was generated in 2015, and it cannot be told to fail. So
this script runs moto's own server app in this process, where its backend
objects can be reached, and wraps it in a small WSGI middleware that serves
control routes under /_keysweep/ and passes every other request to moto:

  POST /_keysweep/iam/keys/{accessKeyId}  set createDate / lastUsed of a key
  POST /_keysweep/iam/seed                {"users": [{"name", "path", "tags", "keys": [...]}]}: bulk-create
  POST /_keysweep/iam/report              {"mode": "live"|"snapshot", "refresh": bool}
  POST /_keysweep/faults                  {"IAM.ListUsers": {"code", "message", "status", "count", "match"}}; {} clears
  POST /_keysweep/reset                   moto reset + clear faults, report mode, call counts
  GET  /_keysweep/calls                   {"IAM.ListUsers": 3, ...} since the last reset

Usage: python moto_launcher.py [--port 0]. It prints one line
"READY http://127.0.0.1:PORT" when it serves, and exits on SIGTERM/SIGINT or
when its stdin closes, so a test binary that dies never leaves it behind
(--ignore-stdin turns that off for a manual run in the background).
Go tests use it through internal/testenv.
"""

from __future__ import annotations

import argparse
import datetime as dt
import io
import json
import signal
import sys
import threading
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs, unquote_plus

from moto.core import DEFAULT_ACCOUNT_ID
from moto.iam import responses as iam_responses
from moto.iam.exceptions import ReportNotPresentException
from moto.iam.models import AccessKey, AccessKeyLastUsed, iam_backends
from moto.moto_api._internal.models import moto_api_backend
from moto.moto_server.werkzeug_app import DomainDispatcherApplication, create_backend_app
from werkzeug.serving import make_server

CONTROL_PREFIX = "/_keysweep/"
REPORT_MAX_AGE = dt.timedelta(hours=4)  # IAM reuses a report younger than this

# Signing names (from the SigV4 credential scope) to the service prefixes used
# in fault and call-count keys, e.g. "IAM.ListUsers", "DynamoDB.PutItem".
SERVICE_NAMES = {
    "iam": "IAM",
    "sts": "STS",
    "dynamodb": "DynamoDB",
    "sqs": "SQS",
    "organizations": "Organizations",
    "lambda": "Lambda",
}

Environ = dict[str, Any]
StartResponse = Callable[..., Any]


def utcnow() -> dt.datetime:
    """Naive UTC, as moto keeps every IAM timestamp (moto.core.utils.utcnow)."""
    return dt.datetime.now(dt.timezone.utc).replace(tzinfo=None)


def parse_time(value: Any, name: str) -> dt.datetime:
    """RFC 3339 to moto's naive UTC; a time without a zone is taken as UTC."""
    if not isinstance(value, str):
        raise BadRequest(f"{name}: want an RFC 3339 string, got {value!r}")
    try:
        parsed = dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError as exc:
        raise BadRequest(f"{name}: {exc}") from None
    if parsed.tzinfo is not None:
        parsed = parsed.astimezone(dt.timezone.utc).replace(tzinfo=None)
    return parsed


def iso(t: dt.datetime | None) -> str | None:
    return None if t is None else t.strftime("%Y-%m-%dT%H:%M:%SZ")


class BadRequest(Exception):
    status = 400


class NotFound(Exception):
    status = 404


@dataclass
class Fault:
    code: str
    message: str
    status: int
    remaining: int | None  # None: fail every time
    match: str | None = None  # fail only requests whose URL-decoded body contains this


@dataclass
class Snapshot:
    generated: dt.datetime
    content: str
    stale: bool = False  # set by {"refresh": true}: the next Generate retakes it


@dataclass
class State:
    """Everything the control routes change; guarded by lock (the server is threaded)."""

    lock: threading.Lock = field(default_factory=threading.Lock)
    faults: dict[str, Fault] = field(default_factory=dict)
    calls: dict[str, int] = field(default_factory=dict)
    report_mode: str = "live"
    snapshots: dict[tuple[str, str], Snapshot] = field(default_factory=dict)

    def clear(self) -> None:
        with self.lock:
            self.faults.clear()
            self.calls.clear()
            self.report_mode = "live"
            self.snapshots.clear()


STATE = State()
DYNAMODB_LOCK = threading.Lock()  # see Middleware.__call__


# --- Credential report: IAM-like snapshots and a true GeneratedTime ----------


def _live_content(backend: Any) -> str:
    backend.generate_report()
    return str(backend.get_credential_report())


def generate_credential_report(self: Any) -> iam_responses.ActionResult:
    key = (self.current_account, self.partition)
    now = utcnow()
    with STATE.lock:
        if STATE.report_mode == "live":
            existed = bool(self.backend.report_generated())
            self.backend.generate_report()
            started = not existed
        else:
            snap = STATE.snapshots.get(key)
            started = snap is None or snap.stale or now - snap.generated >= REPORT_MAX_AGE
            if started:
                STATE.snapshots[key] = Snapshot(now, _live_content(self.backend))
    if started:
        return iam_responses.ActionResult(
            {"State": "STARTED", "Description": "No report exists. Starting a new report generation task"}
        )
    return iam_responses.ActionResult({"State": "COMPLETE"})


def get_credential_report(self: Any) -> iam_responses.ActionResult:
    key = (self.current_account, self.partition)
    with STATE.lock:
        if STATE.report_mode == "live":
            content, generated = self.backend.get_credential_report(), utcnow()
        else:
            snap = STATE.snapshots.get(key)
            if snap is None:
                raise ReportNotPresentException("Credential report not present")
            content, generated = snap.content, snap.generated
    return iam_responses.ActionResult(
        {"Content": content, "ReportFormat": "text/csv", "GeneratedTime": iso(generated)}
    )


def patch_moto() -> None:
    iam_responses.IamResponse.generate_credential_report = generate_credential_report  # type: ignore[method-assign]
    iam_responses.IamResponse.get_credential_report = get_credential_report  # type: ignore[method-assign]


# --- Control routes -----------------------------------------------------------


def find_key(account: str, access_key_id: str) -> AccessKey:
    backend = iam_backends[account]["aws"]
    for user in backend.users.values():
        for key in user.access_keys:
            if key.access_key_id == access_key_id:
                return key
    raise NotFound(f"no access key {access_key_id} in account {account}")


def set_key(access_key_id: str, body: dict[str, Any]) -> dict[str, Any]:
    account = str(body.get("account") or DEFAULT_ACCOUNT_ID)
    key = find_key(account, access_key_id)
    if "createDate" in body:
        key.create_date = parse_time(body["createDate"], "createDate")
    if "lastUsed" in body:
        if body["lastUsed"] is None:
            key.last_used = None
        else:
            key.last_used = AccessKeyLastUsed(
                timestamp=parse_time(body["lastUsed"], "lastUsed"),
                service=str(body.get("lastUsedService") or "s3"),
                region=str(body.get("lastUsedRegion") or "us-east-1"),
            )
    return {
        "accessKeyId": key.access_key_id,
        "userName": key.user_name,
        "status": key.status,
        "createDate": iso(key.create_date),
        "lastUsed": iso(key.last_used.timestamp) if key.last_used else None,
    }


def seed(body: dict[str, Any]) -> dict[str, Any]:
    """Create many users and keys straight in moto's backend, for benchmarks.

    Creating 10,000 users and 20,000 keys through the IAM API takes minutes;
    this takes seconds. Body: {"account": optional, "users": [{"name": "u1",
    "path": "/", "tags": {"k": "v"}, "keys": [{"createDate": RFC 3339,
    "lastUsed": RFC 3339 or null, "status": "Active"|"Inactive"}]}]}. Every
    user is checked before any is created, so a bad body creates nothing.
    Answers {"keys": {"u1": ["AKIA...", ...]}} in the order given.
    """
    account = str(body.get("account") or DEFAULT_ACCOUNT_ID)
    backend = iam_backends[account]["aws"]
    users = body.get("users")
    if not isinstance(users, list):
        raise BadRequest("users: want a list")
    plan: list[tuple[str, str, list[dict[str, str]], list[tuple[str, dt.datetime, dt.datetime | None]]]] = []
    seen: set[str] = set()
    for i, spec in enumerate(users):
        if not isinstance(spec, dict) or not isinstance(spec.get("name"), str) or not spec["name"]:
            raise BadRequest(f"users[{i}]: want an object with a name")
        name = spec["name"]
        if name in seen or name in backend.users:
            raise BadRequest(f"users[{i}]: user {name} already exists")
        seen.add(name)
        path = spec.get("path") or "/"
        tags = spec.get("tags") or {}
        if not isinstance(path, str) or not isinstance(tags, dict):
            raise BadRequest(f"users[{i}]: path must be a string and tags an object")
        keys = spec.get("keys") or []
        if not isinstance(keys, list) or len(keys) > 2:
            raise BadRequest(f"users[{i}]: keys: want a list of at most 2 (IAM's limit)")
        parsed = []
        for j, k in enumerate(keys):
            where = f"users[{i}].keys[{j}]"
            if not isinstance(k, dict):
                raise BadRequest(f"{where}: want an object")
            status = k.get("status", "Active")
            if status not in ("Active", "Inactive"):
                raise BadRequest(f"{where}: status must be Active or Inactive")
            created = parse_time(k["createDate"], where + ".createDate") if "createDate" in k else utcnow()
            last = None if k.get("lastUsed") is None else parse_time(k["lastUsed"], where + ".lastUsed")
            parsed.append((status, created, last))
        plan.append((name, path, [{"Key": str(a), "Value": str(b)} for a, b in tags.items()], parsed))

    created_ids: dict[str, list[str]] = {}
    for name, path, tag_list, parsed in plan:
        backend.create_user(region_name="us-east-1", user_name=name, path=path, tags=tag_list)
        ids = []
        for status, created, last in parsed:
            key = backend.create_access_key(name, status=status)
            key.create_date = created
            if last is not None:
                key.last_used = AccessKeyLastUsed(timestamp=last, service="s3", region="us-east-1")
            ids.append(key.access_key_id)
        created_ids[name] = ids
    return {"keys": created_ids}


def set_report_mode(body: dict[str, Any]) -> dict[str, Any]:
    mode = body.get("mode", "live")
    if mode not in ("live", "snapshot"):
        raise BadRequest(f'mode: want "live" or "snapshot", got {mode!r}')
    with STATE.lock:
        if mode != STATE.report_mode:
            STATE.snapshots.clear()
        STATE.report_mode = mode
        if body.get("refresh"):
            for snap in STATE.snapshots.values():
                snap.stale = True
    return {"mode": mode}


def set_faults(body: dict[str, Any]) -> dict[str, Any]:
    faults: dict[str, Fault] = {}
    for op, spec in body.items():
        if "." not in op or not isinstance(spec, dict):
            raise BadRequest(f'fault {op!r}: want "Service.Action": {{"code": ..}}')
        code = spec.get("code")
        if not isinstance(code, str) or not code:
            raise BadRequest(f"fault {op}: code is required")
        count = spec.get("count")
        if count is not None and (not isinstance(count, int) or count < 1):
            raise BadRequest(f"fault {op}: count must be a positive integer")
        status = spec.get("status", 400)
        if not isinstance(status, int) or not 400 <= status <= 599:
            raise BadRequest(f"fault {op}: status must be 400..599")
        match = spec.get("match")
        if match is not None and (not isinstance(match, str) or not match):
            raise BadRequest(f"fault {op}: match must be a non-empty string")
        faults[op] = Fault(code, str(spec.get("message") or code), status, count, match)
    with STATE.lock:
        STATE.faults = faults
    return {"faults": sorted(faults)}


def reset() -> dict[str, Any]:
    moto_api_backend.reset()  # what POST /moto-api/reset does
    STATE.clear()
    return {"status": "ok"}


def calls() -> dict[str, int]:
    with STATE.lock:
        return dict(STATE.calls)


# --- WSGI middleware ----------------------------------------------------------


def operation(environ: Environ, body: bytes) -> str | None:
    """'IAM.ListUsers' for a signed AWS request, None when it cannot tell."""
    auth = environ.get("HTTP_AUTHORIZATION", "")
    scope = auth.partition("Credential=")[2].split(",")[0].split("/")
    if len(scope) < 4:
        return None
    service = SERVICE_NAMES.get(scope[3], scope[3])
    target = environ.get("HTTP_X_AMZ_TARGET")
    if target:  # JSON protocol: "DynamoDB_20120810.PutItem"
        return f"{service}.{target.rpartition('.')[2]}"
    if "x-www-form-urlencoded" in environ.get("CONTENT_TYPE", ""):  # query protocol
        action = parse_qs(body.decode("utf-8", "replace")).get("Action")
        if action:
            return f"{service}.{action[0]}"
    return f"{service}.{environ.get('REQUEST_METHOD', '')}"


def fault_response(op: str, fault: Fault, environ: Environ) -> tuple[str, list[tuple[str, str]], bytes]:
    request_id = str(uuid.uuid4())
    status = f"{fault.status} {fault.code}"
    if environ.get("HTTP_X_AMZ_TARGET"):  # JSON protocol
        prefix = "com.amazonaws.dynamodb.v20120810#" if op.startswith("DynamoDB.") else ""
        payload = json.dumps({"__type": prefix + fault.code, "message": fault.message}).encode()
        headers = [("Content-Type", "application/x-amz-json-1.0"), ("x-amzn-RequestId", request_id)]
        return status, headers, payload
    kind = "Receiver" if fault.status >= 500 else "Sender"
    payload = (
        "<ErrorResponse><Error>"
        f"<Type>{kind}</Type><Code>{_xml(fault.code)}</Code><Message>{_xml(fault.message)}</Message>"
        f"</Error><RequestId>{request_id}</RequestId></ErrorResponse>"
    ).encode()
    return status, [("Content-Type", "text/xml"), ("x-amzn-RequestId", request_id)], payload


def _xml(s: str) -> str:
    return s.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


class Middleware:
    def __init__(self, moto_app: Callable[[Environ, StartResponse], Iterable[bytes]]):
        self.moto_app = moto_app

    def __call__(self, environ: Environ, start_response: StartResponse) -> Iterable[bytes]:
        path = environ.get("PATH_INFO", "")
        if path.startswith(CONTROL_PREFIX):
            return self.control(path[len(CONTROL_PREFIX) :], environ, start_response)
        if path.startswith("/moto-api/"):
            return self.moto_app(environ, start_response)

        # Buffer the body to read the action, then hand moto an identical copy.
        length = int(environ.get("CONTENT_LENGTH") or 0)
        body = environ["wsgi.input"].read(length) if length else b""
        environ["wsgi.input"] = io.BytesIO(body)
        op = operation(environ, body)
        if op is None:
            return self.moto_app(environ, start_response)

        with STATE.lock:
            STATE.calls[op] = STATE.calls.get(op, 0) + 1
            fault = STATE.faults.get(op)
            if fault is not None and fault.match is not None and fault.match not in unquote_plus(body.decode("utf-8", "replace")):
                fault = None  # e.g. STS.AssumeRole of another account's role
            if fault is not None and fault.remaining is not None:
                fault.remaining -= 1
                if fault.remaining == 0:
                    del STATE.faults[op]
        if fault is not None:
            status, headers, payload = fault_response(op, fault, environ)
            start_response(status, headers + [("Content-Length", str(len(payload)))])
            return [payload]
        if op.startswith("DynamoDB."):
            # DynamoDB applies each request atomically; moto takes no lock (a
            # failed transaction even restores the table as it was when it
            # began, undoing concurrent writes), so serve them one at a time.
            with DYNAMODB_LOCK:
                return list(self.moto_app(environ, start_response))
        return self.moto_app(environ, start_response)

    def control(self, route: str, environ: Environ, start_response: StartResponse) -> Iterable[bytes]:
        method = environ.get("REQUEST_METHOD", "GET")
        try:
            length = int(environ.get("CONTENT_LENGTH") or 0)
            raw = environ["wsgi.input"].read(length) if length else b""
            try:
                body = json.loads(raw) if raw.strip() else {}
            except ValueError as exc:
                raise BadRequest(f"body is not JSON: {exc}") from None
            if not isinstance(body, dict):
                raise BadRequest("body must be a JSON object")

            result: Any
            if method == "POST" and route.startswith("iam/keys/") and len(route) > len("iam/keys/"):
                result = set_key(route[len("iam/keys/") :], body)
            elif method == "POST" and route == "iam/seed":
                result = seed(body)
            elif method == "POST" and route == "iam/report":
                result = set_report_mode(body)
            elif method == "POST" and route == "faults":
                result = set_faults(body)
            elif method == "POST" and route == "reset":
                result = reset()
            elif method == "GET" and route == "calls":
                result = calls()
            else:
                raise NotFound(f"no control route {method} {CONTROL_PREFIX}{route}")
            status = "200 OK"
        except (BadRequest, NotFound) as exc:
            status, result = f"{exc.status} {type(exc).__name__}", {"message": str(exc)}
        payload = json.dumps(result).encode()
        start_response(status, [("Content-Type", "application/json"), ("Content-Length", str(len(payload)))])
        return [payload]


# --- Main ---------------------------------------------------------------------


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0, help="0 picks a free port")
    parser.add_argument(
        "--ignore-stdin", action="store_true", help="keep running at stdin EOF (manual runs in the background)"
    )
    args = parser.parse_args()

    patch_moto()
    app = Middleware(DomainDispatcherApplication(create_backend_app))
    server = make_server(args.host, args.port, app, threaded=True)
    stopping = threading.Event()

    def stop(*_: Any) -> None:
        if not stopping.is_set():
            stopping.set()
            # shutdown() waits for serve_forever to return: never call it on its thread.
            threading.Thread(target=server.shutdown, daemon=True).start()

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)

    def watch_stdin() -> None:
        # The parent holds the other end; EOF means it closed it or died.
        while sys.stdin.buffer.read(4096):
            pass
        stop()

    if not args.ignore_stdin and sys.stdin is not None:
        threading.Thread(target=watch_stdin, daemon=True).start()

    print(f"READY http://{args.host}:{server.server_port}", flush=True)
    server.serve_forever()
    server.server_close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
