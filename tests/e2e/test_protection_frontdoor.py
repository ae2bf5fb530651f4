"""Edge protection acceptance 1-4 through the real front door and real local peers, each a process on a free port:
an echo upstream that counts, a Lambda Invoke endpoint hosting the demo authorizer (invoked through boto3, as the
lambda upstream is), an ext_authz HTTP service and an RFC 7662 introspection endpoint."""

from __future__ import annotations

import http.client
import json
import socket
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest

from tests.unit.protect.kit import ORDER_SCHEMA as BODY_SCHEMA

pytestmark = pytest.mark.e2e

NOW = int(time.time())
CONFIG = """
apiVersion: portico/v1
kind: Route
metadata: {{name: orders}}
spec:
  match: {{path: "/orders/{{orderId}}", methods: [POST]}}
  auth: {{none: {{}}}}
  upstream: {{http: {{url: "{echo}/orders/{{orderId}}"}}}}
  validate:
    path: {{schema: {{type: object, properties: {{orderId: {{type: integer, minimum: 1}}}}}}}}
    query: {{schema: {{type: object, properties: {{dryRun: {{type: boolean}}}}, additionalProperties: false}}}}
    body: {{schema: {body_schema}}}
---
apiVersion: portico/v1
kind: Route
metadata: {{name: office}}
spec:
  match: {{pathPrefix: /office}}
  auth: {{none: {{}}}}
  ipRules: {{allow: [127.0.0.0/8, "::1/128"]}}
  upstream: {{http: {{url: "{echo}"}}}}
---
apiVersion: portico/v1
kind: Route
metadata: {{name: elsewhere}}
spec:
  match: {{pathPrefix: /elsewhere}}
  auth: {{none: {{}}}}
  ipRules: {{allow: [203.0.113.0/24, "2001:db8::/32"]}}
  upstream: {{http: {{url: "{echo}"}}}}
---
apiVersion: portico/v1
kind: Route
metadata: {{name: by-lambda}}
spec:
  match: {{pathPrefix: /by-lambda}}
  auth: {{external: {{lambda: {{functionName: authz}}, cacheTtl: 60s, timeout: 5s}}}}
  upstream: {{http: {{url: "{echo}"}}}}
---
apiVersion: portico/v1
kind: Route
metadata: {{name: by-slow-lambda}}
spec:
  match: {{pathPrefix: /by-slow-lambda}}
  auth: {{external: {{lambda: {{functionName: authz}}, timeout: 1s}}}}
  upstream: {{http: {{url: "{echo}"}}}}
---
apiVersion: portico/v1
kind: Route
metadata: {{name: by-http}}
spec:
  match: {{pathPrefix: /by-http}}
  auth: {{external: {{http: {{url: "{authz}/check", upstreamHeaders: [x-user-id]}}, cacheTtl: 60s, timeout: 1s}}}}
  upstream: {{http: {{url: "{echo}"}}}}
---
apiVersion: portico/v1
kind: Route
metadata: {{name: by-nobody}}
spec:
  match: {{pathPrefix: /by-nobody}}
  auth: {{external: {{http: {{url: "http://127.0.0.1:{closed}/check"}}, timeout: 1s}}}}
  upstream: {{http: {{url: "{echo}"}}}}
---
apiVersion: portico/v1
kind: Route
metadata: {{name: opaque}}
spec:
  match: {{pathPrefix: /opaque}}
  auth:
    introspection:
      endpoint: "{idp}/introspect"
      credentials: {{clientIdEnv: IDP_CLIENT_ID, clientSecretEnv: IDP_CLIENT_SECRET}}
      issuer: https://idp.test/
      audiences: [api://orders]
      scopes: [orders:read]
  upstream: {{http: {{url: "{echo}"}}}}
"""
TOKENS = {
    "good": {
        "active": True,
        "exp": NOW + 3600,
        "iss": "https://idp.test/",
        "aud": "api://orders",
        "scope": "orders:read",
        "sub": "alice",
    },
    "narrow": {"active": True, "exp": NOW + 3600, "iss": "https://idp.test/", "aud": "api://orders", "scope": "x"},
    "inactive": {"active": False},
    "expired": {
        "active": True,
        "exp": NOW - 10,
        "iss": "https://idp.test/",
        "aud": "api://orders",
        "scope": "orders:read",
    },
    "other-aud": {
        "active": True,
        "exp": NOW + 3600,
        "iss": "https://idp.test/",
        "aud": "api://else",
        "scope": "orders:read",
    },
}


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextmanager
def _conn(base: str) -> Iterator[http.client.HTTPConnection]:
    parts = urlsplit(base)
    conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=15)
    try:
        yield conn
    finally:
        conn.close()


