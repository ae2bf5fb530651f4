"""Sidecar telemetry (acceptance 2 at unit level): a scripted mix of 200, 503 and retried requests moves the
Istio-like counters and the duration histogram as expected, with one access-log line per request and the trace
continued across hops."""

from __future__ import annotations

import asyncio
import contextlib
import json
import random
from typing import Any

from emf_validator import emf_errors
from obskit import ManualClock

from portico.core.chain import Context, build_chain
from portico.core.headers import Headers
from portico.core.http import Request, Response
from portico.core.telemetry.prometheus import parse
from portico.mesh.telemetry import DURATION, REQUESTS, MeshTelemetry, TelemetryFilter, service_of_spiffe

INCOMING = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"


def outbound(tel: MeshTelemetry, clock: ManualClock, status: int, ms: float, attempts: int = 1) -> Request:
    async def dispatch(ctx: Context) -> Response:
        ctx.attrs["service"] = "payments"
        ctx.request.headers.set("x-portico-attempt-count", str(attempts))
        clock.advance(ms / 1000)
        return Response(status)

    req = Request("GET", "/charge", headers=Headers([("traceparent", INCOMING)]), host="payments")
    asyncio.run(build_chain([TelemetryFilter(tel, "source")], dispatch)(Context(req, now=clock.now())))
    return req


def metrics(tel: MeshTelemetry) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    return {(s.name, tuple(sorted(s.labels.items()))): s.value for s in parse(tel.registry.render())}


def test_scripted_mix_moves_counters_and_histogram() -> None:
    clock, lines = ManualClock(), []
    tel = MeshTelemetry("orders", clock, random.Random(3).randbytes, access_log=lines.append)
    for _ in range(5):
        outbound(tel, clock, 200, 3)
    for _ in range(2):
        outbound(tel, clock, 503, 30)
    outbound(tel, clock, 200, 70, attempts=3)  # succeeded on the third try
    seen = metrics(tel)
    peers = (("destination", "payments"), ("reporter", "source"), ("source", "orders"))
    assert seen[REQUESTS, tuple(sorted((*peers, ("response_code", "200"))))] == 6
    assert seen[REQUESTS, tuple(sorted((*peers, ("response_code", "503"))))] == 2
    assert seen[DURATION + "_count", peers] == 8
    assert seen[DURATION + "_bucket", tuple(sorted((*peers, ("le", "5"))))] == 5
    assert seen[DURATION + "_bucket", tuple(sorted((*peers, ("le", "50"))))] == 7
    assert seen[DURATION + "_bucket", tuple(sorted((*peers, ("le", "+Inf"))))] == 8
    assert len(lines) == 8 and [line["attempts"] for line in lines][-1] == 3
    assert {line["trace_id"] for line in lines} == {"4bf92f3577b34da6a3ce929d0e0e4736"}


def test_the_next_hop_sees_this_hops_span_as_parent() -> None:
    clock, lines = ManualClock(), []
    tel = MeshTelemetry("orders", clock, random.Random(4).randbytes, access_log=lines.append)
    forwarded = outbound(tel, clock, 200, 1)
    sent = forwarded.headers.get("traceparent") or ""
    assert sent.split("-")[1] == "4bf92f3577b34da6a3ce929d0e0e4736"
    assert sent.split("-")[2] == lines[0]["span_id"] and lines[0]["parent_span_id"] == "00f067aa0ba902b7"


def test_inbound_names_the_verified_caller_and_counts_failures_as_500() -> None:
    clock = ManualClock()
    tel = MeshTelemetry("payments", clock, random.Random(5).randbytes)

    async def crash(ctx: Context) -> Response:
        ctx.attrs["peer"] = "spiffe://portico.local/ns/default/sa/orders"
        raise ConnectionResetError

    chain = build_chain([TelemetryFilter(tel, "destination")], crash)
    with contextlib.suppress(ConnectionResetError):
        asyncio.run(chain(Context(Request("GET", "/charge"), now=clock.now())))
    key = (("destination", "payments"), ("reporter", "destination"), ("response_code", "500"), ("source", "orders"))
    assert metrics(tel)[REQUESTS, key] == 1
    assert service_of_spiffe(None) == "unknown"


def test_emf_option_flushes_valid_documents() -> None:
    clock, written = ManualClock(), []
    tel = MeshTelemetry("orders", clock, random.Random(6).randbytes, emf_namespace="Portico/Mesh")
    for status in (200, 200, 503):
        outbound(tel, clock, status, 4)
    assert tel.flush_emf(written.append) == 1
    assert emf_errors(written[0]) == []
    doc: dict[str, Any] = json.loads(written[0])
    assert (doc["Requests"], doc["5xx"], len(doc["Duration"])) == (3, 1, 3)
    assert tel.flush_emf(written.append) == 0


def test_peer_labels_are_bounded() -> None:
    tel = MeshTelemetry("orders", ManualClock(), random.Random(1).randbytes)
    labels = {tel.peer_label(f"host-{i}") for i in range(2000)}
    assert len(labels) == 501 and "other" in labels
