"""Acceptance 1: a 90/10 split over real sockets, weight 0 gets nothing, weight changes under load fail nothing.

The ±2pp over 10,000 requests is asserted on the pure picker in tests/unit/mesh/test_weighted.py; here a smaller
real-socket run checks that the sidecar applies the same split.
"""

from __future__ import annotations

import asyncio
import json
import threading
import time

import pytest

from localdev.bench.loadgen import run_load
from tests.e2e.mesh.conftest import Mesh

pytestmark = pytest.mark.e2e


def split(v1: int, v2: int) -> str:
    return f"""
apiVersion: networking.istio.io/v1beta1
kind: VirtualService
metadata: {{name: payments}}
spec:
  hosts: [payments]
  http:
    - route:
        - {{destination: {{host: payments, subset: v1}}, weight: {v1}}}
        - {{destination: {{host: payments, subset: v2}}, weight: {v2}}}
---
apiVersion: networking.istio.io/v1beta1
kind: DestinationRule
metadata: {{name: payments}}
spec:
  host: payments
  subsets:
    - {{name: v1, labels: {{version: v1}}}}
    - {{name: v2, labels: {{version: v2}}}}
"""


def _versions(replies: list) -> dict[str, int]:  # type: ignore[type-arg]
    out: dict[str, int] = {}
    for r in replies:
        v = json.loads(r.body)["version"]
        out[v] = out.get(v, 0) + 1
    return out


def _wait_version(client: object, mesh: Mesh, version: int) -> None:
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        if client.dump()["configVersion"] == version:  # type: ignore[attr-defined]
            return
        time.sleep(0.1)
    raise AssertionError("config did not reload")


def test_weighted_split_weight_zero_and_live_weight_changes(mesh: Mesh) -> None:
    mesh.config(split(90, 10))
    mesh.start("payments", version="v1")
    mesh.start("payments", version="v2")
    client = mesh.start("orders", app=False, wait=True)
    mesh.wait_for(client, "payments", 2)

    run = asyncio.run(run_load("127.0.0.1", client.outbound, host_header="payments", connections=4, requests=2000))
    assert not run.errors and run.statuses() == {200: 2000}
    share = _versions(run.replies).get("v2", 0) / 2000
    print(f"90/10 over 2000 real requests: v2 share {share:.4f}")
    assert abs(share - 0.10) <= 0.03, share  # 4.5 standard deviations at n=2000

    from portico.adapters.file_config_store import FileConfigStore

    store = FileConfigStore([mesh.tmp / "mesh.yaml"])
    mesh.config(split(100, 0))
    _wait_version(client, mesh, store.version())
    run = asyncio.run(run_load("127.0.0.1", client.outbound, host_header="payments", connections=4, requests=500))
    assert _versions(run.replies) == {"v1": 500}

    # change the weights repeatedly while 8 connections keep sending: not one request may fail
    result: dict[str, object] = {}

    def load() -> None:
        async def go() -> None:
            stop_local = asyncio.Event()
            result["stop"] = (asyncio.get_running_loop(), stop_local)
            result["run"] = await run_load(
                "127.0.0.1", client.outbound, host_header="payments", connections=8, duration=8.0, stop=stop_local
            )

        asyncio.run(go())

    worker = threading.Thread(target=load)
    worker.start()
    try:
        for v1, v2 in ((50, 50), (0, 100), (90, 10), (100, 0), (10, 90)):
            time.sleep(0.6)
            mesh.config(split(v1, v2))
    finally:
        time.sleep(0.6)
        loop, ev = result["stop"]  # type: ignore[misc]
        loop.call_soon_threadsafe(ev.set)
        worker.join(timeout=20)
    run = result["run"]
    assert not run.errors, run.errors[:3]  # type: ignore[attr-defined]
    assert run.statuses() == {200: len(run.replies)} and len(run.replies) > 500  # type: ignore[attr-defined]
    seen = _versions(run.replies)  # type: ignore[attr-defined]
    print(f"weights changed 5 times under load: {len(run.replies)} requests, 0 failed, {seen}")  # type: ignore[attr-defined]
    assert seen.get("v1", 0) > 0 and seen.get("v2", 0) > 0