def call(
    base: str, method: str, path: str, body: bytes | None = None, headers: dict[str, str] | None = None
) -> tuple[int, dict[str, str], bytes]:
    with _conn(base) as conn:
        conn.request(method, path, body=body, headers=headers or {})
        resp = conn.getresponse()
        return resp.status, {k.lower(): v for k, v in resp.getheaders()}, resp.read()


def counts(base: str, path: str = "/__stats") -> dict[str, int]:
    return json.loads(call(base, "GET", path)[2])  # type: ignore[no-any-return]


@pytest.fixture
def stack(spawn: Callable[..., str], tmp_path: Path) -> dict[str, str]:
    echo = spawn("localdev.demo.echo", "--name", "echo")
    lambdas = spawn("localdev.peers.lambdahost", "--function", "authz=localdev.peers.authz:handler")
    authz = spawn("localdev.peers.authz")
    tokens = [f"--token={name}={json.dumps(answer)}" for name, answer in TOKENS.items()]
    idp = spawn("localdev.peers.introspection", "--client", "edge:s3cret:x", *tokens)
    config = tmp_path / "edge.yaml"
    config.write_text(
        CONFIG.format(echo=echo, authz=authz, idp=idp, closed=_closed_port(), body_schema=json.dumps(BODY_SCHEMA))
    )
    env = {
        "PORTICO_ALLOW_LOOPBACK_UPSTREAMS": "true",
        "AWS_ENDPOINT_URL": lambdas,  # the Lambda authorizer is invoked through boto3, here
        "AWS_ACCESS_KEY_ID": "test",
        "AWS_SECRET_ACCESS_KEY": "test",
        "AWS_DEFAULT_REGION": "us-east-1",
        "IDP_CLIENT_ID": "edge",
        "IDP_CLIENT_SECRET": "s3cret:x",
        "PORTICO_ACCESS_LOG": "false",
        "PORTICO_METRICS": "false",
    }
    door = spawn("localdev.frontdoor", "--config", str(config), env=env)
    return {"echo": echo, "lambdas": lambdas, "authz": authz, "idp": idp, "door": door}


GOOD = {"name": "tea", "quantity": 2, "colour": "red"}
INVALID = [
    ("/orders/7", {**GOOD, "quantity": "two"}, "application/json", ("body", "/quantity")),
    ("/orders/7", {"name": "tea"}, "application/json", ("body", "/quantity")),
    ("/orders/7", {**GOOD, "admin": True}, "application/json", ("body", "/admin")),
    ("/orders/7", {**GOOD, "colour": "blue"}, "application/json", ("body", "/colour")),
    ("/orders/7", {**GOOD, "name": "x" * 5000}, "application/json", ("body", "/name")),
    ("/orders/7", b'{"name": "tea", ', "application/json", ("body", "")),
    ("/orders/7", GOOD, "text/plain", ("header", "/content-type")),
    ("/orders/abc", GOOD, "application/json", ("path", "/orderId")),
    ("/orders/7?dryRun=maybe", GOOD, "application/json", ("query", "/dryRun")),
    (
        "/orders/7",
        b'{"name":"tea","quantity":1,"extra":' + b'{"a":' * 100 + b"1" + b"}" * 101,
        "application/json",
        ("body", ""),
    ),
]


def test_validation_refuses_ten_invalid_requests_and_passes_valid_ones(stack: dict[str, str]) -> None:
    for path, body, content_type, (where, pointer) in INVALID:
        raw = body if isinstance(body, bytes) else json.dumps(body).encode()
        status, headers, answer = call(stack["door"], "POST", path, raw, {"content-type": content_type})
        assert status == 400, (path, answer)
        assert headers["content-type"] == "application/problem+json"
        errors = json.loads(answer)["errors"]
        assert {"in": where, "pointer": pointer} in [{"in": e["in"], "pointer": e["pointer"]} for e in errors], errors
    assert counts(stack["echo"]) == {}  # the upstream never saw any of them
    status, _, answer = call(
        stack["door"], "POST", "/orders/7?dryRun=true", json.dumps(GOOD).encode(), {"content-type": "application/json"}
    )
    assert status == 200 and json.loads(answer)["path"] == "/orders/7"
    assert counts(stack["echo"]) == {"/orders/7": 1}


