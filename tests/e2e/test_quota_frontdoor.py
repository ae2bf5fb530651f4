"""Quotas through the real front door process: its edge reads the DynamoDB quota table on the local endpoint."""

from __future__ import annotations

import http.client
import threading
import time
from collections.abc import Callable
from pathlib import Path
from urllib.parse import urlsplit

import pytest

pytestmark = pytest.mark.e2e

CONFIG = """
apiVersion: portico/v1
kind: Route
metadata: {name: items}
spec:
  match: {pathPrefix: /items}
  auth: {none: {}}
  rateLimit: fifty
  upstream: {mock: {status: 200, json: {ok: true}}}
---
apiVersion: portico/v1
kind: RateLimitPolicy
metadata: {name: fifty}
spec:
  key: ip
  failureMode: closed
  timeout: 5s
  limits: [{requests: 50, window: 1h}]
"""


def test_500_requests_from_16_client_threads_through_the_front_door_admit_exactly_50(
    spawn: Callable[..., str], tables: dict[str, str], tmp_path: Path
) -> None:
    config = tmp_path / "edge.yaml"
    config.write_text(CONFIG)
    if time.time() % 3600 > 3600 - 30:  # stay inside one hour window
        time.sleep(31)
    door = urlsplit(spawn("localdev.frontdoor", "--config", str(config)))  # inherits AWS_ENDPOINT_URL, table names
    statuses: list[int] = []
    headers: list[dict[str, str]] = []
    lock = threading.Lock()
    barrier = threading.Barrier(16)

    def client(requests: int) -> None:
        conn = http.client.HTTPConnection(door.hostname, door.port, timeout=30)
        barrier.wait(timeout=30)
        for _ in range(requests):
            # A rotating spoofed X-Forwarded-For rides along: the front door counts by the socket peer regardless.
            conn.request("GET", "/items/1", headers={"x-forwarded-for": f"10.0.0.{len(statuses) % 250}"})
            resp = conn.getresponse()
            resp.read()
            with lock:
                statuses.append(resp.status)
                headers.append({k.lower(): v for k, v in resp.getheaders()})
        conn.close()

    threads = [threading.Thread(target=client, args=(32 if i < 4 else 31,)) for i in range(16)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    assert len(statuses) == 500
    assert statuses.count(200) == 50 and statuses.count(429) == 450
    admitted = [h for s, h in zip(statuses, headers, strict=True) if s == 200]
    assert sorted(int(h["ratelimit"].split("r=")[1].split(";")[0]) for h in admitted) == list(range(50))
    refused = [h for s, h in zip(statuses, headers, strict=True) if s == 429]
    assert all(int(h["retry-after"]) >= 1 and h["content-type"] == "application/problem+json" for h in refused)
