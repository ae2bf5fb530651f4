"""The service graph from two scrapes: rps from the delta, error rate from 5xx and failures, p99 from buckets."""

from __future__ import annotations

import pytest

from portico.core.telemetry.graph import DURATION, REQUESTS, build_graph, to_mermaid
from portico.core.telemetry.prometheus import DURATION_BUCKETS_MS, Registry, Sample, parse
from portico.core.telemetry.svg import to_svg


def sidecar() -> Registry:
    reg = Registry()
    reg.histogram(DURATION, DURATION_BUCKETS_MS)
    return reg


def call(reg: Registry, reporter: str, src: str, dst: str, code: int, ms: float, n: int = 1) -> None:
    for _ in range(n):
        reg.inc(REQUESTS, (("reporter", reporter), ("source", src), ("destination", dst), ("response_code", str(code))))
        reg.observe(DURATION, (("reporter", reporter), ("source", src), ("destination", dst)), ms)


def scrape(*regs: Registry) -> list[Sample]:
    return [s for r in regs for s in parse(r.render())]


def test_edges_carry_rps_error_rate_and_p99() -> None:
    orders, payments = sidecar(), sidecar()
    call(orders, "source", "orders", "payments", 200, 3, n=10)
    call(payments, "destination", "orders", "payments", 200, 2, n=10)  # the same calls, seen at the far end
    call(payments, "destination", "unknown", "orders", 200, 8, n=2)
    before = scrape(orders, payments)
    call(orders, "source", "orders", "payments", 200, 3, n=90)
    call(orders, "source", "orders", "payments", 503, 40, n=10)
    after = scrape(orders, payments)
    edges = {(e.source, e.destination): e for e in build_graph(before, after, interval=10.0)}
    op = edges["orders", "payments"]
    assert op.rps == pytest.approx(10.0)  # 100 new calls in 10 s, counted once (the source's report wins)
    assert op.error_rate == pytest.approx(0.10)
    assert op.p99_ms is not None and 25 < op.p99_ms <= 50  # the slow 10% sit in the (25, 50] bucket
    idle = edges["unknown", "orders"]  # reported only by the destination; idle in the window: totals shown
    assert (idle.window, idle.rps, idle.requests) == ("total", 0.0, 2)


def test_a_restarted_sidecar_counts_from_zero() -> None:
    old, new = sidecar(), sidecar()
    call(old, "source", "a", "b", 200, 1, n=50)
    call(new, "source", "a", "b", 200, 1, n=5)
    [edge] = build_graph(scrape(old), scrape(new), interval=5.0)
    assert edge.rps == pytest.approx(1.0)


def test_mermaid_and_svg_name_every_edge() -> None:
    reg = sidecar()
    call(reg, "source", "orders", "payments", 200, 3, n=4)
    call(reg, "source", "payments", "ledger", 500, 3, n=4)
    edges = build_graph([], scrape(reg), interval=1.0)
    mermaid = to_mermaid(edges)
    assert mermaid.startswith("flowchart LR")
    assert mermaid.count("-->") == 2 and '"orders"' in mermaid and "100.0% err" in mermaid
    svg = to_svg(edges)
    assert svg.count('class="edge"') == 2 and svg.count('class="node"') == 3
    assert "<svg" in svg and "ledger" in svg


def test_svg_leaves_room_between_boxes_for_the_longest_label() -> None:
    import re

    from portico.core.telemetry.graph import GraphEdge, edge_label
    from portico.core.telemetry.svg import to_svg

    edges = [
        GraphEdge("edge", "orders", 12, 1234.5, 0.123, 9876.5, "interval"),
        GraphEdge("orders", "payments", 12, 1.0, 0.0, 1.0, "interval"),
    ]
    svg = to_svg(edges)
    boxes = sorted(float(x) for x in re.findall(r'<rect x="([\d.]+)"', svg))
    widths = [float(w) for w in re.findall(r'<rect x="[\d.]+" y="[\d.]+" width="([\d.]+)"', svg)]
    free = boxes[1] - (boxes[0] + widths[0])
    assert free >= len(max((edge_label(e) for e in edges), key=len)) * 7


def test_opaque_tcp_streams_make_edges_with_connections_and_bytes() -> None:
    web, db = sidecar(), sidecar()
    labels = (("reporter", "source"), ("source", "web"), ("destination", "db"))
    before = scrape(web, db)
    web.inc("portico_tcp_connections_opened_total", labels, 4)
    web.inc("portico_tcp_sent_bytes_total", labels, 30_000)
    web.inc("portico_tcp_received_bytes_total", labels, 20_000)
    db.inc(
        "portico_tcp_connections_opened_total",
        (("reporter", "destination"), ("source", "web"), ("destination", "db")),
        4,
    )
    [edge] = build_graph(before, scrape(web, db), interval=10.0)
    assert (edge.source, edge.destination, edge.tcp_connections, edge.requests) == ("web", "db", 4, 0)
    assert edge.tcp_bytes_per_s == pytest.approx(5_000)
    assert "4 tcp conn, 5.0 kB/s" in to_mermaid([edge])
