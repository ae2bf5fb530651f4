"""Acceptance 3: EMF output passes the specification's schema; many distinct paths keep dimension values bounded."""

from __future__ import annotations

import json

import pytest
from emf_validator import emf_errors
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from obskit import Captured, FakeUpstream, ManualClock, build_edge, event

from portico.core.telemetry.emf import EmfAggregator, EmfError, document

ROUTES = """
apiVersion: portico/v1
kind: Route
metadata: {name: items-get}
spec:
  match: {methods: [GET], path: "/items/{id}"}
  auth: {none: {}}
  upstream: {mock: {status: 200, json: {ok: true}}}
---
apiVersion: portico/v1
kind: Route
metadata: {name: orders}
spec:
  match: {pathPrefix: /orders}
  auth: {none: {}}
  upstream: {http: {url: "http://127.0.0.1:9/orders", timeout: 2s}}
"""


def run(paths: list[tuple[str, str]], status: int = 200) -> Captured:
    captured, clock = Captured(), ManualClock()
    edge = build_edge(ROUTES, captured, clock, FakeUpstream(clock, status=status, delay=0.02))
    try:
        for method, path in paths:
            edge.handle(event(path, method))
    finally:
        edge.close()
    return captured


def test_every_edge_emf_line_passes_the_specification() -> None:
    mix = [("GET", "/items/1"), ("GET", "/nothing/here"), ("POST", "/items/1"), ("GET", "/orders/7"), ("GET", "/%zz")]
    captured = run(mix, status=503)
    assert len(captured.metrics) == len(mix)
    for doc in captured.metrics:
        line = json.dumps(doc)
        assert emf_errors(line) == [], line
    by_route = {(d["route"], d["5xx"], d["4xx"]) for d in captured.metrics}
    assert ("orders", 1, 0) in by_route  # the upstream's 503 counted as a 5xx under its route
    assert ("unmatched", 0, 1) in by_route
    orders = next(d for d in captured.metrics if d["route"] == "orders")
    assert orders["UpstreamLatency"] == pytest.approx(20.0)
    assert orders["_aws"]["CloudWatchMetrics"][0]["Dimensions"] == [["API", "route"], ["API"]]


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.text(alphabet="abcxyz0123456789/-._~%", min_size=1, max_size=30), min_size=5, max_size=30))
def test_many_distinct_paths_give_a_bounded_set_of_dimension_values(suffixes: list[str]) -> None:
    paths = [("GET", "/" + s) for s in suffixes] + [("GET", "/items/" + s) for s in suffixes]
    captured = run(paths)
    routes = {d["route"] for d in captured.metrics}
    assert routes <= {"items-get", "orders", "unmatched"}
    assert {d["API"] for d in captured.metrics} == {"shop"}


def test_the_validator_rejects_what_the_specification_forbids() -> None:
    good = document("Ns", {"API": "a"}, {"Requests": 1}, {"Requests": "Count"}, 1_700_000_000_000)
    assert emf_errors(json.dumps(good)) == []
    broken = [
        {**good, "API": 3},  # a dimension value must be a string
        {k: v for k, v in good.items() if k != "Requests"},  # a metric with no target member
        {**good, "_aws": {**good["_aws"], "Extra": 1}},  # the metadata object takes no other members
        {**good, "_aws": {"CloudWatchMetrics": good["_aws"]["CloudWatchMetrics"]}},  # Timestamp is required
        {**good, "Requests": list(range(101))},  # at most 100 values per metric
    ]
    bad_unit = json.loads(json.dumps(good))
    bad_unit["_aws"]["CloudWatchMetrics"][0]["Metrics"][0]["Unit"] = "Requests"
    for doc in [*broken, bad_unit]:
        assert emf_errors(json.dumps(doc)), doc
    assert emf_errors("not json")


def test_document_refuses_what_cloudwatch_would_drop() -> None:
    with pytest.raises(EmfError):
        document("Ns", {f"d{i}": "x" for i in range(31)}, {"M": 1}, {"M": "Count"}, 0)
    with pytest.raises(EmfError):
        document("Ns", {"A": "x"}, {"M": 1}, {"M": "Requests"}, 0)
    with pytest.raises(EmfError):
        document("Ns", {"A": "x"}, {"M": 1}, {"M": "Count"}, 0, rollups=[["B"]])


def test_aggregator_splits_large_series_and_sums_counts() -> None:
    agg = EmfAggregator("Portico/Mesh", {"Requests": "Count", "Duration": "Milliseconds"})
    dims = (("source", "orders"), ("destination", "payments"))
    for i in range(250):
        agg.count(dims, "Requests")
        agg.sample(dims, "Duration", float(i))
    agg.count((("source", "orders"), ("destination", "stock")), "Requests", 3)
    docs = agg.flush(1_700_000_000_000)
    assert all(emf_errors(json.dumps(d)) == [] for d in docs)
    payments = [d for d in docs if d["destination"] == "payments"]
    assert [len(d["Duration"]) for d in payments] == [100, 100, 50]
    assert sum(d.get("Requests", 0) for d in payments) == 250
    assert agg.flush(1_700_000_000_000) == []  # a flush starts the next period empty
    with pytest.raises(EmfError):
        agg.count(dims, "Undeclared")
