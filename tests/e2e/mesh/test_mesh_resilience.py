"""Acceptance 3 (retry rules), 4 (circuit breaking) and 5 (fault injection) against real sidecars."""

from __future__ import annotations

import asyncio
import json
import time

import pytest

from localdev.bench.loadgen import Connection, run_load
from tests.e2e.mesh.conftest import Mesh, get

pytestmark = pytest.mark.e2e

RETRY = """
apiVersion: networking.istio.io/v1beta1
kind: VirtualService
metadata: {name: payments}
spec:
  hosts: [payments]
  http:
    - retries: {attempts: 2, retryOn: "connect-failure,retriable-status-codes,503"}
      route: [{destination: {host: payments}}]
"""


def _hits(mesh: Mesh, path: str) -> list[int]:
    return [
        json.loads(get(f"http://127.0.0.1:{i.app_port}/hits")[1]).get(path, 0)
        for i in mesh.instances
        if i.app is not None
    ]


def test_post_is_tried_once_and_get_at_most_attempts_plus_one_on_different_instances(mesh: Mesh) -> None:
    mesh.config(RETRY)
    for _ in range(3):
        mesh.start("payments")
    client = mesh.start("orders", app=False)
    mesh.wait_for(client, "payments", 3)

    async def call(method: str, path: str) -> int:
        conn = Connection("127.0.0.1", client.outbound)
        try:
            return (await conn.request(method, path, "payments")).status
        finally:
            conn.close()

    assert asyncio.run(call("POST", "/status/503")) == 503
    assert sum(_hits(mesh, "/status/503")) == 1

    assert asyncio.run(call("GET", "/status/503?x=1")) == 503
    hits = _hits(mesh, "/status/503")
    # 1 from the POST, then 3 attempts (attempts: 2 retries + the first) spread over 3 different instances
    assert sorted(hits) == [1, 1, 2]


BREAKER = """
apiVersion: networking.istio.io/v1beta1
kind: VirtualService
metadata: {name: payments}
spec:
  hosts: [payments]
  http: [{retries: {attempts: 0}, route: [{destination: {host: payments}}]}]
---
apiVersion: networking.istio.io/v1beta1
kind: DestinationRule
metadata: {name: payments}
spec:
  host: payments
  trafficPolicy:
    connectionPool: {tcp: {maxConnections: 1}, http: {http1MaxPendingRequests: 1}}
"""


def _rss_kb(pid: int) -> int:
    with open(f"/proc/{pid}/status") as f:
        return next(int(line.split()[1]) for line in f if line.startswith("VmRSS:"))


def test_past_connection_and_pending_limits_requests_fail_fast_with_a_marker(mesh: Mesh) -> None:
    mesh.config(BREAKER)
    mesh.start("payments")
    client = mesh.start("orders", app=False)
    mesh.wait_for(client, "payments", 1)

    run = asyncio.run(
        run_load("127.0.0.1", client.outbound, host_header="payments", path="/slow?ms=600", connections=10, requests=10)
    )
    ok = [r for r in run.replies if r.status == 200]
    shed = [r for r in run.replies if r.status == 503]
    assert len(ok) == 2 and len(shed) == 8  # one on the connection, one pending; the rest are refused
    assert all(r.headers.get("x-portico-overloaded") == "1" for r in shed)
    assert max(r.latency for r in shed) < 0.3  # immediate, not after the slow upstream answered

    # memory stays bounded: 8 rounds of 200 concurrent overflowing requests do not grow the sidecar
    assert client.sidecar is not None
    asyncio.run(
        run_load(
            "127.0.0.1", client.outbound, host_header="payments", path="/slow?ms=200", connections=200, requests=200
        )
    )
    before = _rss_kb(client.sidecar.pid)
    for _ in range(8):
        asyncio.run(
            run_load(
                "127.0.0.1", client.outbound, host_header="payments", path="/slow?ms=200", connections=200, requests=200
            )
        )
    growth = _rss_kb(client.sidecar.pid) - before
    print(f"circuit breaking: 8/10 shed in <0.3s; RSS growth over 1600 overflowing requests {growth} KiB")
    assert growth < 8 * 1024


FAULT = """
apiVersion: networking.istio.io/v1beta1
kind: VirtualService
metadata: {name: payments}
spec:
  hosts: [payments]
  http:
    - match: [{uri: {prefix: /abort}}]
      fault: {abort: {httpStatus: 503, percentage: {value: 50}}}
      retries: {attempts: 0}
      route: [{destination: {host: payments}}]
    - match: [{uri: {prefix: /delay}}]
      fault: {delay: {fixedDelay: 300ms, percentage: {value: 100}}}
      route: [{destination: {host: payments}}]
    - route: [{destination: {host: payments}}]
"""


def test_abort_percentage_and_fixed_delay(mesh: Mesh) -> None:
    mesh.config(FAULT)
    mesh.start("payments")
    client = mesh.start("orders", app=False)
    mesh.wait_for(client, "payments", 1)

    run = asyncio.run(
        run_load("127.0.0.1", client.outbound, host_header="payments", path="/abort", connections=4, requests=2000)
    )
    aborted = sum(1 for r in run.replies if r.status == 503 and r.headers.get("x-portico-fault") == "abort")
    assert run.statuses().keys() <= {200, 503} and not run.errors
    print(f"fault abort 50%: {aborted}/2000 aborted")
    assert abs(aborted / 2000 - 0.5) <= 0.03

    async def timed(path: str) -> float:
        conn = Connection("127.0.0.1", client.outbound)
        try:
            await conn.request("GET", path, "payments")  # warm the pooled connections
            start = time.perf_counter()
            for _ in range(5):
                assert (await conn.request("GET", path, "payments")).status == 200
            return (time.perf_counter() - start) / 5
        finally:
            conn.close()

    base, delayed = asyncio.run(timed("/plain")), asyncio.run(timed("/delay"))
    print(f"fault delay 300ms: plain {base * 1000:.1f} ms, delayed {delayed * 1000:.1f} ms")
    assert delayed - base + 0.01 >= 0.3 and delayed - base < 0.45


ONE_CONNECTION = """
apiVersion: networking.istio.io/v1beta1
kind: DestinationRule
metadata: {name: payments}
spec:
  host: payments
  trafficPolicy:
    loadBalancer: {simple: ROUND_ROBIN}
    connectionPool: {tcp: {maxConnections: 1}}
"""


def test_max_connections_below_the_host_count_does_not_stall_other_hosts(mesh: Mesh) -> None:
    """Issue 20 defect 7: each request to the other host used to wait the 10 s connect timeout, then 503."""
    mesh.config(ONE_CONNECTION)
    mesh.start("payments")
    mesh.start("payments")
    client = mesh.start("orders", app=False)
    mesh.wait_for(client, "payments", 2)

    async def one_at_a_time() -> list[tuple[int, float]]:
        conn = Connection("127.0.0.1", client.outbound)
        out = []
        try:
            for n in range(6):
                start = time.perf_counter()
                reply = await conn.request("GET", f"/x{n}", "payments")
                out.append((reply.status, time.perf_counter() - start))
        finally:
            conn.close()
        return out

    replies = asyncio.run(one_at_a_time())
    assert [status for status, _ in replies] == [200] * 6
    assert max(took for _, took in replies) < 2.0, replies
    per_host = [a + b for a, b in zip(_hits(mesh, "/x0"), _hits(mesh, "/x1"), strict=True)]
    assert per_host == [1, 1]  # round robin reached both hosts
