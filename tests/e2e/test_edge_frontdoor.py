"""Acceptance 2-5 through the real front door process and real upstream processes, all on free ports."""

from __future__ import annotations

import http.client
import json
import socket
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest

pytestmark = pytest.mark.e2e

CONFIG = """
apiVersion: portico/v1
kind: Route
metadata: {{name: items}}
spec:
  match: {{methods: [GET], path: "/items/{{itemId}}"}}
  auth: {{none: {{}}}}
  upstream: {{http: {{url: "{a}/things/{{itemId}}", timeout: 2s}}}}
---
apiVersion: portico/v1
kind: Route
metadata: {{name: public}}
spec:
  match: {{path: "/public/{{x}}"}}
  auth: {{none: {{}}}}
  upstream: {{http: {{url: "{a}", timeout: 2s}}}}
---
apiVersion: portico/v1
kind: Route
metadata: {{name: admin}}
spec:
  match: {{path: "/admin/{{x}}"}}
  auth: {{none: {{}}}}
  upstream: {{http: {{url: "{b}", timeout: 2s}}}}
---
apiVersion: portico/v1
kind: Route
metadata: {{name: flaky}}
spec:
  match: {{pathPrefix: /flaky}}
  auth: {{none: {{}}}}
  upstream: {{http: {{url: "{a}", timeout: 3s, retries: {{attempts: 2, backoff: 10ms}}}}}}
---
apiVersion: portico/v1
kind: Route
metadata: {{name: slow}}
spec:
  match: {{pathPrefix: /slow}}
  auth: {{none: {{}}}}
  upstream: {{http: {{url: "{a}", timeout: 500ms}}}}
---
apiVersion: portico/v1
kind: Route
metadata: {{name: refused}}
spec:
  match: {{pathPrefix: /refused}}
  auth: {{none: {{}}}}
  upstream: {{http: {{url: "http://127.0.0.1:{closed}", timeout: 2s, retries: {{attempts: 1, backoff: 10ms}}}}}}
"""


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def request(base: str, method: str, path: str, body: bytes | None = None) -> tuple[int, dict[str, str], bytes]:
    """Send `path` byte-for-byte (no client-side normalisation, no redirect following)."""
    parts = urlsplit(base)
    conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=10)
    try:
        conn.request(method, path, body=body)
        resp = conn.getresponse()
        return resp.status, {k.lower(): v for k, v in resp.getheaders()}, resp.read()
    finally:
        conn.close()


def stats(base: str) -> dict[str, int]:
    return json.loads(request(base, "GET", "/__stats")[2])  # type: ignore[no-any-return]


@pytest.fixture
def stack(spawn: Callable[..., str], tmp_path: Path) -> dict[str, str]:
    a = spawn("localdev.demo.echo", "--name", "a")
    b = spawn("localdev.demo.echo", "--name", "b")
    config = tmp_path / "edge.yaml"
    config.write_text(CONFIG.format(a=a, b=b, closed=_closed_port()))
    door = spawn("localdev.frontdoor", "--config", str(config), env={"PORTICO_ALLOW_LOOPBACK_UPSTREAMS": "true"})
    return {"a": a, "b": b, "door": door}


def test_routed_get_404_and_405(stack: dict[str, str]) -> None:
    status, headers, body = request(stack["door"], "GET", "/items/42?q=1")
    seen: dict[str, Any] = json.loads(body)
    assert status == 200 and seen["service"] == "a" and seen["target"] == "/things/42?q=1"
    assert seen["headers"]["x-forwarded-for"] == "127.0.0.1" and seen["headers"]["traceparent"].startswith("00-")
    status, headers, body = request(stack["door"], "GET", "/nothing/here")
    assert status == 404 and headers["content-type"] == "application/problem+json"
    assert json.loads(body)["requestId"] == headers["x-request-id"]
    status, headers, body = request(stack["door"], "POST", "/items/42", b"{}")
    assert status == 405 and headers["allow"] == "GET, HEAD"
    assert headers["content-type"] == "application/problem+json"


@pytest.mark.parametrize("path", ["/public/../admin/x", "//admin/x", "/%61dmin/x", "/public/%2e%2e/admin/x"])
def test_traversal_reaches_only_the_normalised_route(stack: dict[str, str], path: str) -> None:
    status, _, body = request(stack["door"], "GET", path)
    assert status == 200
    assert json.loads(body)["path"] == "/admin/x"  # upstream B sees exactly the normalised, matched path
    assert stats(stack["a"]) == {}  # upstream A (the /public route) never saw it


@pytest.mark.parametrize("path", ["/public/..%2Fadmin/x", "/public/a%2Fb", "/public/a%5Cb", "/public/a%00b"])
def test_encoded_slash_backslash_and_nul_are_400(stack: dict[str, str], path: str) -> None:
    status, headers, _ = request(stack["door"], "GET", path)
    assert status == 400 and headers["content-type"] == "application/problem+json"
    assert stats(stack["a"]) == {} and stats(stack["b"]) == {}


def test_raw_backslash_is_400(stack: dict[str, str]) -> None:
    parts = urlsplit(stack["door"])
    with socket.create_connection((parts.hostname, parts.port), timeout=5) as sock:
        sock.sendall(b"GET /public/a\\..\\admin HTTP/1.1\r\nhost: x\r\nconnection: close\r\n\r\n")
        data = b""
        while chunk := sock.recv(65536):
            data += chunk
    assert data.startswith(b"HTTP/1.1 400")


def test_redirect_is_passed_back_not_followed(stack: dict[str, str]) -> None:
    status, headers, _ = request(stack["door"], "GET", "/public/redirect")
    assert status == 302 and headers["location"] == "http://example.invalid/elsewhere"


def test_timeout_gives_504_shortly_after_the_configured_timeout(stack: dict[str, str]) -> None:
    start = time.monotonic()
    status, headers, _ = request(stack["door"], "GET", "/slow/delay/3")
    elapsed = time.monotonic() - start
    assert status == 504 and headers["content-type"] == "application/problem+json"
    assert 0.45 <= elapsed < 1.5


def test_refused_connection_gives_502(stack: dict[str, str]) -> None:
    status, headers, _ = request(stack["door"], "GET", "/refused/x")
    assert status == 502 and headers["content-type"] == "application/problem+json"


def test_get_is_retried_on_503_up_to_attempts(stack: dict[str, str]) -> None:
    status, _, _ = request(stack["door"], "GET", "/flaky/status/503")
    assert status == 503
    assert stats(stack["a"])["/flaky/status/503"] == 3  # the first try plus attempts: 2


def test_post_is_never_retried(stack: dict[str, str]) -> None:
    status, _, _ = request(stack["door"], "POST", "/flaky/status/503", b"x")
    assert status == 503
    assert stats(stack["a"])["/flaky/status/503"] == 1
