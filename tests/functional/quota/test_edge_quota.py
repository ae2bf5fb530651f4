"""Quotas through the real edge Lambda handler: HTTP API v2 events in, serialised answers out, DynamoDB counters."""

from __future__ import annotations

import asyncio
import json
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from botocore.exceptions import ClientError

from portico.adapters.dynamodb.quota_store import DynamoDbQuotaStore
from portico.core.quota.limiter import QuotaLimiter
from portico.edge.runtime import Edge

ROUTES = """
apiVersion: portico/v1
kind: Route
metadata: {name: items}
spec:
  match: {pathPrefix: /items}
  auth: {none: {}}
  rateLimit: per-ip
  upstream: {mock: {status: 200, json: {ok: true}}}
---
apiVersion: portico/v1
kind: Route
metadata: {name: mine}
spec:
  match: {pathPrefix: /mine}
  auth: {none: {}}
  rateLimit: per-sub
  upstream: {mock: {status: 200, json: {ok: true}}}
---
apiVersion: portico/v1
kind: RateLimitPolicy
metadata: {name: per-sub}
spec:
  key: sub
  failureMode: closed
  timeout: 5s
  limits: [{requests: 2, window: 1h}]
"""


def _policy(spec: str) -> str:
    return "---\napiVersion: portico/v1\nkind: RateLimitPolicy\nmetadata: {name: per-ip}\nspec:\n" + "".join(
        f"  {line}\n" for line in spec.strip().splitlines()
    )


def event(path: str, ip: str = "203.0.113.7", headers: dict[str, str] | None = None) -> dict[str, Any]:
    return {
        "version": "2.0",
        "routeKey": "$default",
        "rawPath": path,
        "rawQueryString": "",
        "headers": {"host": "api.example.com", **(headers or {})},
        "requestContext": {
            "http": {"method": "GET", "path": path, "sourceIp": ip, "protocol": "HTTP/1.1", "userAgent": "t"},
            "requestId": uuid.uuid4().hex,
            "domainName": "api.example.com",
        },
        "isBase64Encoded": False,
    }


@pytest.fixture
def make_edge(tmp_path: Path) -> Iterator[Any]:
    built: list[Edge] = []

    def make(policy: str, limiter: QuotaLimiter) -> Edge:
        path = tmp_path / f"edge-{len(built)}.yaml"
        path.write_text(ROUTES + _policy(policy))
        edge = Edge.from_env({"PORTICO_CONFIG_FILE": str(path)}, quota=limiter)
        built.append(edge)
        return edge

    yield make
    for edge in built:
        edge.close()


def clear_of_window_edge(length: int, margin: float = 3.0) -> None:
    """These tests run on the wall clock: start far enough from a boundary that the test stays in one window."""
    into = time.time() % length
    if into > length - margin:
        time.sleep(length - into + 0.05)


def test_six_a_minute_through_the_handler(make_edge: Any, quota_store: DynamoDbQuotaStore) -> None:
    edge = make_edge(
        "key: ip\nfailureMode: closed\ntimeout: 5s\nlimits: [{requests: 6, window: 1m}]", QuotaLimiter(quota_store)
    )
    clear_of_window_edge(60)
    answers = [edge.handle(event("/items/1")) for _ in range(7)]
    assert [a["statusCode"] for a in answers] == [200] * 6 + [429]
    remaining = [a["headers"]["ratelimit"].split(";")[1] for a in answers]
    assert remaining == ["r=5", "r=4", "r=3", "r=2", "r=1", "r=0", "r=0"]
    assert all(a["headers"]["ratelimit-policy"] == '"1m";q=6;w=60' for a in answers)
    refused = answers[6]
    assert int(refused["headers"]["retry-after"]) >= 1
    assert refused["headers"]["content-type"] == "application/problem+json"
    assert json.loads(refused["body"])["violated-policies"] == ["1m"]


