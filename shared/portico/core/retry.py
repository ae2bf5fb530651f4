"""Retry decisions, pure: whether another attempt may go out and after how long. Time and jitter are passed in."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

IDEMPOTENT = frozenset({"GET", "HEAD", "OPTIONS", "PUT", "DELETE", "TRACE"})
MAX_BACKOFF_FACTOR = 32  # the exponential backoff stops growing at 32x the base

Outcome = int | Literal["connect", "timeout"]


@dataclass(frozen=True, slots=True)
class RetryRule:
    """`attempts` counts retries after the first try (Istio's meaning): attempts=2 sends at most 3 requests."""

    attempts: int
    retry_on: frozenset[int]
    backoff: float
    deadline: float  # the whole call's budget in seconds, measured from its start


def retry_delay(
    rule: RetryRule, method: str, tries: int, outcome: Outcome, elapsed: float, jitter: float
) -> float | None:
    """Seconds to wait before the next try, or None to stop and return `outcome`.

    Only idempotent methods are retried (a POST may have had effects), only on a connect failure, a per-try
    timeout (counted as 504) or a listed status, never beyond `attempts` or past the deadline.
    `tries` is how many tries were made so far; `jitter` is uniform in [0, 1).
    """
    if method.upper() not in IDEMPOTENT or tries > rule.attempts:
        return None
    if outcome == "timeout":
        retryable = 504 in rule.retry_on
    elif outcome == "connect":
        retryable = True
    else:
        retryable = outcome in rule.retry_on
    if not retryable:
        return None
    # "equal jitter": half the exponential step is fixed, half random, so retries spread without collapsing to 0
    step = rule.backoff * min(2 ** (tries - 1), MAX_BACKOFF_FACTOR)
    delay = step / 2 + step / 2 * jitter
    if elapsed + delay >= rule.deadline:
        return None
    return float(delay)
