"""Circuit breaking: counters against connection, pending and request limits; past a limit, fail fast."""

from __future__ import annotations

from dataclasses import dataclass

# Envoy's circuit-breaker defaults (1024 each, 3 retries). Istio raises them to 2^32-1; we keep Envoy's so a
# sidecar's memory stays bounded by default.
DEFAULT_LIMIT = 1024
DEFAULT_MAX_RETRIES = 3


@dataclass(frozen=True, slots=True)
class Limits:
    max_connections: int = DEFAULT_LIMIT
    max_pending: int = DEFAULT_LIMIT
    max_requests: int = DEFAULT_LIMIT
    max_retries: int = DEFAULT_MAX_RETRIES
    max_requests_per_connection: int = 0  # 0: unlimited
    idle_timeout: float = 3600.0
    connect_timeout: float = 10.0


@dataclass(slots=True)
class CircuitBreaker:
    """Live counts for one cluster. Every `try_*` that returns True must be paired with its `release_*`."""

    limits: Limits
    requests: int = 0
    connections: int = 0
    pending: int = 0
    retries: int = 0
    overflows: int = 0

    def try_request(self) -> bool:
        if self.requests >= self.limits.max_requests:
            self.overflows += 1
            return False
        self.requests += 1
        return True

    def release_request(self) -> None:
        self.requests = max(0, self.requests - 1)

    def try_pending(self) -> bool:
        if self.pending >= self.limits.max_pending:
            self.overflows += 1
            return False
        self.pending += 1
        return True

    def release_pending(self) -> None:
        self.pending = max(0, self.pending - 1)

    def try_retry(self) -> bool:
        if self.retries >= self.limits.max_retries:
            self.overflows += 1
            return False
        self.retries += 1
        return True

    def release_retry(self) -> None:
        self.retries = max(0, self.retries - 1)
