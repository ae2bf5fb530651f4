"""Records the AWS API calls processes make, on the wire, between them and the local AWS endpoint.

A `CallRecorder` is a small HTTP proxy on a free loopback port: point a process's AWS_ENDPOINT_URL at it and
every request is forwarded to the real local endpoint and recorded as (principal, service, operation, resource,
request fields). It reads only what any SigV4 client puts on the wire: the access key and service from the
Authorization header's credential scope, the operation from the protocol (JSON X-Amz-Target, smithy RPC v2
CBOR path, query Action, or a REST path matched against botocore's service model), and the resource names
from the request body. So it records boto3 and any lighter SigV4 client alike, and the principal is the access
key id each process was started with (one per role under test).
"""

from __future__ import annotations

import http.client
import io
import json
import re
import threading
import urllib.parse
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

_CREDENTIAL = re.compile(r"Credential=([^/,\s]+)/\d{8}/([^/]+)/([^/]+)/aws4_request")
_RPC_V2 = re.compile(r"^/service/[^/]+/operation/([A-Za-z0-9]+)$")
_HOP_BY_HOP = {"connection", "keep-alive", "transfer-encoding", "te", "trailer", "upgrade", "proxy-connection"}
# Request fields that name the resource a call acts on (all the services the product uses).
RESOURCE_FIELDS = ("TableName", "CertificateAuthorityArn", "FunctionName", "CertificateArn", "SecretId")
# DynamoDB's multi-item calls, which IAM authorises item by item: (the IAM action's operation, table) per item.
# TransactWriteItems' Put/Update/Delete need PutItem/UpdateItem/DeleteItem and ConditionCheck needs
# ConditionCheckItem; TransactGetItems' Get needs GetItem; the batch calls need BatchGetItem/BatchWriteItem on each
# table (AWS: "Using IAM with DynamoDB transactions").
_TRANSACT = {"Put": "PutItem", "Update": "UpdateItem", "Delete": "DeleteItem", "ConditionCheck": "ConditionCheckItem"}


@dataclass(frozen=True)
class Call:
    """One recorded request: who (access key id), where (region), what (service, operation) and its fields."""

    principal: str
    region: str
    service: str
    operation: str
    fields: tuple[tuple[str, str], ...] = ()
    items: tuple[tuple[str, str], ...] = ()  # (operation, table) of each item of a multi-item DynamoDB call

    def field(self, name: str) -> str | None:
        return dict(self.fields).get(name)


def dynamodb_items(operation: str, fields: dict[str, Any]) -> tuple[tuple[str, str], ...]:
    """The per-item (operation, table) pairs IAM judges for a TransactWrite/TransactGet/BatchGet/BatchWrite call."""
    out: list[tuple[str, str]] = []
    if operation in ("TransactWriteItems", "TransactGetItems"):
        for item in fields.get("TransactItems") or []:
            for kind, body in (item or {}).items():
                op = "GetItem" if kind == "Get" else _TRANSACT.get(kind)
                if op and isinstance(body, dict) and isinstance(body.get("TableName"), str):
                    out.append((op, body["TableName"]))
    elif operation in ("BatchGetItem", "BatchWriteItem"):
        out += [(operation, table) for table in (fields.get("RequestItems") or {})]
    return tuple(dict.fromkeys(out))


@dataclass
class _Log:
    calls: list[Call] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)


def _rest_operations(service: str) -> list[tuple[str, re.Pattern[str], str, int]]:
    """(method, path pattern, operation, literal length) for a REST service, from botocore's own model."""
    import botocore.session

    model = botocore.session.get_session().get_service_model(service)
    table = []
    for name in model.operation_names:
        http = model.operation_model(name).http
        uri = str(http.get("requestUri", "/")).split("?", 1)[0]
        pattern = re.sub(r"\\\{[^}]+\\\+\\\}", ".+", re.escape(uri))
        pattern = re.sub(r"\\\{[^}]+\\\}", "[^/]+", pattern)
        table.append(
            (str(http.get("method", "POST")), re.compile(f"^{pattern}/?$"), name, len(re.sub(r"\{[^}]+\}", "", uri)))
        )
    return table


_REST_CACHE: dict[str, list[tuple[str, re.Pattern[str], str, int]]] = {}


