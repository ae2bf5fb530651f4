"""The rate-limit filter on the DynamoDB store: sequential countdown, store faults within the timeout, spoofing."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import socket
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from botocore.exceptions import ClientError

from portico.adapters.aws import client
from portico.adapters.dynamodb.quota_store import DynamoDbQuotaStore
from portico.core.chain import Context
from portico.core.headers import Headers
from portico.core.http import Request, Response
from portico.core.quota.limiter import QuotaLimiter
from tests.functional.quota.quota_helpers import chain, config, route_with

T0 = 1_700_000_040.0
# Measured overrun past the timeout is under 10ms; the margin absorbs scheduling on a loaded shared 2-core machine
# and still sits far below the injected 2s stall, so the bound proves the call is cut off rather than waited out.
MARGIN = 0.45


def _send(handler: Any, now: float, headers: list[tuple[str, str]] = (), ip: str = "203.0.113.7") -> Response:  # type: ignore[assignment]
    request = Request(method="GET", path="/x", headers=Headers(list(headers)), source_ip=ip)
    return asyncio.run(handler(Context(request=request, now=now, request_id="rid")))


def test_six_a_minute_counts_down_then_429_with_retry_after(quota_store: DynamoDbQuotaStore) -> None:
    # closed with a generous timeout: a slow local endpoint must show as a failure here, never as a silent pass
    cfg = route_with("key: ip\nfailureMode: closed\ntimeout: 5s\nlimits: [{requests: 6, window: 1m}]")
    handler = chain(cfg, "r", QuotaLimiter(quota_store))
    answers = [_send(handler, T0 + 10 + i) for i in range(7)]
    assert [a.status for a in answers] == [200] * 6 + [429]
    assert [a.headers.get("ratelimit") for a in answers[:6]] == [
        f'"1m";r={r};t={50 - i}' for i, r in enumerate(range(5, -1, -1))
    ]
    assert all(a.headers.get("ratelimit-policy") == '"1m";q=6;w=60' for a in answers)
    refused = answers[6]
    assert int(refused.headers.get("retry-after") or 0) >= 1 and refused.content_type == "application/problem+json"
    body = json.loads(refused.body)
    assert body["status"] == 429 and body["violated-policies"] == ["1m"] and body["type"].endswith("#quota-exceeded")


# ── store faults, injected at the store's own client ─────────────────────────────────────────────────────────────


def _throttle(store: DynamoDbQuotaStore) -> None:
    def raise_throttling(**_: Any) -> None:
        raise ClientError({"Error": {"Code": "ThrottlingException", "Message": "Rate exceeded"}}, "UpdateItem")

    store._client.meta.events.register("before-call.dynamodb.UpdateItem", raise_throttling)


def _stall(store: DynamoDbQuotaStore) -> None:
    store._client.meta.events.register("before-send.dynamodb.UpdateItem", lambda **_: time.sleep(2.0))


@contextlib.contextmanager
def _closed_port_store(monkeypatch: pytest.MonkeyPatch, table: str) -> Iterator[DynamoDbQuotaStore]:
    with socket.socket() as probe:  # a port that was free a moment ago and that nobody listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    monkeypatch.setenv("AWS_ENDPOINT_URL", f"http://127.0.0.1:{port}")
    store = DynamoDbQuotaStore(table, client("dynamodb", timeout=0.5, retries=1))
    try:
        yield store
    finally:
        store.close()


FAULTS: dict[str, Callable[[DynamoDbQuotaStore], None] | None] = {
    "throttled": _throttle,
    "timeout": _stall,
    "endpoint-down": None,
}


@pytest.mark.parametrize("mode", ["open", "closed"])
@pytest.mark.parametrize("fault", list(FAULTS))
def test_store_faults_apply_the_failure_mode_within_the_quota_timeout(
    fault: str,
    mode: str,
    quota_store: DynamoDbQuotaStore,
    tables: dict[str, str],
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    cfg = route_with(f"key: ip\nfailureMode: {mode}\ntimeout: 150ms\nlimits: [{{requests: 6, window: 1m}}]")
    with contextlib.ExitStack() as stack:
        store = quota_store
        inject = FAULTS[fault]
        if inject is None:
            store = stack.enter_context(_closed_port_store(monkeypatch, tables["quota"]))
        else:
            inject(store)
        limiter = QuotaLimiter(store)
        handler = chain(cfg, "r", limiter)
        with caplog.at_level(logging.WARNING, logger="portico.quota"):
            started = time.perf_counter()
            answer = _send(handler, T0)
            elapsed = time.perf_counter() - started
    assert elapsed < 0.150 + MARGIN, f"{fault}/{mode} took {elapsed:.3f}s"
    if mode == "open":
        assert answer.status == 200 and answer.body == b"ok"
        assert "ratelimit" not in answer.headers and "ratelimit-policy" not in answer.headers
    else:
        assert answer.status == 503 and answer.content_type == "application/problem+json"
        assert json.loads(answer.body)["status"] == 503
    assert limiter.stats.store_failures == 1
    assert (limiter.stats.failed_open, limiter.stats.failed_closed) == ((1, 0) if mode == "open" else (0, 1))
    [warning] = [r.getMessage() for r in caplog.records if r.getMessage().startswith("rate limit failed")]
    assert f"failed {mode}: policy " in warning and "1 request(s)" in warning


# ── spoofing ──────────────────────────────────────────────────────────────────────────────────────────────────────


def test_rotating_x_forwarded_for_does_not_reset_an_ip_keyed_limit(quota_store: DynamoDbQuotaStore) -> None:
    policy = "key: ip\nfailureMode: closed\ntimeout: 5s\nlimits: [{requests: 3, window: 1m}]"
    handler = chain(route_with(policy), "r", QuotaLimiter(quota_store))
    statuses = [
        _send(handler, T0 + i, [("x-forwarded-for", f"198.51.100.{i}"), ("forwarded", f"for=198.51.100.{i}")]).status
        for i in range(6)
    ]
    assert statuses == [200, 200, 200, 429, 429, 429]
    assert _send(handler, T0 + 7, ip="203.0.113.8").status == 200  # another real address has its own counter


def test_an_unverified_sub_cannot_drain_another_consumers_quota(quota_store: DynamoDbQuotaStore) -> None:
    cfg = config(
        """
apiVersion: portico/v1
kind: Route
metadata: {name: r}
spec:
  match: {pathPrefix: /}
  auth: {none: {}}
  rateLimit: per-sub
  upstream: {mock: {status: 200}}
---
apiVersion: portico/v1
kind: RateLimitPolicy
metadata: {name: per-sub}
spec:
  key: sub
  limits: [{requests: 2, window: 1m}]
"""
    )
    handler = chain(cfg, "r", QuotaLimiter(quota_store))
    # An unsigned token naming the victim's sub, and a client header pretending to be a verified identity.
    forged = "eyJhbGciOiJub25lIn0.eyJzdWIiOiJzdWItdmljdGltIn0."
    attacker = [("authorization", f"Bearer {forged}"), ("x-portico-sub", "sub-victim")]
    assert [_send(handler, T0 + i, attacker).status for i in range(4)] == [200, 200, 429, 429]
    victim = [("x-test-verified-consumer", "victim")]  # the verified identity sets sub = "sub-victim"
    assert [_send(handler, T0 + 5 + i, victim, ip="192.0.2.50").status for i in range(3)] == [200, 200, 429]
