"""gRPC outcomes in the one engine: Istio's gRPC retryOn names, the replay limit, outlier counting by grpc-status."""

from __future__ import annotations

import random

import pytest

from portico.core.mesh.outlier import OutlierSettings
from portico.core.mesh.policy import ClusterPolicy
from portico.core.mesh.registry import Instance
from portico.core.upstream.call import Finish, Send, UpstreamCall
from portico.core.upstream.cluster import ClusterState
from portico.core.upstream.retry import ISTIO_DEFAULT, RetryOn, RetryRule, retriable

HOSTS = [Instance("svc", f"i{n}", f"10.0.0.{n}", 15443) for n in range(3)]
UNAVAILABLE, INTERNAL, NOT_FOUND = 14, 13, 5


def _call() -> UpstreamCall:
    rule = RetryRule(attempts=2, backoff=0.0)
    return UpstreamCall(rule, "POST", ClusterState(ClusterPolicy("svc", None)), HOSTS, random.Random(3))


@pytest.mark.parametrize(
    ("name", "code"),
    [("cancelled", 1), ("deadline-exceeded", 4), ("resource-exhausted", 8), ("internal", 13), ("unavailable", 14)],
)
def test_each_istio_grpc_name_retries_its_status_only(name: str, code: int) -> None:
    on = RetryOn.parse(name)
    assert on.matches(200, None, code)
    assert not any(on.matches(200, None, other) for other in range(17) if other != code)
    assert not on.matches(503, None)  # the names never match an HTTP outcome


def test_grpc_conditions_retry_post_while_http_conditions_keep_the_method_rule() -> None:
    rule = RetryRule(attempts=2, retry_on=RetryOn.parse("unavailable,5xx"))
    assert retriable(rule, "POST", 1, 200, None, UNAVAILABLE)
    assert not retriable(rule, "POST", 1, 503, None)  # an HTTP/1 POST is still not repeated
    assert not retriable(rule, "POST", 1, 200, None, NOT_FOUND)
    assert not retriable(rule, "POST", 3, 200, None, UNAVAILABLE)  # attempts are still counted
    assert retriable(RetryRule(), "POST", 1, 200, None, UNAVAILABLE)  # Istio's default includes unavailable
    assert "unavailable" in ISTIO_DEFAULT.conditions


def test_unavailable_goes_to_another_host_and_ok_ends_the_call() -> None:
    call = UpstreamCall(
        RetryRule(attempts=2, backoff=0.0), "POST", ClusterState(ClusterPolicy("svc", None)), HOSTS, random.Random(3)
    )
    first = call.start(0.0)
    assert isinstance(first, Send)
    second = call.outcome(first, 200, None, 0.1, grpc_status=UNAVAILABLE)
    assert isinstance(second, Send) and second.retry and second.instance.key != first.instance.key
    assert call.outcome(second, 200, None, 0.2, grpc_status=0) == Finish("answered", 200, None)
    call.close()


def test_a_body_past_the_replay_buffer_makes_the_outcome_final() -> None:
    call = UpstreamCall(
        RetryRule(attempts=2, backoff=0.0), "POST", ClusterState(ClusterPolicy("svc", None)), HOSTS, random.Random(3)
    )
    first = call.start(0.0)
    assert isinstance(first, Send)
    assert call.outcome(first, 200, None, 0.1, grpc_status=UNAVAILABLE, replayable=False) == Finish(
        "answered", 200, None
    )
    call.close()


def test_outlier_detection_counts_grpc_failures_as_their_http_status() -> None:
    policy = ClusterPolicy("svc", None, outlier=OutlierSettings(consecutive_5xx=2, max_ejection_percent=100))
    state = ClusterState(policy)
    ejected = []
    for code in (INTERNAL, UNAVAILABLE):
        call = UpstreamCall(RetryRule(attempts=0), "POST", state, HOSTS[:1], random.Random(1))
        sent = call.start(1.0)
        assert isinstance(sent, Send)
        call.outcome(sent, 200, None, 1.0, grpc_status=code)
        ejected.append(call.ejected)
        call.close()
    assert ejected == [None, HOSTS[0]]  # INTERNAL (500) then UNAVAILABLE (503): two consecutive 5xx
