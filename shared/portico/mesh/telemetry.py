"""The sidecar's telemetry: an outermost filter per listener giving one JSON access-log line per request,
Istio-like Prometheus metrics, an optional EMF flush, W3C trace propagation and per-hop timing.

Wiring (in root.py, the sidecar's composition root, one line per chain): `TelemetryFilter(telemetry, "source")`
first in the outbound chain, `TelemetryFilter(telemetry, "destination")` first in the inbound chain; admin /stats
renders `telemetry.registry`.
It reads what the mesh filters leave in ctx.attrs: "service" (the outbound destination) and "peer" (the caller's
verified SPIFFE id on the inbound side).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any, Literal

from portico.core.chain import Context, Handler
from portico.core.http import Response
from portico.core.ports import Clock
from portico.core.telemetry.emf import EmfAggregator
from portico.core.telemetry.prometheus import DURATION_BUCKETS_MS, Labels, Registry
from portico.core.telemetry.traceparent import Rng, continue_or_start
from portico.mesh.attrs import PEER, SERVICE, TRACE

REQUESTS = "portico_requests_total"
DURATION = "portico_request_duration_milliseconds"
MAX_PEERS = 500  # distinct source/destination label values kept; more become "other" (an app may send any Host)

Reporter = Literal["source", "destination"]
LogSink = Callable[[dict[str, Any]], None]

EMF_UNITS = {"Requests": "Count", "5xx": "Count", "Duration": "Milliseconds"}

HELP = {
    REQUESTS: "Requests by reporter (source: outbound side, destination: inbound side), peers and response code.",
    DURATION: "Request duration in milliseconds as seen by the reporting sidecar.",
    "portico_upstream_retries_total": "Retries the outbound side made, per destination service and subset.",
    "portico_outlier_ejections_total": "Hosts ejected by outlier detection, per destination service and subset.",
    "portico_upstream_overflow_total": "Requests refused because a circuit breaker limit was reached (circuit open).",
    "portico_tls_handshakes_total": "TLS handshakes by listener (inbound, outbound) and result (ok, failed, rejected).",
    "portico_cert_expiry_seconds": "Seconds until this sidecar's certificate expires.",
    "portico_authz_dry_run_total": "What istio.io/dry-run AuthorizationPolicies would have decided (not enforced).",
}


def service_of_spiffe(peer: str | None) -> str:
    """spiffe://<trust-domain>/ns/<namespace>/sa/<service> -> <service>; "unknown" without a verified peer."""
    if not peer or "/sa/" not in peer:
        return "unknown"
    return peer.rsplit("/sa/", 1)[1] or "unknown"


class MeshTelemetry:
    """One per sidecar: the metrics registry, the EMF aggregator (when enabled) and the access-log sink."""

    def __init__(
        self,
        service: str,
        clock: Clock,
        rng: Rng,
        *,
        registry: Registry | None = None,
        access_log: LogSink | None = None,
        emf_namespace: str | None = None,
    ) -> None:
        self.service = service
        self.clock = clock
        self.rng = rng
        self.registry = registry or Registry()
        self.access_log = access_log
        self.emf = EmfAggregator(emf_namespace, EMF_UNITS) if emf_namespace else None
        for name, text in HELP.items():
            self.registry.describe(name, text)
        self.registry.histogram(DURATION, DURATION_BUCKETS_MS, HELP[DURATION])
        self._peers: set[str] = set()

    def peer_label(self, name: str) -> str:
        if name in self._peers:
            return name
        if len(self._peers) >= MAX_PEERS:
            return "other"
        self._peers.add(name)
        return name

    def record(self, reporter: Reporter, source: str, destination: str, status: int, elapsed_ms: float) -> None:
        peers: Labels = (("reporter", reporter), ("source", source), ("destination", destination))
        self.registry.inc(REQUESTS, (*peers, ("response_code", str(status))))
        self.registry.observe(DURATION, peers, elapsed_ms)
        if self.emf is not None:
            dims = (("Reporter", reporter), ("Source", source), ("Destination", destination))
            self.emf.count(dims, "Requests")
            self.emf.count(dims, "5xx", 1 if status >= 500 else 0)
            self.emf.sample(dims, "Duration", round(elapsed_ms, 3))

    def flush_emf(self, write: Callable[[str], None]) -> int:
        """Write the period's EMF documents as JSON lines; returns how many (the sidecar calls this periodically)."""
        if self.emf is None:
            return 0
        docs = self.emf.flush(int(self.clock.now() * 1000))
        for doc in docs:
            write(json.dumps(doc, separators=(",", ":")))
        return len(docs)


class TelemetryFilter:
    """Outermost on a listener: continues the caller's trace with a span for this hop, times it, records it."""

    def __init__(self, telemetry: MeshTelemetry, reporter: Reporter) -> None:
        self._t = telemetry
        self._reporter = reporter

    async def __call__(self, ctx: Context, next: Handler) -> Response:
        t = self._t
        started = t.clock.monotonic()
        incoming = ctx.request.headers
        trace = continue_or_start(incoming.get("traceparent"), incoming.get("tracestate"), None, t.rng)
        ctx.attrs[TRACE] = trace
        incoming.set("traceparent", trace.traceparent)  # the next hop sees this sidecar's span as its parent
        response: Response | None = None
        try:
            response = await next(ctx)
            return response
        finally:
            elapsed_ms = (t.clock.monotonic() - started) * 1000
            status = response.status if response is not None else 500
            if self._reporter == "source":
                source, destination = t.service, t.peer_label(str(ctx.attrs.get(SERVICE) or "unknown"))
            else:
                source, destination = t.peer_label(service_of_spiffe(ctx.attrs.get(PEER))), t.service
            t.record(self._reporter, source, destination, status, elapsed_ms)
            if t.access_log is not None:
                # later filters may replace the header object (hygiene); the dispatcher stamps the attempt count
                headers = ctx.request.headers
                t.access_log(
                    {
                        "message": "request",
                        "timestamp": ctx.now,
                        "reporter": self._reporter,
                        "source": source,
                        "destination": destination,
                        "method": ctx.request.method,
                        "authority": ctx.request.host or headers.get("host"),
                        "path": ctx.request.path,
                        "status": status,
                        "duration_ms": round(elapsed_ms, 3),
                        "attempts": _attempts(headers.get("x-portico-attempt-count")),
                        "trace_id": trace.trace_id,
                        "span_id": trace.span_id,
                        "parent_span_id": trace.parent_id,
                        "request_id": headers.get("x-request-id"),
                    }
                )


def _attempts(raw: str | None) -> int | None:
    """Tries the outbound dispatcher made (it stamps the request it forwards), or the caller's on the inbound side."""
    return int(raw) if raw and raw.isdigit() else None
