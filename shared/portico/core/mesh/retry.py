"""Retry decisions (Istio retryOn semantics, idempotent methods only by default) and Envoy's retry budget."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

IDEMPOTENT_METHODS = frozenset({"GET", "HEAD", "OPTIONS", "TRACE", "PUT", "DELETE"})
# Istio's default retry policy when a route sets none: 2 retries on these conditions, retriable status 503.
DEFAULT_RETRY_ON = "connect-failure,refused-stream,unavailable,cancelled,retriable-status-codes"
NON_IDEMPOTENT_TOKEN = "non-idempotent"  # Portico's retryOn extension: the route allows retrying POST/PATCH

Failure = Literal["connect-failure", "reset", "timeout"]


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    attempts: int = 2
    per_try_timeout: float | None = None
    conditions: frozenset[str] = field(default_factory=lambda: frozenset(DEFAULT_RETRY_ON.split(",")))
    status_codes: frozenset[int] = frozenset({503})
    non_idempotent: bool = False

    @classmethod
    def parse(cls, attempts: int, per_try_timeout: float | None, retry_on: str | None) -> RetryPolicy:
        """Build from an HTTPRetry. Numeric tokens in retryOn are retriable status codes, as in Istio."""
        tokens = [t.strip() for t in (retry_on or DEFAULT_RETRY_ON).split(",") if t.strip()]
        codes = frozenset(int(t) for t in tokens if t.isdigit())
        words = frozenset(t for t in tokens if not t.isdigit())
        if codes:
            words = words | {"retriable-status-codes"}
        return cls(
            attempts=attempts,
            per_try_timeout=per_try_timeout,
            conditions=words - {NON_IDEMPOTENT_TOKEN},
            status_codes=codes or frozenset({503}),
            non_idempotent=NON_IDEMPOTENT_TOKEN in words,
        )


NO_RETRIES = RetryPolicy(attempts=0)


def is_retriable(policy: RetryPolicy, status: int | None, failure: Failure | None) -> bool:
    """Whether this outcome matches the policy's retryOn conditions (method and count are checked separately)."""
    c = policy.conditions
    if failure is not None:
        if failure == "connect-failure" and c & {"connect-failure", "refused-stream", "5xx", "gateway-error"}:
            return True
        if failure == "reset" and c & {"reset", "5xx"}:
            return True
        return failure == "timeout" and bool(c & {"5xx", "gateway-error", "reset"})
    if status is None:
        return False
    if "5xx" in c and status >= 500:
        return True
    if "gateway-error" in c and status in (502, 503, 504):
        return True
    if "retriable-4xx" in c and status == 409:
        return True
    return "retriable-status-codes" in c and status in policy.status_codes


def should_retry(
    policy: RetryPolicy, method: str, attempt: int, status: int | None, failure: Failure | None = None
) -> bool:
    """`attempt` is the number of the attempt that just finished (1-based); at most attempts + 1 tries in all.

    A connect failure never reached the upstream, so it is safe to retry whatever the method.
    """
    if attempt > policy.attempts:
        return False
    if method.upper() not in IDEMPOTENT_METHODS and not policy.non_idempotent and failure != "connect-failure":
        return False
    return is_retriable(policy, status, failure)


@dataclass(slots=True)
class RetryBudget:
    """Envoy's retry budget: retries in flight at most `percent` of active requests, with a floor of `floor`.

    The budget counts concurrency, not rates, so a slow upstream under a retry storm cannot multiply load.
    """

    percent: float = 20.0
    floor: int = 3
    active_requests: int = 0
    active_retries: int = 0

    def limit(self) -> int:
        return max(self.floor, int(self.active_requests * self.percent / 100))

    def try_acquire(self) -> bool:
        if self.active_retries >= self.limit():
            return False
        self.active_retries += 1
        return True

    def release(self) -> None:
        self.active_retries = max(0, self.active_retries - 1)
