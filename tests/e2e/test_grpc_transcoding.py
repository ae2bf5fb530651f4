"""gRPC transcoding through the real front door to the real demo gRPC server, both on free ports (acceptance 1-4)."""

from __future__ import annotations

import http.client
import json
import os
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest

from localdev.grpc.build import build
from tests.e2e.conftest import wait_listening

pytestmark = pytest.mark.e2e

ROOT = Path(__file__).resolve().parents[2]
ENV = {
    **os.environ,
    "PYTHONPATH": os.pathsep.join([str(ROOT / "shared"), str(ROOT)]),
    "PYTHONUNBUFFERED": "1",
    "PORTICO_ALLOW_LOOPBACK_UPSTREAMS": "true",
}

ROUTE = """apiVersion: portico/v1
kind: Route
metadata: {{name: {name}}}
spec:
  match: {{{match}}}
  auth: {{none: {{}}}}
  upstream:
    grpc:
      descriptorSet: {descriptors}
      service: portico.demo.v1.Library
      method: {method}
      target: {target}
      tls: {{enabled: false}}
      timeout: {timeout}
{extra}"""

ROUTES = [
    # name, match, method, timeout, extra lines
    (
        "books-ndjson",
        "pathPrefix: /v1/ndjson/",
        "ListBooks",
        "5s",
        "      stream: ndjson\n      http: {get: '/v1/ndjson/{shelf}'}",
    ),
    ("get-book", "path: '/v1/shelves/{shelf}/books/{id}'", "GetBook", "5s", ""),
    ("books", "path: '/v1/shelves/{shelf}/books'", "ListBooks", "5s", "      stream: array"),
    ("create", "pathPrefix: /v1/create/", "CreateBook", "5s", "      http: {post: '/v1/create/{shelf}', body: book}"),
    ("errors", "pathPrefix: /v1/errors/", "Fail", "400ms", ""),
    ("stats", "path: /v1/stats", "Stats", "5s", ""),
    ("down", "pathPrefix: /v1/down/", "Fail", "2s", "      http: {get: '/v1/down/{code}'}"),
]


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _start(argv: list[str], log: Path, procs: list[subprocess.Popen[bytes]]) -> str:
    with log.open("wb") as out:
        proc = subprocess.Popen(argv, cwd=ROOT, env=ENV, stdout=out, stderr=subprocess.STDOUT)
    procs.append(proc)
    return wait_listening(proc, log, " ".join(argv))