def test_ip_rules_judge_the_peer_never_x_forwarded_for(stack: dict[str, str]) -> None:
    assert call(stack["door"], "GET", "/office/x")[0] == 200
    forged = {"x-forwarded-for": "203.0.113.7"}
    assert call(stack["door"], "GET", "/elsewhere/x", headers=forged)[0] == 403
    assert call(stack["door"], "GET", "/elsewhere/x")[0] == 403
    assert call(stack["door"], "GET", "/office/x", headers={"x-forwarded-for": "198.51.100.1"})[0] == 200
    assert counts(stack["echo"]) == {"/office/x": 2}


def _authorised(stack: dict[str, str], route: str, token: str) -> tuple[int, dict[str, Any]]:
    status, _, body = call(stack["door"], "GET", f"/{route}/x", headers={"authorization": f"Bearer {token}"})
    return status, (json.loads(body) if status == 200 else json.loads(body or b"{}"))


def test_lambda_authorizer_allows_denies_adds_headers_and_caches_per_identity(stack: dict[str, str]) -> None:
    for _ in range(5):
        status, seen = _authorised(stack, "by-lambda", "allow-alice")
        assert status == 200
        assert seen["headers"]["x-portico-authz-user"] == "alice"
        assert seen["headers"]["x-portico-consumer"] == "alice"
    assert _authorised(stack, "by-lambda", "allow-bob")[0] == 200
    assert _authorised(stack, "by-lambda", "nope")[0] == 403
    assert _authorised(stack, "by-lambda", "nope")[0] == 403
    assert call(stack["door"], "GET", "/by-lambda/x")[0] == 401  # no identity source: no call at all
    assert counts(stack["lambdas"], "/_calls") == {"/2015-03-31/functions/authz/invocations": 3}


def test_http_authz_allows_denies_adds_listed_headers_and_caches(stack: dict[str, str]) -> None:
    for _ in range(4):
        status, seen = _authorised(stack, "by-http", "allow-carol")
        assert status == 200
        assert seen["headers"]["x-user-id"] == "carol"
        assert "x-not-forwarded" not in seen["headers"]  # only the listed upstream headers pass
    status, body = _authorised(stack, "by-http", "nope")
    assert status == 403 and body["detail"] == "denied by the demo authz"  # the service's own denial
    assert counts(stack["authz"], "/_calls") == {"/check/by-http/x": 2}


def test_authorizer_down_or_slow_is_denied_within_the_timeout(stack: dict[str, str]) -> None:
    started = time.monotonic()
    assert _authorised(stack, "by-nobody", "allow-dave")[0] == 403
    assert _authorised(stack, "by-slow-lambda", "slow-erin")[0] == 403  # the authorizer takes 5 s; the timeout 1 s
    assert time.monotonic() - started < 3.0
    assert counts(stack["echo"]) == {}


def test_introspection_checks_active_exp_aud_and_scope(stack: dict[str, str]) -> None:
    status, seen = _authorised(stack, "opaque", "good")
    assert status == 200 and seen["headers"]["x-portico-sub"] == "alice"
    for token in ("inactive", "expired", "other-aud", "unknown"):
        status, body = _authorised(stack, "opaque", token)
        assert status == 401 and body["error"] == "invalid_token", token
    assert _authorised(stack, "opaque", "narrow")[0] == 403  # active, but without the route's scope


def test_one_token_a_thousand_requests_one_introspection_call(stack: dict[str, str]) -> None:
    with _conn(stack["door"]) as conn:
        for _ in range(1000):
            conn.request("GET", "/opaque/x", headers={"authorization": "Bearer good"})
            resp = conn.getresponse()
            resp.read()
            assert resp.status == 200
    assert counts(stack["idp"], "/_calls") == {"/introspect": 1}
