"""Quotas through the real front door process: its edge reads the DynamoDB quota table on the local endpoint."""

from __future__ import annotations

import http.client
import json
import os
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


DEFAULTS = """
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
  limits: [{requests: 50, window: 1h}]    # failureMode open and timeout 100ms: the defaults
"""


def _hammer(base: str, total: int, threads: int, pause: float = 0.0) -> list[int]:
    """`total` GETs from `threads` keep-alive clients started together; the statuses in order of arrival."""
    door = urlsplit(base)
    statuses: list[int] = []
    lock = threading.Lock()
    barrier = threading.Barrier(threads)

    def client(requests: int) -> None:
        conn = http.client.HTTPConnection(door.hostname, door.port, timeout=30)
        barrier.wait(timeout=30)
        for _ in range(requests):
            conn.request("GET", "/items/1")
            resp = conn.getresponse()
            resp.read()
            with lock:
                statuses.append(resp.status)
            time.sleep(pause)
        conn.close()

    share, extra = divmod(total, threads)
    pool = [threading.Thread(target=client, args=(share + (1 if i < extra else 0),)) for i in range(threads)]
    for t in pool:
        t.start()
    for t in pool:
        t.join(timeout=120)
    return statuses


def _log_lines(path: Path) -> list[dict[str, object]]:
    lines = []
    for raw in path.read_text().splitlines():
        if raw.startswith("{"):
            lines.append(json.loads(raw))
    return lines


def test_default_policy_holds_under_32_client_threads_and_never_fails_open(
    spawn: Callable[..., str], tables: dict[str, str], tmp_path: Path
) -> None:
    """Issue 19, acceptance 1: the local store keeps up with the default 100 ms timeout, so the limit holds."""
    config = tmp_path / "edge.yaml"
    config.write_text(DEFAULTS)
    if time.time() % 3600 > 3600 - 30:  # stay inside one hour window
        time.sleep(31)
    base = spawn("localdev.frontdoor", "--config", str(config))
    statuses = _hammer(base, 500, 32)
    log = _log_lines(tmp_path / "localdev.frontdoor-0.log")
    decisions = [line["rate_limit"] for line in log if "rate_limit" in line]
    assert len(statuses) == 500
    assert (statuses.count(200), statuses.count(429)) == (50, 450)
    assert "failed-open" not in decisions and len(decisions) == 500
    assert sum(int(line.get("RateLimitFailedOpen", 0)) for line in log) == 0  # type: ignore[call-overload]


def test_a_store_stopped_mid_load_fails_open_counted_by_the_metric_and_warned_about(
    spawn: Callable[..., str], tmp_path: Path
) -> None:
    """Issue 19, acceptance 3: every failed-open request shows in the metric, and the warning names the policy."""
    from localdev import aws
    from localdev.tables import create_tables

    store = aws.start(0, tmp_path / "store.log")
    try:
        names = {role: f"portico-{role}-stopped" for role in ("config", "quota", "registry")}
        create_tables(aws.client("dynamodb", store.url), names)
        config = tmp_path / "edge.yaml"
        config.write_text(DEFAULTS.replace("requests: 50", "requests: 100000"))
        env = {**aws.local_env(store.url, os.environ), "PORTICO_QUOTA_TABLE": names["quota"]}
        base = spawn("localdev.frontdoor", "--config", str(config), env=env)
        before = _hammer(base, 64, 8)
        aws.stop(store)
        after = _hammer(base, 96, 8, pause=0.01)
    finally:
        aws.stop(store)
    log = _log_lines(tmp_path / "localdev.frontdoor-0.log")
    failed_open = sum(1 for line in log if line.get("rate_limit") == "failed-open")
    metric = sum(int(line.get("RateLimitFailedOpen", 0)) for line in log)  # type: ignore[call-overload]
    assert before.count(200) == 64 and after.count(200) == 96  # open: every request still served
    # every request after the stop failed open (a loaded machine may add one from before it); the metric counts each
    assert failed_open >= 96 and metric == failed_open
    warning = "rate limit failed open: policy fifty: quota store:"
    warnings = [line for line in log if str(line.get("message", "")).startswith(warning)]
    assert 1 <= len(warnings) <= 2  # rate-limited: one per policy per 10 s, not one per request
