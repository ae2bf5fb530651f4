"""Acceptance 2-4 through the real front door and a real echo upstream: transform, cache, deprecation;
and `portico validate` rejecting an invalid JMESPath expression with its field path."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from compose_client import Client

pytestmark = pytest.mark.e2e
ROOT = Path(__file__).resolve().parents[3]

CONFIG = """
apiVersion: portico/v1
kind: Route
metadata: {{name: create-order}}
spec:
  match: {{methods: [POST], path: "/shops/{{shopId}}/orders"}}
  auth: {{none: {{}}}}
  transform:
    request:
      headers: {{set: {{x-tenant: acme}}, remove: [x-debug]}}
      query: {{set: {{source: edge}}, remove: [debug]}}
      path: {{template: "/internal/shops/{{shopId}}/orders"}}
      body: {{jmespath: "{{sku: item.sku, qty: item.quantity}}"}}
    response:
      headers: {{rename: {{x-echo-service: x-served-by}}}}
      body: {{select: [path, target, body, headers.x-tenant], rename: {{target: upstreamTarget}}}}
  upstream: {{http: {{url: "{echo}", timeout: 2s}}}}
---
apiVersion: portico/v1
kind: Route
metadata: {{name: cached-items}}
spec:
  match: {{methods: [GET], path: "/items/{{id}}"}}
  auth: {{none: {{}}}}
  cache: {{ttl: 60s}}
  upstream: {{http: {{url: "{echo}/items/{{id}}", timeout: 2s}}}}
---
apiVersion: portico/v1
kind: Route
metadata: {{name: no-store}}
spec:
  match: {{methods: [GET], path: /private-feed}}
  auth: {{none: {{}}}}
  cache: {{ttl: 60s}}
  upstream: {{mock: {{headers: {{cache-control: no-store}}, json: {{feed: []}}}}}}
---
apiVersion: portico/v1
kind: Route
metadata: {{name: old-orders}}
spec:
  match: {{methods: [GET], path: "/orders/{{id}}"}}
  auth: {{none: {{}}}}
  version: {{name: v1, default: true}}
  deprecation: {{date: 2026-01-01, sunset: 2026-12-31, link: "https://docs.example.com/orders-v2"}}
  upstream: {{mock: {{json: {{version: 1}}}}}}
"""


@pytest.fixture
def stack(spawn: Callable[..., str], tmp_path: Path) -> Iterator[tuple[Client, Client]]:
    echo = spawn("localdev.demo.echo", "--name", "orders")
    config = tmp_path / "compose.yaml"
    config.write_text(CONFIG.format(echo=echo))
    door, upstream = Client(spawn("localdev.frontdoor", "--config", str(config))), Client(echo)
    yield door, upstream
    door.close()
    upstream.close()


def test_transform_rewrites_path_headers_query_and_maps_the_body(stack: tuple[Client, Client]) -> None:
    door, _ = stack
    sent = json.dumps({"item": {"sku": "A-1", "quantity": 2, "price": 9}}).encode()
    status, headers, body, _ = door.request(
        "POST",
        "/shops/s1/orders?debug=1&page=2",
        sent,
        {"content-type": "application/json", "x-debug": "1"},
    )
    assert status == 200, body
    seen = json.loads(body)
    assert seen["path"] == "/internal/shops/s1/orders"
    assert seen["upstreamTarget"] == "/internal/shops/s1/orders?page=2&source=edge"
    assert json.loads(seen["body"]) == {"sku": "A-1", "qty": 2}
    assert seen["headers"] == {"x-tenant": "acme"}  # only the selected header field; x-debug never arrived
    assert headers["x-served-by"] == "orders" and "x-echo-service" not in headers


def test_second_get_is_a_hit_with_age(stack: tuple[Client, Client]) -> None:
    door, upstream = stack
    status, first, body1, _ = door.request("GET", "/items/7")
    assert status == 200 and first["x-cache"] == "MISS"
    time.sleep(1.1)  # so Age is at least 1
    status, second, body2, _ = door.request("GET", "/items/7")
    assert status == 200 and second["x-cache"] == "HIT" and int(second["age"]) >= 1
    assert body2 == body1
    assert json.loads(upstream.request("GET", "/__stats")[2]) == {"/items/7": 1}  # the upstream saw one request


def test_no_store_answer_is_not_cached(stack: tuple[Client, Client]) -> None:
    door, _ = stack
    for _ in range(2):
        status, headers, _, _ = door.request("GET", "/private-feed")
        assert status == 200 and headers["x-cache"] == "MISS" and "age" not in headers


def test_deprecated_route_sends_deprecation_and_sunset(stack: tuple[Client, Client]) -> None:
    door, _ = stack
    status, headers, _, _ = door.request("GET", "/v1/orders/1")
    assert status == 200
    assert headers["deprecation"] == "@1767225600"
    assert headers["sunset"] == "Thu, 31 Dec 2026 00:00:00 GMT"
    assert headers["link"] == '<https://docs.example.com/orders-v2>; rel="deprecation"; type="text/html"'


def test_portico_validate_rejects_invalid_jmespath_with_the_field_path(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text(CONFIG.format(echo="https://orders.example.com").replace("item.quantity}", "item.quantity"))
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT / "shared"), str(ROOT)])}
    result = subprocess.run(
        [sys.executable, "-c", "from portico.cli.main import run; run()", "validate", "-f", str(bad)],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
    )
    assert result.returncode == 1
    message = " ".join(result.stderr.split())
    assert f"{bad}: document 1: spec.transform.request.body.jmespath: invalid JMESPath expression" in message
