"""What a partition has used in each current window: the rows behind `portico usage`."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from portico.core.config.configset import ConfigSet
from portico.core.http import Request
from portico.core.quota.keys import counter_key, partition_value
from portico.core.quota.plan import QuotaPolicy, policy_from_spec, with_overrides
from portico.core.quota.window import seconds_until_reset, window_at


@dataclass(frozen=True, slots=True)
class UsageRow:
    policy: str
    limit: str
    window: int
    partition: str
    used: int
    requests: int
    remaining: int
    resets_in: int
    counter: str


_PER_CONSUMER = ("consumer", "sub")


class UsageError(ValueError):
    """The consumer's usage cannot be read: no such consumer, no plan, or a plan not counted per consumer."""


def consumer_plan(config: ConfigSet, name: str, policy_name: str | None = None) -> tuple[QuotaPolicy, list[str]]:
    """The policy that limits consumer `name` (its plan, with its overrides) and the partitions it is counted under.

    Shared by `portico usage` and the portal, so both read exactly the counters the edge charges.
    """
    doc = config.consumers.get(name)
    if doc is None:
        raise UsageError(f"no Consumer named {name!r}")
    spec = doc.spec
    policy_name = policy_name or spec.plan
    if policy_name is None:
        raise UsageError(f"Consumer {name!r} has no plan; name a policy with --policy")
    found = config.rate_limit_policies.get(policy_name)
    if found is None:
        raise UsageError(f"no RateLimitPolicy named {policy_name!r}")
    policy = policy_from_spec(policy_name, found.spec)
    if policy.key not in _PER_CONSUMER:
        raise UsageError(f"RateLimitPolicy {policy_name!r} counts by {policy.key}, not per consumer")
    if spec.limits:
        policy = with_overrides(policy, spec.limits)
    request = Request(method="GET", path="/")
    if policy.key == "consumer":
        return policy, [partition_value("consumer", request, {"consumer": name})]
    if not spec.subjects:
        raise UsageError(f"policy {policy_name!r} counts by sub and Consumer {name!r} lists no subjects")
    return policy, [partition_value("sub", request, {"sub": s}) for s in spec.subjects]


def usage_keys(policy: QuotaPolicy, partition: str, now: float) -> list[str]:
    return [counter_key(policy.name, window_at(now, limit.window), partition) for limit in policy.limits]


def usage_rows(policy: QuotaPolicy, partition: str, now: float, counts: Mapping[str, int]) -> list[UsageRow]:
    rows = []
    for limit in policy.limits:
        window = window_at(now, limit.window)
        key = counter_key(policy.name, window, partition)
        used = counts.get(key, 0)
        rows.append(
            UsageRow(
                policy=policy.name,
                limit=limit.name,
                window=limit.window,
                partition=partition,
                used=used,
                requests=limit.requests,
                remaining=max(0, limit.requests - used),
                resets_in=seconds_until_reset(window, now),
                counter=key,
            )
        )
    return rows
