"""The one retry vocabulary: Envoy's/Istio's retryOn names, the method rule, the count and the backoff."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from portico.core.upstream.cluster import RetryBudget
from portico.core.upstream.retry import (
    ISTIO_DEFAULT_RETRY_ON,
    RetryOn,
    RetryRule,
    UnknownRetryOn,
    backoff,
    retriable,
)

DEFAULT = RetryRule()


def rule(retry_on: str | list[str | int], attempts: int = 2) -> RetryRule:
    return RetryRule(attempts=attempts, retry_on=RetryOn.parse(retry_on))


def test_istio_default_retries_503_and_connect_failures_twice() -> None:
    assert retriable(DEFAULT, "GET", 1, 503, None)
    assert retriable(DEFAULT, "GET", 2, 503, None)
    assert not retriable(DEFAULT, "GET", 3, 503, None)
    assert not retriable(DEFAULT, "GET", 1, 500, None)
    assert retriable(DEFAULT, "GET", 1, None, "connect-failure")
    assert not retriable(DEFAULT, "GET", 1, None, "timeout")


def test_post_is_retried_only_on_connect_failure_unless_the_route_says_non_idempotent() -> None:
    assert not retriable(DEFAULT, "POST", 1, 503, None)
    assert retriable(DEFAULT, "POST", 1, None, "connect-failure")  # nothing was sent
    assert not retriable(rule("5xx"), "POST", 1, None, "reset")  # it may have been processed
    assert retriable(rule("5xx,non-idempotent"), "POST", 1, 500, None)


def test_envoy_conditions() -> None:
    gateway = rule("gateway-error")
    assert [retriable(gateway, "GET", 1, s, None) for s in (500, 502, 503, 504)] == [False, True, True, True]
    assert retriable(gateway, "GET", 1, None, "timeout")  # a per-try timeout is Envoy's 504
    assert retriable(rule("5xx"), "GET", 1, None, "reset")
    assert not retriable(rule("connect-failure"), "GET", 1, None, "reset")
    assert retriable(rule("retriable-4xx"), "GET", 1, 409, None)
    assert not retriable(rule("retriable-4xx"), "GET", 1, 404, None)


def test_numeric_codes_are_retriable_status_codes_and_504_covers_per_try_timeouts() -> None:
    codes = rule([502, 504])
    assert retriable(codes, "GET", 1, 502, None) and not retriable(codes, "GET", 1, 503, None)
    assert retriable(codes, "GET", 1, None, "timeout")
    assert not retriable(rule([503]), "GET", 1, None, "timeout")


def test_refused_and_overflow_are_never_retried() -> None:
    everything = rule("5xx,gateway-error,reset,connect-failure,non-idempotent")
    assert not retriable(everything, "GET", 1, None, "refused")
    assert not retriable(everything, "GET", 1, None, "overflow")


@pytest.mark.parametrize("bad", ["5xx,retry-everything", "600", "gateway_error"])
def test_unknown_names_are_refused_by_name(bad: str) -> None:
    with pytest.raises(UnknownRetryOn, match="retryOn"):
        RetryOn.parse(bad)


def test_the_default_string_parses_to_503() -> None:
    parsed = RetryOn.parse(ISTIO_DEFAULT_RETRY_ON)
    assert parsed.codes == {503} and "connect-failure" in parsed.conditions


def test_backoff_grows_and_stops_at_ten_times_the_base() -> None:
    r = RetryRule(backoff=0.1)
    delays = [backoff(r, n, 1.0) for n in range(1, 8)]
    assert delays[:4] == pytest.approx([0.1, 0.2, 0.4, 0.8])
    assert max(delays) == pytest.approx(1.0)
    assert backoff(r, 1, 0.0) == pytest.approx(0.05)  # equal jitter: never below half the step


def test_budget_floor_and_percent() -> None:
    assert RetryBudget(active_requests=100).limit() == 20
    assert RetryBudget(active_requests=5).limit() == 3


@settings(max_examples=60, deadline=None)
@given(st.lists(st.sampled_from(["start", "finish", "retry", "retry_done"]), max_size=300))
def test_budget_never_exceeds_its_limit(ops: list[str]) -> None:
    budget = RetryBudget()
    held = 0
    for op in ops:
        if op == "start":
            budget.active_requests += 1
        elif op == "finish" and budget.active_requests > held:
            budget.active_requests -= 1
        elif op == "retry" and budget.try_acquire():
            held += 1
            assert held <= max(3, budget.active_requests * 20 // 100)
        elif op == "retry_done" and held:
            held -= 1
            budget.release()
        assert budget.active_retries == held
