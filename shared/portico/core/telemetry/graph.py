"""The service dependency graph from sidecars' /stats: one edge per (source, destination) with rps, errors and p99.

Pure: the caller scrapes every sidecar twice, `interval` seconds apart, and hands both parses in.
A call is counted by the source's sidecar (reporter="source"); calls that no source sidecar saw (from the edge or
a client outside the mesh) are taken from the destination's sidecar (reporter="destination"), as Kiali does.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass

from portico.core.telemetry.prometheus import Sample, quantile

REQUESTS = "portico_requests_total"
DURATION = "portico_request_duration_milliseconds"
# opaque TCP streams (docs/mesh-protocols.md): an edge is drawn for them too, with connections and bytes
TCP_OPENED = "portico_tcp_connections_opened_total"
TCP_BYTES = ("portico_tcp_sent_bytes_total", "portico_tcp_received_bytes_total")

Pair = tuple[str, str]


@dataclass(frozen=True, slots=True)
class GraphEdge:
    source: str
    destination: str
    requests: float  # in the window (or in total when the window saw none)
    rps: float
    error_rate: float  # share of 5xx and failed (code 0) answers
    p99_ms: float | None
    window: str  # "interval" when measured between the scrapes, "total" when the window was idle
    tcp_connections: float = 0.0  # opaque TCP streams opened (in the window, or in total as `window` says)
    tcp_bytes_per_s: float = 0.0  # both directions, between the scrapes


@dataclass(slots=True)
class _Counts:
    requests: float = 0.0
    errors: float = 0.0
    buckets: dict[float, float] | None = None
    tcp_connections: float = 0.0
    tcp_bytes: float = 0.0

    def add_bucket(self, le: float, count: float) -> None:
        if self.buckets is None:
            self.buckets = defaultdict(float)
        self.buckets[le] += count


def _is_error(code: str) -> bool:
    return code == "0" or code.startswith("5")


def _collect(samples: Iterable[Sample]) -> dict[str, dict[Pair, _Counts]]:
    """Counts per reporter per (source, destination), summed over sidecars and response codes."""
    out: dict[str, dict[Pair, _Counts]] = defaultdict(lambda: defaultdict(_Counts))
    for s in samples:
        pair = (s.label("source", "unknown") or "unknown", s.label("destination", "unknown") or "unknown")
        reporter = s.label("reporter", "source")
        if s.name == REQUESTS:
            counts = out[reporter][pair]
            counts.requests += s.value
            if _is_error(s.label("response_code")):
                counts.errors += s.value
        elif s.name == DURATION + "_bucket":
            out[reporter][pair].add_bucket(float(s.label("le", "+Inf").replace("Inf", "inf")), s.value)
        elif s.name == TCP_OPENED:
            out[reporter][pair].tcp_connections += s.value
        elif s.name in TCP_BYTES:
            out[reporter][pair].tcp_bytes += s.value
    return out


def _pick(by_reporter: dict[str, dict[Pair, _Counts]]) -> dict[Pair, _Counts]:
    chosen = dict(by_reporter.get("source", {}))
    for pair, counts in by_reporter.get("destination", {}).items():
        chosen.setdefault(pair, counts)
    return chosen


def build_graph(before: Iterable[Sample], after: Iterable[Sample], interval: float) -> list[GraphEdge]:
    """Edges from two scrapes of all sidecars; a counter that went down (sidecar restart) counts from zero."""
    first, last = _pick(_collect(before)), _pick(_collect(after))
    edges = []
    for pair in sorted(last):
        now, then = last[pair], first.get(pair, _Counts())
        delta_requests = _delta(now.requests, then.requests)
        delta_conns = _delta(now.tcp_connections, then.tcp_connections)
        tcp = delta_conns if delta_conns > 0 or delta_requests > 0 else now.tcp_connections
        tcp_rate = _delta(now.tcp_bytes, then.tcp_bytes) / interval if interval > 0 else 0.0
        if delta_requests > 0 or delta_conns > 0:
            requests, errors = delta_requests, _delta(now.errors, then.errors)
            buckets = {le: _delta(c, (then.buckets or {}).get(le, 0.0)) for le, c in (now.buckets or {}).items()}
            window = "interval"
        else:
            requests, errors, buckets, window = now.requests, now.errors, dict(now.buckets or {}), "total"
        edges.append(
            GraphEdge(
                source=pair[0],
                destination=pair[1],
                requests=requests,
                rps=delta_requests / interval if interval > 0 else 0.0,
                error_rate=errors / requests if requests else 0.0,
                p99_ms=quantile(0.99, list(buckets.items())),
                window=window,
                tcp_connections=tcp,
                tcp_bytes_per_s=tcp_rate,
            )
        )
    return edges


def _delta(now: float, then: float) -> float:
    return now - then if now >= then else now


def to_mermaid(edges: Iterable[GraphEdge]) -> str:
    """A mermaid flowchart: one labelled arrow per edge."""
    lines = ["flowchart LR"]
    ids: dict[str, str] = {}
    for edge in edges:
        for name in (edge.source, edge.destination):
            if name not in ids:
                ids[name] = f"n{len(ids)}"
                lines.append(f'    {ids[name]}["{_mermaid_text(name)}"]')
        lines.append(f'    {ids[edge.source]} -->|"{edge_label(edge)}"| {ids[edge.destination]}')
    return "\n".join(lines) + "\n"


def edge_label(edge: GraphEdge) -> str:
    p99 = f"{edge.p99_ms:.1f} ms" if edge.p99_ms is not None else "n/a"
    http = f"{edge.rps:.1f} rps, {edge.error_rate * 100:.1f}% err, p99 {p99}"
    if not edge.tcp_connections:
        return http
    tcp = f"{edge.tcp_connections:g} tcp conn, {edge.tcp_bytes_per_s / 1000:.1f} kB/s"
    return tcp if not edge.requests else f"{http}; {tcp}"


def _mermaid_text(name: str) -> str:
    return name.replace('"', "#quot;")
