"""The attempt state machine alone: no I/O, time passed in, outcomes fed by hand (as a driver would)."""

from __future__ import annotations

import random

from hypothesis import given, settings
from hypothesis import strategies as st

from portico.core.mesh.circuit import Limits
from portico.core.mesh.outlier import OutlierSettings
from portico.core.mesh.policy import ClusterPolicy
from portico.core.mesh.registry import Instance
from portico.core.upstream.call import Finish, Send, UpstreamCall, Wait
from portico.core.upstream.cluster import ClusterState
from portico.core.upstream.retry import RetryOn, RetryRule

HOSTS = [Instance("svc", f"i{n}", f"10.0.0.{n}", 15443) for n in range(3)]
RETRY_503 = RetryRule(attempts=2, retry_on=RetryOn.parse("503"), backoff=0.0)


def cluster(**policy: object) -> ClusterState:
    return ClusterState(ClusterPolicy("svc", None, **policy))  # type: ignore[arg-type]


def run(
    call: UpstreamCall, outcomes: list[tuple[int | None, str | None]], now: float = 0.0
) -> tuple[Finish, list[Send]]:
    sent: list[Send] = []
    step = call.start(now)
    feed = iter(outcomes)
    while not isinstance(step, Finish):
        if isinstance(step, Wait):
            now += step.delay
            step = call.resume(now)
            continue
        sent.append(step)
        status, failure = next(feed)
        step = call.outcome(step, status, failure, now)  # type: ignore[arg-type]
    call.close()
    return step, sent


def test_a_retry_goes_to_a_host_not_tried_yet() -> None:
    state = cluster()
    finish, sent = run(UpstreamCall(RETRY_503, "GET", state, HOSTS, random.Random(1)), [(503, None)] * 3)
    assert finish == Finish("answered", 503, None)
    assert len({s.instance.key for s in sent}) == 3
    assert [s.attempt for s in sent] == [1, 2, 3] and [s.retry for s in sent] == [False, True, True]


def test_backoff_waits_and_the_route_timeout_bounds_every_try() -> None:
    rule = RetryRule(attempts=3, retry_on=RetryOn.parse("503"), per_try_timeout=1.0, timeout=2.5, backoff=0.1)
    call = UpstreamCall(rule, "GET", cluster(), HOSTS, random.Random(1))
    first = call.start(10.0)
    assert isinstance(first, Send) and first.timeout == 1.0
    wait = call.outcome(first, None, "timeout", 11.0)
    assert isinstance(wait, Finish)  # a timeout is not in retryOn "503"
    rule = RetryRule(attempts=3, retry_on=RetryOn.parse("gateway-error"), per_try_timeout=1.0, timeout=2.5, backoff=0.1)
    call = UpstreamCall(rule, "GET", cluster(), HOSTS, random.Random(1))
    first = call.start(10.0)
    assert isinstance(first, Send)
    wait = call.outcome(first, None, "timeout", 11.0)
    assert isinstance(wait, Wait) and 0.05 <= wait.delay <= 0.1
    second = call.resume(11.1)
    assert isinstance(second, Send) and second.timeout == 1.0
    third = call.outcome(second, None, "timeout", 12.1)
    assert isinstance(third, Wait)
    last = call.resume(12.3)
    assert isinstance(last, Send) and abs((last.timeout or 0) - 0.2) < 1e-9  # what is left of the 2.5 s
    assert call.outcome(last, None, "timeout", 12.5) == Finish("answered", None, "timeout")
    call.close()


def test_the_request_limit_overflows_without_a_try() -> None:
    state = cluster(limits=Limits(max_requests=1))
    held = UpstreamCall(RETRY_503, "GET", state, HOSTS, random.Random(1))
    assert isinstance(held.start(0.0), Send)
    assert UpstreamCall(RETRY_503, "GET", state, HOSTS, random.Random(1)).start(0.0) == Finish(
        "overflow", failure="overflow"
    )
    held.close()
    assert isinstance(UpstreamCall(RETRY_503, "GET", state, HOSTS, random.Random(1)).start(0.0), Send)


def test_retry_slots_are_limited_by_max_retries() -> None:
    state = cluster(limits=Limits(max_retries=1))
    a = UpstreamCall(RETRY_503, "GET", state, HOSTS, random.Random(1))
    b = UpstreamCall(RETRY_503, "GET", state, HOSTS, random.Random(2))
    sa, sb = a.start(0.0), b.start(0.0)
    assert isinstance(sa, Send) and isinstance(sb, Send)
    assert isinstance(a.outcome(sa, 503, None, 0.0), Send)  # a holds the one retry slot
    assert b.outcome(sb, 503, None, 0.0) == Finish("retry-overflow", 503, None)
    a.close()
    b.close()
    assert state.breaker.retries == 0 and state.breaker.requests == 0 and state.budget.active_requests == 0


def test_outliers_are_ejected_and_skipped_then_return() -> None:
    state = cluster(outlier=OutlierSettings(consecutive_5xx=2, max_ejection_percent=100, base_ejection_time=30))
    bad = HOSTS[0]
    for _ in range(2):
        call = UpstreamCall(RetryRule(attempts=0), "GET", state, [bad], random.Random(1))
        step = call.start(0.0)
        assert isinstance(step, Send)
        call.outcome(step, 500, None, 0.0)
        call.close()
    assert call.ejected == bad
    picks = set()
    for seed in range(20):
        call = UpstreamCall(RetryRule(attempts=0), "GET", state, HOSTS, random.Random(seed))
        step = call.start(1.0)
        assert isinstance(step, Send)
        picks.add(step.instance.key)
        call.close()
    assert bad.key not in picks
    call = UpstreamCall(RetryRule(attempts=0), "GET", state, [bad, HOSTS[1]], random.Random(1))
    assert call.start(31.0) is not None and not state.outlier.is_ejected(bad.key, 31.0)  # type: ignore[union-attr]
    call.close()


def test_no_instance_finishes_no_healthy() -> None:
    assert run(UpstreamCall(RETRY_503, "GET", cluster(), [], random.Random(1)), [])[0] == Finish("no-healthy")


@settings(max_examples=80, deadline=None)
@given(
    st.lists(
        st.tuples(st.sampled_from([200, 409, 500, 503, None]), st.sampled_from([None, "connect-failure", "timeout"])),
        min_size=4,
        max_size=4,
    ),
    st.sampled_from(["GET", "POST"]),
    st.integers(0, 3),
)
def test_every_slot_is_given_back_and_tries_stay_within_attempts(
    outcomes: list[tuple[int | None, str | None]], method: str, attempts: int
) -> None:
    state = cluster(limits=Limits(max_retries=2))
    fixed = [(None, f) if f else (s, None) for s, f in outcomes]
    rule = RetryRule(attempts=attempts, retry_on=RetryOn.parse("5xx,retriable-4xx"), backoff=0.01)
    _, sent = run(UpstreamCall(rule, method, state, HOSTS, random.Random(3)), fixed)
    assert 1 <= len(sent) <= attempts + 1
    assert state.breaker.requests == state.breaker.retries == state.budget.active_requests == 0
    assert state.budget.active_retries == 0 and all(v == 0 for v in state.active.values())
