"""One retry vocabulary for the edge and the mesh: Envoy's and Istio's `retryOn` names, the rule and the backoff.

A `RetryRule` is compiled once per route; `retriable` and `backoff` are pure decisions the attempt machine asks.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Literal

IDEMPOTENT_METHODS = frozenset({"GET", "HEAD", "OPTIONS", "TRACE", "PUT", "DELETE"})
# Istio's default when a VirtualService route sets no retries: 2 retries on these, retriable status 503.
ISTIO_DEFAULT_RETRY_ON = "connect-failure,refused-stream,unavailable,cancelled,retriable-status-codes"
NON_IDEMPOTENT = "non-idempotent"  # Portico's retryOn extension: the route allows retrying POST/PATCH
DEFAULT_BACKOFF = 0.025  # Envoy's base_interval default
MAX_BACKOFF_FACTOR = 10  # Envoy: max_interval defaults to 10x the base interval

# Every name Envoy (x-envoy-retry-on, x-envoy-retry-grpc-on) and Istio accept for HTTP. The gRPC-status names
# (`cancelled`, `unavailable`, ...) are in Istio's default, so they are accepted; an HTTP/1 outcome never matches.
KNOWN = frozenset(
    {
        "5xx",
        "gateway-error",
        "reset",
        "reset-before-request",
        "connect-failure",
        "refused-stream",
        "retriable-4xx",
        "retriable-status-codes",
        "envoy-ratelimited",
        "cancelled",
        "deadline-exceeded",
        "internal",
        "resource-exhausted",
        "unavailable",
        NON_IDEMPOTENT,
    }
)

# Istio's gRPC retryOn names and the grpc-status each one retries (Envoy's x-envoy-retry-grpc-on).
GRPC_CONDITIONS: dict[int, str] = {
    1: "cancelled",
    4: "deadline-exceeded",
    8: "resource-exhausted",
    13: "internal",
    14: "unavailable",
}

# What went wrong when no response came back. `refused` (policy) and `overflow` (circuit breaking) are never retried.
Failure = Literal["connect-failure", "reset", "timeout", "refused", "overflow"]


class UnknownRetryOn(ValueError):
    """A retryOn name that neither Envoy nor Portico defines."""


@dataclass(frozen=True, slots=True)
class RetryOn:
    """Parsed `retryOn`: condition names plus the retriable status codes (numeric tokens, as in Istio)."""

    conditions: frozenset[str]
    codes: frozenset[int] = frozenset()
    non_idempotent: bool = False

    @classmethod
    def parse(cls, tokens: str | Iterable[str | int]) -> RetryOn:
        """From Istio's comma-separated string or a YAML list; numbers are retriable status codes."""
        items = tokens.split(",") if isinstance(tokens, str) else tokens
        words: set[str] = set()
        codes: set[int] = set()
        for item in items:
            text = str(item).strip()
            if not text:
                continue
            if text.isdigit():
                code = int(text)
                if not 100 <= code <= 599:
                    raise UnknownRetryOn(f"retryOn status {code} is not an HTTP status code")
                codes.add(code)
            elif text in KNOWN:
                words.add(text)
            else:
                raise UnknownRetryOn(f"unknown retryOn condition {text!r} (Envoy's names, or a status code)")
        if codes:
            words.add("retriable-status-codes")
        elif "retriable-status-codes" in words:
            codes.add(503)  # Istio's retriable status when none is listed
        return cls(frozenset(words - {NON_IDEMPOTENT}), frozenset(codes), NON_IDEMPOTENT in words)

    def matches(self, status: int | None, failure: Failure | None, grpc_status: int | None = None) -> bool:
        """Whether this outcome is one the route retries (the method and the count are checked separately).
        `grpc_status` is a gRPC answer's status when it came before any message (trailers-only)."""
        c = self.conditions
        if grpc_status is not None:
            name = GRPC_CONDITIONS.get(grpc_status)
            return name is not None and name in c
        if failure is not None:
            if failure == "connect-failure":
                return bool(c & {"connect-failure", "refused-stream", "5xx", "gateway-error", "reset-before-request"})
            if failure == "reset":
                return bool(c & {"reset", "5xx"})
            if failure == "timeout":  # Envoy answers a per-try timeout with 504: so do these conditions
                return bool(c & {"5xx", "gateway-error", "reset"}) or 504 in self.codes
            return False
        if status is None:
            return False
        if status >= 500 and "5xx" in c:
            return True
        if status in (502, 503, 504) and "gateway-error" in c:
            return True
        if status == 409 and "retriable-4xx" in c:
            return True
        return status in self.codes and "retriable-status-codes" in c


ISTIO_DEFAULT = RetryOn.parse(ISTIO_DEFAULT_RETRY_ON)


@dataclass(frozen=True, slots=True)
class RetryRule:
    """`attempts` counts retries after the first try (Istio's meaning): attempts=2 sends at most 3 requests.

    `timeout` bounds the whole call, retries and backoff included; `per_try_timeout` each try. None: unbounded.
    """

    attempts: int = 2
    retry_on: RetryOn = field(default_factory=lambda: ISTIO_DEFAULT)
    per_try_timeout: float | None = None
    timeout: float | None = None
    backoff: float = DEFAULT_BACKOFF


NO_RETRIES = RetryRule(attempts=0)


def retriable(
    rule: RetryRule,
    method: str,
    tries: int,
    status: int | None,
    failure: Failure | None,
    grpc_status: int | None = None,
) -> bool:
    """Whether another try may go out after `tries` tries ended with this outcome.

    Only idempotent methods are retried unless the route says `non-idempotent`; a connect failure never reached the
    upstream, so it is safe to retry whatever the method. gRPC calls are all POST: a gRPC status condition is the
    route's own statement that the call may be repeated (Istio's and Envoy's reading), so the method is not asked.
    """
    if tries > rule.attempts:
        return False
    if grpc_status is not None:
        return rule.retry_on.matches(status, failure, grpc_status)
    if failure != "connect-failure" and not rule.retry_on.non_idempotent and method.upper() not in IDEMPOTENT_METHODS:
        return False
    return rule.retry_on.matches(status, failure)


def backoff(rule: RetryRule, tries: int, jitter: float) -> float:
    """Seconds before the next try: "equal jitter" exponential backoff, capped at 10x the base (Envoy's max).

    Half the step is fixed and half random, so retries spread without collapsing to 0. `jitter` is in [0, 1).
    """
    step = rule.backoff * min(2 ** (tries - 1), MAX_BACKOFF_FACTOR)
    return float(step / 2 + step / 2 * jitter)
