"""Acceptance 1, edge half: front door -> edge -> upstream carries one trace id, and the edge's access-log line and
EMF line (in the front door's output, as CloudWatch Logs would receive them) name it with the request id.

The mesh half (edge -> sidecar -> service -> sidecar -> service) needs the sidecar on main; see docs/observability.md.
"""

from __future__ import annotations

import http.client
import json
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
"""
TRACE = "0af7651916cd43dd8448eb211c80319c"


def get(base: str, path: str, headers: dict[str, str]) -> tuple[int, dict[str, str], bytes]:
    parts = urlsplit(base)
    conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=10)
    try:
        conn.request("GET", path, headers=headers)
        resp = conn.getresponse()
        return resp.status, {k.lower(): v for k, v in resp.getheaders()}, resp.read()
    finally:
        conn.close()


def json_lines(log: Path, want: Callable[[dict[str, Any]], bool], deadline: float = 5.0) -> list[dict[str, Any]]:
    """The JSON lines of `log` that satisfy `want`, waiting (bounded) for the process to flush them."""
    end = time.monotonic() + deadline
    while True:
        found = []
        for line in log.read_text().splitlines():
            if line.startswith("{"):
                doc = json.loads(line)
                if want(doc):
                    found.append(doc)
        if found or time.monotonic() > end:
            return found
        time.sleep(0.05)


def test_one_trace_id_from_front_door_to_upstream_and_in_the_edge_log(
    spawn: Callable[..., str], tmp_path: Path
) -> None:
    upstream = spawn("localdev.demo.echo", "--name", "a")
    config = tmp_path / "edge.yaml"
    config.write_text(CONFIG.format(a=upstream))
    door = spawn("localdev.frontdoor", "--config", str(config), env={"PORTICO_ALLOW_LOOPBACK_UPSTREAMS": "true"})
    door_log = tmp_path / "localdev.frontdoor-1.log"

    status, headers, body = get(door, "/items/7", {"traceparent": f"00-{TRACE}-b7ad6b7169203331-01"})
    assert status == 200
    seen = json.loads(body)["headers"]
    request_id = headers["x-request-id"]
    assert seen["traceparent"].split("-")[1] == TRACE  # the upstream continues the caller's trace
    assert seen["x-request-id"] == request_id

    [line] = json_lines(door_log, lambda d: d.get("message") == "request" and d.get("correlation_id") == request_id)
    assert line["trace_id"] == TRACE and line["route"] == "items" and line["status"] == 200
    assert seen["traceparent"].split("-")[2] == line["span_id"]  # the upstream's parent is the edge's span
    assert line["upstream_latency_ms"] > 0 and line["latency_ms"] >= line["upstream_latency_ms"]
    [emf] = json_lines(door_log, lambda d: "_aws" in d and d.get("correlation_id") == request_id)
    assert (emf["route"], emf["Requests"]) == ("items", 1)

    # without a caller's trace the edge starts one, and the upstream and the log agree on it
    _, headers, body = get(door, "/items/8", {})
    started = json.loads(body)["headers"]["traceparent"].split("-")[1]
    rid = headers["x-request-id"]
    [line] = json_lines(door_log, lambda d: d.get("message") == "request" and d.get("correlation_id") == rid)
    assert line["trace_id"] == started != TRACE
