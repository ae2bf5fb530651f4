"""Retry decisions follow retryOn and method rules; the budget never admits more retries than it allows."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from portico.core.mesh.retry import RetryBudget, RetryPolicy, should_retry


def test_post_is_not_retried_on_503_by_default() -> None:
    assert not should_retry(RetryPolicy(), "POST", 1, 503)


def test_get_is_retried_on_503_until_attempts_run_out() -> None:
    policy = RetryPolicy.parse(2, None, "503")
    assert should_retry(policy, "GET", 1, 503)
    assert should_retry(policy, "GET", 2, 503)
    assert not should_retry(policy, "GET", 3, 503)


def test_route_can_allow_non_idempotent_retries() -> None:
    policy = RetryPolicy.parse(1, None, "5xx,non-idempotent")
    assert should_retry(policy, "POST", 1, 500)


def test_connect_failure_is_retried_even_for_post() -> None:
    # the request never reached the upstream, so retrying cannot repeat its effect
    assert should_retry(RetryPolicy(), "POST", 1, None, "connect-failure")


def test_default_policy_does_not_retry_500() -> None:
    assert not should_retry(RetryPolicy(), "GET", 1, 500)


def test_gateway_error_covers_502_to_504_only() -> None:
    policy = RetryPolicy.parse(3, None, "gateway-error")
    assert [should_retry(policy, "GET", 1, s) for s in (500, 502, 503, 504)] == [False, True, True, True]


def test_budget_floor_and_percent() -> None:
    budget = RetryBudget(active_requests=100)
    assert budget.limit() == 20
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
            # an admitted retry never takes the in-flight retries past max(3, 20% of active requests)
            assert held <= max(3, budget.active_requests * 20 // 100)
        elif op == "retry_done" and held:
            held -= 1
            budget.release()
        assert budget.active_retries == held
    fresh = RetryBudget(active_requests=len(ops))
    admitted = sum(fresh.try_acquire() for _ in range(len(ops) + 5))
    assert admitted == max(3, len(ops) * 20 // 100)
