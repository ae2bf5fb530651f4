"""Observability acceptance 2 with real sidecars over mTLS: /stats counters and histograms follow a scripted mix
of 200s, 503s and retried requests, on both the source and the destination side, with one access-log line each."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable

import pytest

from localdev.bench.loadgen import Connection
from portico.core.telemetry.prometheus import Sample, parse
from tests.e2e.mesh.conftest import Instance, Mesh

pytestmark = pytest.mark.e2e

# GETs are retried twice on 503; POSTs are not idempotent, so they are tried once.
CONFIG = """
apiVersion: networking.istio.io/v1beta1
kind: VirtualService
metadata: {name: payments}
spec:
  hosts: [payments]
  http:
    - retries: {attempts: 2, retryOn: "retriable-status-codes,503"}
      route: [{destination: {host: payments}}]
"""


def _samples(inst: Instance) -> list[Sample]:
    return parse(inst.stats())


def _value(samples: list[Sample], name: str, **labels: str) -> float:
    return sum(s.value for s in samples if s.name == name and all(s.labels.get(k) == v for k, v in labels.items()))


def _access_lines(mesh: Mesh, inst: Instance) -> list[dict[str, object]]:
    return [json.loads(line) for line in mesh.log(inst).splitlines() if line.startswith('{"message":"request"')]


def test_stats_follow_a_scripted_mix_of_200_503_and_retried_requests(mesh: Mesh) -> None:
    mesh.config(CONFIG)
    payments = mesh.start("payments")
    client = mesh.start("orders", app=False)
    mesh.wait_for(client, "payments", 1)  # probes /healthz through the sidecar: counted too, so take a baseline
    before_src, before_dst = _samples(client), _samples(payments)

    async def script() -> list[int]:
        conn = Connection("127.0.0.1", client.outbound)
        try:
            plan = [("GET", "/status/200")] * 5 + [("POST", "/status/503")] * 3 + [("GET", "/status/503")] * 2
            return [(await conn.request(method, path, "payments")).status for method, path in plan]
        finally:
            conn.close()

    assert asyncio.run(script()) == [200] * 5 + [503] * 5
    src, dst = _samples(client), _samples(payments)

    def delta(after: list[Sample], before: list[Sample], name: str, **labels: str) -> float:
        return _value(after, name, **labels) - _value(before, name, **labels)

    peers = {"source": "orders", "destination": "payments"}
    # the source side counts what the app got back: one per request, retries inside
    assert delta(src, before_src, "portico_requests_total", reporter="source", response_code="200", **peers) == 5
    assert delta(src, before_src, "portico_requests_total", reporter="source", response_code="503", **peers) == 5
    assert delta(src, before_src, "portico_request_duration_milliseconds_count", reporter="source", **peers) == 10
    inf = delta(src, before_src, "portico_request_duration_milliseconds_bucket", reporter="source", le="+Inf", **peers)
    assert inf == 10  # cumulative buckets end at the count
    assert delta(src, before_src, "portico_request_duration_milliseconds_sum", reporter="source", **peers) > 0
    assert delta(src, before_src, "portico_upstream_retries_total", service="payments") == 4  # 2 GETs x 2 retries
    # the destination side sees every attempt, and names the caller from its verified SPIFFE id
    assert delta(dst, before_dst, "portico_requests_total", reporter="destination", response_code="200", **peers) == 5
    assert delta(dst, before_dst, "portico_requests_total", reporter="destination", response_code="503", **peers) == 9
    assert delta(dst, before_dst, "portico_request_duration_milliseconds_count", reporter="destination", **peers) == 14
    # mTLS handshakes are counted on both ends, and the certificate expiry is a gauge
    assert _value(src, "portico_tls_handshakes_total", listener="outbound", result="ok") >= 1
    assert _value(dst, "portico_tls_handshakes_total", listener="inbound", result="ok") >= 1
    assert 0 < _value(dst, "portico_cert_expiry_seconds") <= 25 * 3600

    # one JSON access-log line per request on each side, with the attempts the source side made
    lines = [x for x in _access_lines(mesh, client) if str(x["path"]).startswith("/status/")]
    assert len(lines) == 10
    retried = [x for x in lines if x["method"] == "GET" and x["status"] == 503]
    assert [x["attempts"] for x in retried] == [3, 3]
    assert len([x for x in _access_lines(mesh, payments) if str(x["path"]).startswith("/status/")]) == 14


def test_a_failed_inbound_handshake_is_counted(mesh: Mesh) -> None:
    """A client certificate-less TLS client is refused in the handshake, and the refusal shows in /stats."""
    import socket
    import ssl

    mesh.config(CONFIG)
    payments = mesh.start("payments")
    ctx = ssl.create_default_context()
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    for _ in range(2):
        with socket.create_connection(("127.0.0.1", payments.inbound), timeout=5) as raw:
            try:
                with ctx.wrap_socket(raw) as tls:
                    tls.sendall(b"GET /status/200 HTTP/1.1\r\nHost: payments\r\n\r\n")
                    tls.recv(100)  # TLS 1.3: the refusal of a missing certificate arrives after the client's Finished
            except (ssl.SSLError, OSError):
                pass
    failed = asyncio.run(_poll(lambda: _value(_samples(payments), "portico_tls_handshakes_total", result="failed")))
    assert failed >= 2
    assert _value(_samples(payments), "portico_requests_total", reporter="destination") == 0


async def _poll(read: Callable[[], float], want: float = 2, timeout: float = 5.0) -> float:
    loop = asyncio.get_running_loop()
    end = loop.time() + timeout
    value = 0.0
    while loop.time() < end:
        value = float(read())
        if value >= want:
            break
        await asyncio.sleep(0.1)
    return value
