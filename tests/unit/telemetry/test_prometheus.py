"""Prometheus text: what the registry renders parses back; histograms are cumulative; quantiles interpolate."""

from __future__ import annotations

import pytest

from portico.core.telemetry.prometheus import ParseError, Registry, parse, quantile


def test_render_parses_back_with_escaped_labels() -> None:
    reg = Registry()
    reg.describe("portico_requests_total", "Requests by source, destination and code.")
    labels = (("source", 'we"ird\\svc\nx'), ("destination", "payments"), ("response_code", "200"))
    reg.inc("portico_requests_total", labels, 3)
    reg.gauge("portico_cert_expiry_seconds", lambda: [((), 86400.5)])
    text = reg.render()
    assert "# HELP portico_requests_total Requests by source" in text
    assert "# TYPE portico_cert_expiry_seconds gauge" in text
    samples = {s.name: s for s in parse(text)}
    assert samples["portico_requests_total"].labels == dict(labels)
    assert samples["portico_requests_total"].value == 3
    assert samples["portico_cert_expiry_seconds"].value == 86400.5


def test_histogram_buckets_are_cumulative_with_sum_and_count() -> None:
    reg = Registry()
    reg.histogram("d_ms", [1, 5, 10])
    for value in (0.5, 1, 3, 7, 50):
        reg.observe("d_ms", (("k", "v"),), value)
    buckets = {s.labels["le"]: s.value for s in parse(reg.render()) if s.name == "d_ms_bucket"}
    assert buckets == {"1": 2, "5": 3, "10": 4, "+Inf": 5}
    rendered = {s.name: s.value for s in parse(reg.render()) if s.name in ("d_ms_sum", "d_ms_count")}
    assert rendered == {"d_ms_sum": 61.5, "d_ms_count": 5}
    with pytest.raises(KeyError):
        reg.observe("undeclared", (), 1)
    with pytest.raises(ValueError):
        reg.histogram("bad", [5, 1])


def test_quantile_interpolates_like_prometheus() -> None:
    cumulative = [(10.0, 50.0), (20.0, 100.0), (float("inf"), 100.0)]
    assert quantile(0.5, cumulative) == pytest.approx(10.0)
    assert quantile(0.75, cumulative) == pytest.approx(15.0)
    assert quantile(0.99, [(10.0, 0.0), (float("inf"), 4.0)]) == 10.0  # rank in +Inf: highest finite bound
    assert quantile(0.99, [(10.0, 0.0), (float("inf"), 0.0)]) is None


@pytest.mark.parametrize("line", ["metric{a=b} 1", "metric 1 2 3", '{a="b"} 1', 'metric{a="b"} one'])
def test_malformed_lines_raise(line: str) -> None:
    with pytest.raises(ParseError):
        parse(line)