def rest_operation(service: str, method: str, path: str) -> str | None:
    """The operation a REST request is (the most specific matching URI template), or None."""
    if service not in _REST_CACHE:
        _REST_CACHE[service] = _rest_operations(service)
    matches = [
        (length, name) for m, pattern, name, length in _REST_CACHE[service] if m == method and pattern.match(path)
    ]
    return max(matches)[1] if matches else None


def _rest_resource(service: str, path: str) -> dict[str, str]:
    if service == "lambda":
        found = re.match(r"^/[0-9-]+/functions/([^/]+)", path)
        if found:
            return {"FunctionName": urllib.parse.unquote(found.group(1))}
    return {}


def _decode_body(content_type: str, body: bytes) -> dict[str, Any]:
    if not body:
        return {}
    if "cbor" in content_type:
        from botocore.parsers import BaseCBORParser

        decoded = BaseCBORParser().parse_data_item(io.BytesIO(body))
        return decoded if isinstance(decoded, dict) else {}
    if "json" in content_type:
        loaded = json.loads(body)
        return loaded if isinstance(loaded, dict) else {}
    if "x-www-form-urlencoded" in content_type:
        return {k: v[0] for k, v in urllib.parse.parse_qs(body.decode()).items()}
    return {}


def describe(method: str, path: str, headers: dict[str, str], body: bytes) -> Call | None:
    """The Call a signed request makes; None for an unsigned request (health checks, presigned fetches)."""
    scope = _CREDENTIAL.search(headers.get("authorization", ""))
    if scope is None:
        return None
    principal, region, service = scope.groups()
    fields = _decode_body(headers.get("content-type", ""), body)
    target = headers.get("x-amz-target")
    rpc = _RPC_V2.match(path.split("?", 1)[0])
    if target:
        operation = target.rsplit(".", 1)[-1]
    elif rpc:
        operation = rpc.group(1)
    elif "Action" in fields:
        operation = str(fields["Action"])
    else:
        bare = urllib.parse.urlsplit(path).path
        operation = rest_operation(service, method, bare) or f"{method} {bare}"
        fields = {**fields, **_rest_resource(service, bare)}
    named = tuple((k, str(fields[k])) for k in RESOURCE_FIELDS if isinstance(fields.get(k), str))
    extra = tuple((k, str(fields[k])) for k in ("TemplateArn",) if isinstance(fields.get(k), str))
    items = dynamodb_items(operation, fields) if service == "dynamodb" else ()
    return Call(principal, region, service, operation, named + extra, items)


class _Handler(BaseHTTPRequestHandler):
    server: _RecordingServer
    protocol_version = "HTTP/1.1"

    def _forward(self) -> None:
        length = int(self.headers.get("content-length") or 0)
        body = self.rfile.read(length) if length else b""
        headers = {k.lower(): v for k, v in self.headers.items()}
        call = describe(self.command, self.path, headers, body)
        if call is not None:
            with self.server.log.lock:
                self.server.log.calls.append(call)
        upstream = http.client.HTTPConnection(self.server.upstream_host, self.server.upstream_port, timeout=120)
        try:
            upstream.request(
                self.command, self.path, body, {k: v for k, v in self.headers.items() if k.lower() not in _HOP_BY_HOP}
            )
            response = upstream.getresponse()
            payload = response.read()
            self.send_response_only(response.status, response.reason)
            for key, value in response.getheaders():
                if key.lower() not in _HOP_BY_HOP and key.lower() != "content-length":
                    self.send_header(key, value)
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)
        finally:
            upstream.close()

    do_GET = do_POST = do_PUT = do_DELETE = do_HEAD = do_PATCH = _forward

    def log_message(self, format: str, *args: Any) -> None:
        return


class _RecordingServer(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, upstream: str) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        parts = urllib.parse.urlsplit(upstream)
        self.upstream_host = parts.hostname or "127.0.0.1"
        self.upstream_port = parts.port or 80
        self.log = _Log()


class CallRecorder:
    """`with CallRecorder(endpoint) as recorder:` a recording proxy at `recorder.url` until the block ends."""

    def __init__(self, upstream: str) -> None:
        self._server = _RecordingServer(upstream)
        self._thread = threading.Thread(target=self._server.serve_forever, name="call-recorder", daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    def calls(self, principal: str | None = None) -> list[Call]:
        with self._server.log.lock:
            return [c for c in self._server.log.calls if principal is None or c.principal == principal]

    def __enter__(self) -> CallRecorder:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)

    def __iter__(self) -> Iterator[Call]:
        return iter(self.calls())