@pytest.fixture(scope="module")
def door(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The demo gRPC server and a front door serving the routes above; both stopped afterwards."""
    tmp = tmp_path_factory.mktemp("grpc")
    descriptors = build()
    procs: list[subprocess.Popen[bytes]] = []
    try:
        target = _start([sys.executable, "-m", "localdev.grpc.server", "--port", "0"], tmp / "grpc.log", procs)
        docs = []
        for name, match, method, timeout, extra in ROUTES:
            where = f"127.0.0.1:{_closed_port()}" if name == "down" else target
            docs.append(
                ROUTE.format(
                    name=name,
                    match=match,
                    method=method,
                    target=where,
                    timeout=timeout,
                    descriptors=descriptors,
                    extra=extra,
                )
            )
        config = tmp / "routes.yaml"
        config.write_text("\n---\n".join(docs))
        argv = [sys.executable, "-m", "localdev.frontdoor", "--port", "0", "--config", str(config)]
        yield _start(argv, tmp / "frontdoor.log", procs)
    finally:
        for proc in procs:
            proc.terminate()
        for proc in procs:
            try:
                proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(timeout=5)


def call(base: str, method: str, path: str, body: bytes | None = None) -> tuple[int, dict[str, str], bytes]:
    parts = urlsplit(base)
    conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=10)
    try:
        conn.request(method, path, body=body, headers={"content-type": "application/json"} if body else {})
        resp = conn.getresponse()
        return resp.status, {k.lower(): v for k, v in resp.getheaders()}, resp.read()
    finally:
        conn.close()


def calls(base: str) -> dict[str, int]:
    status, _, body = call(base, "GET", "/v1/stats")
    assert status == 200
    return {k: int(v) for k, v in json.loads(body).get("calls", {}).items()}


# ── acceptance 1: GET with path + query, POST with a JSON body, a server-streaming call ──


def test_get_with_path_and_query_parameters(door: str) -> None:
    status, headers, body = call(door, "GET", "/v1/shelves/fiction/books/2?view=BASIC")
    assert status == 200 and headers["content-type"] == "application/json"
    assert json.loads(body) == {"name": "shelves/fiction/books/2", "id": "2", "title": "Solaris"}
    status, _, body = call(door, "GET", "/v1/shelves/fiction/books/2?tags=classic&tags=ocean")
    assert status == 200 and json.loads(body)["author"] == {"displayName": "Stanisław Lem"}
    status, _, body = call(door, "GET", "/v1/shelves/fiction/books/1?tags=ocean")  # repeated query reached it
    assert status == 404 and json.loads(body)["grpcStatus"] == "NOT_FOUND"


def test_post_with_a_json_body(door: str) -> None:
    book = {"title": "Neuromancer", "pageCount": 271, "author": {"displayName": "William Gibson"}, "genre": "FICTION"}
    status, _, body = call(door, "POST", "/v1/create/scifi?requestId=r-1", json.dumps(book).encode())
    created: dict[str, Any] = json.loads(body)
    assert status == 200
    assert created["name"] == f"shelves/scifi/books/{created['id']}" and created["pageCount"] == 271
    assert created["author"] == {"displayName": "William Gibson"} and created["genre"] == "FICTION"


def test_server_streaming_as_json_array_and_ndjson(door: str) -> None:
    status, headers, body = call(door, "GET", "/v1/shelves/fiction/books?limit=2")
    assert status == 200 and headers["content-type"] == "application/json"
    assert [b["title"] for b in json.loads(body)] == ["Dune", "Solaris"]
    status, headers, body = call(door, "GET", "/v1/ndjson/fiction")
    lines = body.decode().splitlines()
    assert status == 200 and headers["content-type"] == "application/x-ndjson"
    assert [json.loads(line)["title"] for line in lines] == ["Dune", "Solaris", "Piranesi"]
    status, _, body = call(door, "GET", "/v1/shelves/empty/books")
    assert status == 200 and json.loads(body) == []


# ── acceptance 2: each gRPC status comes back as the mapped HTTP status with problem+json ──

MAPPED = {
    "CANCELLED": 499,
    "UNKNOWN": 500,
    "INVALID_ARGUMENT": 400,
    "DEADLINE_EXCEEDED": 504,
    "NOT_FOUND": 404,
    "ALREADY_EXISTS": 409,
    "PERMISSION_DENIED": 403,
    "RESOURCE_EXHAUSTED": 429,
    "FAILED_PRECONDITION": 400,
    "ABORTED": 409,
    "OUT_OF_RANGE": 400,
    "UNIMPLEMENTED": 501,
    "INTERNAL": 500,
    "UNAVAILABLE": 503,
    "DATA_LOSS": 500,
    "UNAUTHENTICATED": 401,
}


SERVER_FAULTS = {"CANCELLED", "UNKNOWN", "DEADLINE_EXCEEDED", "INTERNAL", "UNAVAILABLE", "DATA_LOSS"}


@pytest.mark.parametrize(("code", "http_status"), sorted(MAPPED.items()))
def test_status_maps_to_http_with_problem_json(door: str, code: str, http_status: int) -> None:
    status, headers, body = call(door, "GET", f"/v1/errors/{code}?message=custom+words")
    found = json.loads(body)
    assert status == http_status and headers["content-type"] == "application/problem+json"
    assert found["status"] == http_status and found["grpcStatus"] == code
    assert found["requestId"] == headers["x-request-id"]
    if code not in SERVER_FAULTS:
        assert found["grpcMessage"] == "custom words"  # caller-facing codes carry the service's message
    else:
        assert "custom words" not in body.decode()  # server-fault codes never pass internals through


def test_a_real_deadline_and_a_real_unreachable_service(door: str) -> None:
    status, _, body = call(door, "GET", "/v1/errors/NOT_FOUND?delayMs=3000")  # the route's timeout is 400ms
    assert status == 504 and json.loads(body)["grpcStatus"] == "DEADLINE_EXCEEDED"
    status, _, body = call(door, "GET", "/v1/down/NOT_FOUND")  # nothing listens on that target
    found = json.loads(body)
    assert status == 503 and found["grpcStatus"] == "UNAVAILABLE"
    assert "127.0.0.1" not in found["detail"] + found["grpcMessage"]  # connection diagnostics stay internal


# ── acceptance 3: input that does not fit gives 400 naming the field, and the service sees no call ──


@pytest.mark.parametrize(
    ("body", "named"),
    [
        (b'{"title": "X", "pageCount": "many"}', "pageCount"),
        (b'{"title": "X", "author": {"bornYear": true}}', "bornYear"),
        (b'{"title": "X", "colour": "red"}', "colour"),
        (b'{"title": "X", "pageCount": 1', "not valid JSON"),
    ],
)
def test_bad_json_is_400_naming_the_field_before_any_call(door: str, body: bytes, named: str) -> None:
    before = calls(door).get("CreateBook", 0)
    status, headers, answer = call(door, "POST", "/v1/create/scifi", body)
    assert status == 400 and headers["content-type"] == "application/problem+json"
    assert named in json.loads(answer)["detail"]
    assert calls(door).get("CreateBook", 0) == before


def test_bad_path_or_query_value_is_400_before_any_call(door: str) -> None:
    before = calls(door).get("GetBook", 0)
    status, _, body = call(door, "GET", "/v1/shelves/fiction/books/one")
    assert status == 400 and "'id'" in json.loads(body)["detail"]
    status, _, body = call(door, "GET", "/v1/shelves/fiction/books/1?view=SIDEWAYS")
    assert status == 400 and "'view'" in json.loads(body)["detail"]
    assert calls(door).get("GetBook", 0) == before


# ── acceptance 4: `portico validate` rejects a route naming a method missing from the descriptor set ──


def test_portico_validate_rejects_a_missing_method(tmp_path: Path) -> None:
    descriptors = build()
    good = ROUTE.format(
        name="r",
        match="pathPrefix: /v1/",
        method="GetBook",
        target="127.0.0.1:50051",
        timeout="1s",
        descriptors=descriptors,
        extra="",
    )
    bad = tmp_path / "bad.yaml"
    bad.write_text(good.replace("method: GetBook", "method: GetBooks"))
    (tmp_path / "good.yaml").write_text(good)
    portico = [sys.executable, "-c", "from portico.cli.main import run; run()", "validate", "-f"]
    result = subprocess.run([*portico, str(bad)], cwd=ROOT, env=ENV, capture_output=True, text=True, timeout=60)
    output = " ".join((result.stdout + result.stderr).split())
    assert result.returncode == 1
    assert "spec.upstream.grpc: method 'GetBooks' is not in service portico.demo.v1.Library" in output
    assert "did you mean 'GetBook'?" in output
    ok = subprocess.run([*portico, str(tmp_path / "good.yaml")], cwd=ROOT, env=ENV, capture_output=True, timeout=60)
    assert ok.returncode == 0
