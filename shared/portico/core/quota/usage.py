"""What a partition has used in each current window: the rows behind `portico usage`."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from portico.core.quota.keys import counter_key
from portico.core.quota.plan import QuotaPolicy
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
