"""Retry decisions: idempotent methods only, the listed outcomes, the attempt count and the deadline."""

from __future__ import annotations

from portico.core.retry import RetryRule, retry_delay

RULE = RetryRule(attempts=2, retry_on=frozenset({502, 503, 504}), backoff=0.1, deadline=5.0)


def test_post_is_never_retried() -> None:
    assert retry_delay(RULE, "POST", 1, "connect", 0.0, 0.5) is None
    assert retry_delay(RULE, "POST", 1, 503, 0.0, 0.5) is None


def test_get_retries_up_to_attempts_with_growing_backoff() -> None:
    first = retry_delay(RULE, "GET", 1, 503, 0.0, 1.0)
    second = retry_delay(RULE, "GET", 2, 503, 0.0, 1.0)
    assert first is not None and second is not None and second > first
    assert retry_delay(RULE, "GET", 3, 503, 0.0, 1.0) is None


def test_only_listed_statuses_connect_failures_and_per_try_timeouts() -> None:
    assert retry_delay(RULE, "GET", 1, 500, 0.0, 0.0) is None
    assert retry_delay(RULE, "GET", 1, "connect", 0.0, 0.0) is not None
    assert retry_delay(RULE, "GET", 1, "timeout", 0.0, 0.0) is not None
    no504 = RetryRule(attempts=2, retry_on=frozenset({503}), backoff=0.1, deadline=5.0)
    assert retry_delay(no504, "GET", 1, "timeout", 0.0, 0.0) is None


def test_no_retry_past_the_deadline() -> None:
    assert retry_delay(RULE, "GET", 1, 503, 4.99, 0.0) is None
