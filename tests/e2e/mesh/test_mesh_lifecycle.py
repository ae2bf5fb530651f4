"""Acceptance 2 (losing an instance under load) and 6 (drain on SIGTERM) with real processes."""

from __future__ import annotations

import asyncio
import json
import signal
import threading
import time

import pytest

from localdev.bench.loadgen import Run, run_load
from tests.e2e.mesh.conftest import Instance, Mesh

pytestmark = pytest.mark.e2e

BASE_EJECTION = 4.0
RESILIENT = f"""
apiVersion: networking.istio.io/v1beta1
kind: VirtualService
metadata: {{name: payments}}
spec:
  hosts: [payments]
  http:
    - retries: {{attempts: 2, retryOn: "connect-failure,reset,retriable-status-codes,503"}}
      route: [{{destination: {{host: payments}}}}]
---
apiVersion: networking.istio.io/v1beta1
kind: DestinationRule
metadata: {{name: payments}}
spec:
  host: payments
  trafficPolicy:
    loadBalancer: {{simple: ROUND_ROBIN}}
    outlierDetection:
      consecutiveGatewayErrors: 2
      interval: 500ms
      baseEjectionTime: {BASE_EJECTION:g}s
      maxEjectionPercent: 34
"""


class Background:
    """Load in a thread with its own event loop, stoppable from the test."""

    def __init__(self, port: int, path: str = "/", connections: int = 8, duration: float = 30.0) -> None:
        self.result: Run | None = None
        self._ready = threading.Event()
        self._args = (port, path, connections, duration)
        self._thread = threading.Thread(target=self._main)
        self._thread.start()
        self._ready.wait(5)

    def _main(self) -> None:
        async def go() -> None:
            self._loop = asyncio.get_running_loop()
            self._stop = asyncio.Event()
            self._ready.set()
            port, path, conns, duration = self._args
            self.result = await run_load(
                "127.0.0.1",
                port,
                host_header="payments",
                path=path,
                connections=conns,
                duration=duration,
                stop=self._stop,
            )

        asyncio.run(go())

    def stop(self) -> Run:
        self._loop.call_soon_threadsafe(self._stop.set)
        self._thread.join(30)
        assert self.result is not None
        return self.result


def _ejected(client: Instance) -> list[str]:
    return [k for c in client.dump()["clusters"].values() for k in c["ejected"]]


def test_killing_one_of_three_under_load(mesh: Mesh) -> None:
    mesh.config(RESILIENT)
    _, _, c = (mesh.start("payments", name=f"pay-{n}") for n in "abc")
    client = mesh.start("orders", app=False)
    mesh.wait_for(client, "payments", 3)

    load = Background(client.outbound)
    time.sleep(1.0)
    assert c.sidecar is not None
    c.sidecar.send_signal(signal.SIGKILL)  # the instance dies without deregistering
    c.sidecar.wait(5)
    killed_at = time.time()
    deadline = time.monotonic() + 5
    while "payments/pay-c" not in _ejected(client):
        assert time.monotonic() < deadline, "pay-c was never ejected"
        time.sleep(0.05)
    ejected_at = time.time()
    mesh.start("payments", reuse=c, wait=True)  # healthy again, on the same address
    time.sleep(BASE_EJECTION + 1.5)
    run = load.stop()

    total = len(run.replies) + len(run.errors)
    failed = len(run.errors) + sum(1 for r in run.replies if r.status != 200)
    by_instance: list[tuple[float, str]] = [
        (r.started, json.loads(r.body)["instance"]) for r in run.replies if r.status == 200
    ]
    t0 = time.perf_counter() - time.time()  # map wall-clock moments onto perf_counter
    during = {i for t, i in by_instance if ejected_at + t0 + 0.2 < t < ejected_at + t0 + BASE_EJECTION - 0.5}
    after = {i for t, i in by_instance if t > ejected_at + t0 + BASE_EJECTION + 0.2}
    print(
        f"lose 1 of 3: {total} requests, {failed} failed ({100 * failed / total:.3f}%), "
        f"ejected {ejected_at - killed_at:.2f}s after the kill; served while ejected by {sorted(during)}, "
        f"after baseEjectionTime by {sorted(after)}"
    )
    assert failed / total <= 0.001
    assert "pay-c" not in during
    assert "pay-c" in after


def test_sigterm_drains_in_flight_and_leaves_the_registry(mesh: Mesh) -> None:
    from portico.adapters.dynamodb.registry_store import DynamoDbRegistryStore

    mesh.config(RESILIENT)
    server = mesh.start("payments", name="pay-drain")
    client = mesh.start("orders", app=False)
    mesh.wait_for(client, "payments", 1)
    store = DynamoDbRegistryStore(mesh.env["PORTICO_REGISTRY_TABLE"])
    assert [i.instance_id for i in store.instances("payments")] == ["pay-drain"]

    load = Background(client.outbound, path="/slow?ms=1500", connections=5, duration=1.0)
    time.sleep(0.5)  # five requests are now in flight at the app
    assert server.sidecar is not None
    server.sidecar.send_signal(signal.SIGTERM)
    run = load.stop()
    code = server.sidecar.wait(10)

    assert run.statuses() == {200: 5} and not run.errors
    assert code == 0
    assert store.instances("payments") == []
    with pytest.raises(OSError):
        import socket

        socket.create_connection(("127.0.0.1", server.inbound), timeout=1).close()
    print("drain: 5 in-flight requests completed with 200, registry entry removed, exit code 0")