def test_500_concurrent_requests_from_16_lambda_environments_admit_exactly_50_five_times(
    make_edge: Any, quota_store: DynamoDbQuotaStore
) -> None:
    # 16 threads, each an execution environment with its own Edge, loop and limiter, sharing only the table: 16
    # requests in flight at every moment, 500 in all. (test_dynamodb_quota_store puts all 500 in flight at once.)
    # The local endpoint serialises writes (~500 queued at once), so the budget is generous and the failure mode closed:
    # a store failure would show as a 503 here, never as a silently admitted request.
    policy = "key: ip\nfailureMode: closed\ntimeout: 5s\nlimits: [{requests: 50, window: 1h}]"
    edges = [make_edge(policy, QuotaLimiter(quota_store)) for _ in range(16)]
    clear_of_window_edge(3600, margin=30)
    for _round in range(5):
        ip = f"198.51.100.{_round + 10}"
        statuses: list[int] = []
        lock = threading.Lock()
        barrier = threading.Barrier(16)

        def environment(
            edge: Edge,
            requests: int,
            ip: str = ip,
            barrier: threading.Barrier = barrier,
            lock: threading.Lock = lock,
            statuses: list[int] = statuses,
        ) -> None:
            barrier.wait(timeout=30)
            for _ in range(requests):  # a Lambda execution environment serves one request at a time
                answer = edge.handle(event("/items/x", ip))
                with lock:
                    statuses.append(answer["statusCode"])

        threads = [threading.Thread(target=environment, args=(e, 32 if i < 4 else 31)) for i, e in enumerate(edges)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=120)
        assert len(statuses) == 500
        assert statuses.count(200) == 50 and statuses.count(429) == 450


@pytest.mark.parametrize("mode", ["open", "closed"])
def test_throttled_store_through_the_handler(mode: str, make_edge: Any, quota_store: DynamoDbQuotaStore) -> None:
    def throttle(**_: Any) -> None:
        raise ClientError({"Error": {"Code": "ThrottlingException", "Message": "Rate exceeded"}}, "UpdateItem")

    quota_store._client.meta.events.register("before-call.dynamodb.UpdateItem", throttle)
    edge = make_edge(
        f"key: ip\nfailureMode: {mode}\ntimeout: 100ms\nlimits: [{{requests: 6, window: 1m}}]",
        QuotaLimiter(quota_store),
    )
    edge.handle(event("/healthcheck-warmup"))  # config load and pipeline build are not the quota call's time
    started = time.perf_counter()
    answer = edge.handle(event("/items/1"))
    elapsed = time.perf_counter() - started
    assert elapsed < 0.1 + 0.45  # see test_ratelimit_filter.MARGIN
    if mode == "open":
        assert answer["statusCode"] == 200 and "ratelimit" not in answer["headers"]
    else:
        assert answer["statusCode"] == 503 and answer["headers"]["content-type"] == "application/problem+json"


def test_spoofed_forwarding_headers_and_unverified_sub_through_the_handler(
    make_edge: Any, quota_store: DynamoDbQuotaStore
) -> None:
    edge = make_edge(
        "key: ip\nfailureMode: closed\ntimeout: 5s\nlimits: [{requests: 3, window: 1h}]", QuotaLimiter(quota_store)
    )
    clear_of_window_edge(3600, margin=10)
    rotating = [
        edge.handle(event("/items/1", headers={"x-forwarded-for": f"10.9.8.{i}"}))["statusCode"] for i in range(5)
    ]
    assert rotating == [200, 200, 200, 429, 429]
    # No authentication on /mine: a forged token naming a victim is never an identity, so it counts as its address.
    forged = {"authorization": "Bearer eyJhbGciOiJub25lIn0.eyJzdWIiOiJ2aWN0aW0ifQ.", "x-portico-sub": "victim"}
    drained = [edge.handle(event("/mine", ip="192.0.2.66", headers=forged))["statusCode"] for _ in range(4)]
    assert drained == [200, 200, 429, 429]
    counts = asyncio.run(quota_store.counts([f"per-sub|3600|sub:victim|{int(time.time() // 3600)}"]))
    assert list(counts.values()) == [0]  # the victim's counter was never touched
