"""Which limits apply to a request: the route's policy or the consumer's plan, with the consumer's overrides.

A consumer's `plan` names a RateLimitPolicy. When the verified consumer has a plan, that plan replaces the route's
policy (the plan is the consumer's tier); otherwise the route's `rateLimit` applies. A consumer's `limits` override
the effective policy when its counters are per consumer (key `consumer` or `sub`): an override replaces the limit
with the same window, or adds one. Counters belong to the policy, not the route: routes sharing a policy share them.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Literal

from portico.core.config.base import format_duration
from portico.core.config.identity import ConsumerSpec, LimitOverride
from portico.core.config.ratelimit import RateLimitPolicySpec

_PER_CONSUMER_KEYS = ("consumer", "sub")


@dataclass(frozen=True, slots=True)
class QuotaLimit:
    name: str
    requests: int
    window: int


@dataclass(frozen=True, slots=True)
class QuotaPolicy:
    """A policy ready for the hot path: limits sorted by window, shortest first (the order they are charged in)."""

    name: str
    key: str
    limits: tuple[QuotaLimit, ...]
    cost: int = 1
    failure_mode: Literal["open", "closed"] = "open"
    timeout: float = 0.1
    mode: Literal["exact", "leasing"] = "exact"
    lease_size: int = 10


def policy_from_spec(name: str, spec: RateLimitPolicySpec) -> QuotaPolicy:
    limits = [QuotaLimit(limit.label, limit.requests, int(limit.window)) for limit in spec.limits]
    return QuotaPolicy(
        name=name,
        key=spec.key,
        limits=_sorted(limits),
        cost=spec.cost,
        failure_mode=spec.failure_mode,
        timeout=spec.timeout,
        mode=spec.mode,
        lease_size=spec.lease_size,
    )


def with_overrides(policy: QuotaPolicy, overrides: Sequence[LimitOverride]) -> QuotaPolicy:
    by_window = {limit.window: limit for limit in policy.limits}
    for override in overrides:
        window = int(override.window)
        current = by_window.get(window)
        name = override.name or (current.name if current else format_duration(window))
        by_window[window] = QuotaLimit(name, override.requests, window)
    return replace(policy, limits=_sorted(list(by_window.values())))


def effective_policy(
    route_policy: str | None,
    consumer: ConsumerSpec | None,
    policies: Mapping[str, QuotaPolicy],
) -> QuotaPolicy | None:
    """The policy for this request, or None when nothing limits it. Unknown names resolve to None (config checks
    reject dangling references before they are stored)."""
    name = consumer.plan if consumer is not None and consumer.plan else route_policy
    policy = policies.get(name) if name else None
    if policy is None:
        return None
    if consumer is not None and consumer.limits and policy.key in _PER_CONSUMER_KEYS:
        policy = with_overrides(policy, consumer.limits)
    return policy


def _sorted(limits: list[QuotaLimit]) -> tuple[QuotaLimit, ...]:
    return tuple(sorted(limits, key=lambda limit: limit.window))
