"""Fault percentages, circuit limits, DestinationRule defaults and subset overrides."""

from __future__ import annotations

import random

from portico.core.config.configset import ConfigSet
from portico.core.config.istio_networking import HTTPFaultInjection
from portico.core.config.loader import parse_documents
from portico.core.mesh.circuit import CircuitBreaker, Limits
from portico.core.mesh.fault import decide
from portico.core.mesh.policy import PolicyTable


def test_abort_at_fifty_percent() -> None:
    fault = HTTPFaultInjection.model_validate({"abort": {"httpStatus": 503, "percentage": {"value": 50}}})
    rng = random.Random(11)
    aborted = sum(decide(fault, rng).abort_status == 503 for _ in range(2000))
    assert abs(aborted / 2000 - 0.5) <= 0.03


def test_delay_without_percentage_applies_to_every_request() -> None:
    fault = HTTPFaultInjection.model_validate({"delay": {"fixedDelay": "150ms"}})
    assert decide(fault, random.Random(0)).delay == 0.15


def test_breaker_refuses_past_limits_and_counts_overflow() -> None:
    cb = CircuitBreaker(Limits(max_requests=2, max_pending=1))
    assert cb.try_request() and cb.try_request() and not cb.try_request()
    assert cb.try_pending() and not cb.try_pending()
    cb.release_request()
    assert cb.try_request()
    assert cb.overflows == 2


DR = """
apiVersion: networking.istio.io/v1beta1
kind: DestinationRule
metadata: {name: payments}
spec:
  host: payments
  trafficPolicy:
    connectionPool: {tcp: {maxConnections: 10}, http: {http1MaxPendingRequests: 5, maxRetries: 7}}
    outlierDetection: {consecutive5xxErrors: 3, baseEjectionTime: 10s}
  subsets:
    - {name: v1, labels: {version: v1}}
    - name: v2
      labels: {version: v2}
      trafficPolicy: {loadBalancer: {simple: ROUND_ROBIN}}
"""


def test_destination_rule_compiles_with_defaults_and_subset_overrides() -> None:
    docs, issues = parse_documents(DR)
    assert not issues
    table = PolicyTable.build(ConfigSet.of(docs))
    v1, v2 = table.get("payments", "v1"), table.get("payments", "v2")
    assert v1 is not None and v2 is not None
    assert (v1.lb, v2.lb) == ("LEAST_REQUEST", "ROUND_ROBIN")
    assert v1.limits.max_connections == 10 and v1.limits.max_pending == 5 and v1.limits.max_retries == 7
    assert v1.limits.max_requests == 1024  # Envoy's default, kept so memory stays bounded
    assert v1.outlier is not None and v1.outlier.consecutive_5xx == 3 and v1.outlier.base_ejection_time == 10
    assert v1.outlier.interval == 10 and v1.outlier.max_ejection_percent == 10
    assert v2.labels == {"version": "v2"} and v2.limits.max_connections == 10  # inherited from the top level
    assert table.get("payments", "v9") is None
    assert table.get("ledger", None) is not None and table.get("ledger", None).outlier is None  # type: ignore[union-attr]
