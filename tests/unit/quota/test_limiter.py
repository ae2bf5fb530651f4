"""The limiter against an in-memory store with DynamoDB's semantics: exact never over-admits, leasing stays in bound."""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import Sequence
from dataclasses import replace

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from portico.adapters.memory import InMemoryQuotaStore
from portico.core.quota.limiter import Decision, QuotaLimiter
from portico.core.quota.plan import QuotaLimit, QuotaPolicy
from portico.core.quota.window import window_at

T0 = 1_700_000_040.0  # the start of a 60s window


def _policy(*limits: tuple[int, int], cost: int = 1, mode: str = "exact", lease: int = 10) -> QuotaPolicy:
    return QuotaPolicy(
        "p",
        "consumer",
        tuple(QuotaLimit(f"w{w}", n, w) for n, w in sorted(limits, key=lambda x: x[1])),
        cost=cost,
        mode=mode,  # type: ignore[arg-type]
        lease_size=lease,
    )


def _run(limiter: QuotaLimiter, policy: QuotaPolicy, times: Sequence[float], who: str = "c") -> list[Decision]:
    async def go() -> list[Decision]:
        return [await limiter.check(policy, who, now) for now in times]

    return asyncio.run(go())


def test_sequential_six_a_minute_counts_down_then_refuses_with_retry_after() -> None:
    store = InMemoryQuotaStore()
    decisions = _run(QuotaLimiter(store), _policy((6, 60)), [T0 + i for i in range(7)])
    assert [d.statuses[0].remaining for d in decisions[:6]] == [5, 4, 3, 2, 1, 0]
    assert all(d.admitted for d in decisions[:6]) and not decisions[6].admitted
    assert decisions[6].violated == ("w60",) and decisions[6].retry_after == 54
    assert store.writes == 7  # exactly one conditional write per limit per request, refusals included


def test_exact_mode_writes_once_per_limit_and_never_reads() -> None:
    store = InMemoryQuotaStore()
    _run(QuotaLimiter(store), _policy((10, 1), (1000, 86400)), [T0 + i * 0.5 for i in range(20)])
    assert store.writes == 40


def test_a_refusal_by_the_longer_window_keeps_the_shorter_charge_and_costs_no_extra_write() -> None:
    store = InMemoryQuotaStore()
    decisions = _run(QuotaLimiter(store), _policy((5, 1), (3, 60)), [T0, T0 + 0.1, T0 + 0.2, T0 + 0.3])
    assert [d.admitted for d in decisions] == [True, True, True, False]
    assert decisions[3].violated == ("w60",) and [s.name for s in decisions[3].statuses] == ["w1", "w60"]
    assert store.writes == 8


def _model(policy: QuotaPolicy, times: Sequence[float]) -> tuple[list[bool], Counter[tuple[int, int]]]:
    """The reference semantics: charge limits shortest first, stop at the first that would pass its ceiling."""
    counts: Counter[tuple[int, int]] = Counter()
    admitted_cost: Counter[tuple[int, int]] = Counter()
    out: list[bool] = []
    for now in times:
        ok = True
        charged = []
        for limit in policy.limits:
            slot = (limit.window, window_at(now, limit.window).index)
            if counts[slot] + policy.cost > limit.requests:
                ok = False
                break
            counts[slot] += policy.cost
            charged.append(slot)
        out.append(ok)
        if ok:
            for slot in charged:
                admitted_cost[slot] += policy.cost
    return out, admitted_cost


limits_st = st.lists(
    st.tuples(st.integers(1, 12), st.sampled_from([1, 2, 5, 10, 60])), min_size=1, max_size=3, unique_by=lambda x: x[1]
)


@settings(max_examples=150, deadline=None)
@given(limits=limits_st, cost=st.integers(1, 3), gaps=st.lists(st.floats(0, 3, allow_nan=False), max_size=60))
def test_exact_mode_matches_the_model_and_never_over_admits(
    limits: list[tuple[int, int]], cost: int, gaps: list[float]
) -> None:
    policy = _policy(*limits, cost=cost)
    times, now = [], T0
    for gap in gaps:
        now += gap
        times.append(now)
    decisions = _run(QuotaLimiter(InMemoryQuotaStore()), policy, times)
    expected, admitted_cost = _model(policy, times)
    assert [d.admitted for d in decisions] == expected
    for limit in policy.limits:
        for (window, _), spent in admitted_cost.items():
            if window == limit.window:
                assert spent <= limit.requests


class _InterleavingStore(InMemoryQuotaStore):
    """Yields to the event loop a drawn number of times before each write, so instances interleave arbitrarily."""

    def __init__(self, pauses: list[int]) -> None:
        super().__init__()
        self._pauses = pauses

    async def add(self, key: str, amount: int, ceiling: int, expires_at: int) -> int | None:
        for _ in range(self._pauses[self.writes % len(self._pauses)] if self._pauses else 0):
            await asyncio.sleep(0)
        return await super().add(key, amount, ceiling, expires_at)


leasing_st = {
    "limit": st.integers(1, 80),
    "lease": st.integers(1, 15),
    "cost": st.integers(1, 3),
    "instances": st.integers(1, 5),
    "requests": st.integers(1, 120),
    "pauses": st.lists(st.integers(0, 3), min_size=1, max_size=20),
}


def _leasing_run(
    limit: int, lease: int, cost: int, instances: int, requests: int, pauses: list[int], concurrent_per_instance: bool
) -> tuple[int, list[int], list[bool], _InterleavingStore]:
    cost = min(cost, limit)
    policy = _policy((limit, 60), cost=cost, mode="leasing", lease=lease)
    store = _InterleavingStore(pauses)
    limiters = [QuotaLimiter(store) for _ in range(instances)]

    async def instance(i: int) -> list[bool]:
        mine = range(i, requests, instances)
        if concurrent_per_instance:
            found = await asyncio.gather(*(limiters[i].check(policy, "hot", T0 + 1) for _ in mine))
            return [d.admitted for d in found]
        return [(await limiters[i].check(policy, "hot", T0 + 1)).admitted for _ in mine]

    async def go() -> list[bool]:
        per_instance = await asyncio.gather(*(instance(i) for i in range(instances)))
        return [ok for results in per_instance for ok in results]

    results = asyncio.run(go())
    admitted = sum(cost for ok in results if ok)
    assert admitted <= limit  # the over-admission bound: 0
    unspent = [limiter.leases.unspent() for limiter in limiters]
    assert admitted + sum(unspent) == sum(store.values.values())  # every token the store counted is accounted for
    return cost, unspent, results, store


@settings(max_examples=120, deadline=None)
@given(**leasing_st)
def test_leasing_under_concurrency_never_over_admits_and_refuses_only_what_is_leased_elsewhere(
    limit: int, lease: int, cost: int, instances: int, requests: int, pauses: list[int]
) -> None:
    cost, unspent, results, _ = _leasing_run(limit, lease, cost, instances, requests, pauses, True)
    admitted = sum(cost for ok in results if ok)
    if not all(results):
        assert admitted > limit - cost - sum(unspent)


@settings(max_examples=120, deadline=None)
@given(**leasing_st)
def test_leasing_strands_less_than_one_lease_per_instance_when_each_serves_one_request_at_a_time(
    limit: int, lease: int, cost: int, instances: int, requests: int, pauses: list[int]
) -> None:
    # The Lambda shape: an execution environment handles one request at a time, instances run side by side.
    cost, unspent, results, _ = _leasing_run(limit, lease, cost, instances, requests, pauses, False)
    assert all(u <= max(lease, cost) - 1 for u in unspent)
    if not all(results):
        assert sum(cost for ok in results if ok) > limit - cost - instances * (max(lease, cost) - 1)


def test_leasing_reaches_a_tenth_of_a_write_per_request_at_steady_state() -> None:
    store = InMemoryQuotaStore()
    limiter = QuotaLimiter(store)
    decisions = _run(limiter, _policy((1_000_000, 60), mode="leasing", lease=10), [T0 + i / 1000 for i in range(1000)])
    assert all(d.admitted for d in decisions)
    assert store.writes / len(decisions) <= 0.1


def test_leasing_refunds_locally_when_a_later_limit_refuses_and_then_refuses_without_writes() -> None:
    store = InMemoryQuotaStore()
    limiter = QuotaLimiter(store)
    policy = _policy((100, 1), (3, 60), mode="leasing", lease=10)
    decisions = _run(limiter, policy, [T0 + i * 0.01 for i in range(10)])
    assert [d.admitted for d in decisions] == [True, True, True] + [False] * 7
    assert limiter.leases.unspent() == 7  # 10 leased, 3 spent by admitted requests; the 7 refused gave theirs back
    assert store.writes <= 6  # 1s lease + 60s: lease refused, 3 exact charges, 1 refused; then refusals are local


# --- issue 20 defects 13 and 14: noisy tenants and timed-out checks


class _SlowStore(InMemoryQuotaStore):
    """Writes wait for `release`, and count how many are in flight per key."""

    def __init__(self) -> None:
        super().__init__()
        self.release = asyncio.Event()
        self.in_flight: Counter[str] = Counter()
        self.peak: Counter[str] = Counter()

    async def add(self, key: str, amount: int, ceiling: int, expires_at: int) -> int | None:
        self.in_flight[key] += 1
        self.peak[key] = max(self.peak[key], self.in_flight[key])
        try:
            if amount > 0:
                await self.release.wait()
            return await super().add(key, amount, ceiling, expires_at)
        finally:
            self.in_flight[key] -= 1


def test_a_spent_counter_is_refused_locally_for_the_rest_of_its_window() -> None:
    store = InMemoryQuotaStore()
    limiter = QuotaLimiter(store)
    decisions = _run(limiter, _policy((3, 60)), [T0 + i for i in range(10)])
    assert [d.admitted for d in decisions] == [True] * 3 + [False] * 7
    assert store.writes == 4 and limiter.stats.refused_locally == 6  # one refused write, then none
    assert all(d.retry_after == 60 - i for i, d in enumerate(decisions) if i >= 3)
    assert _run(limiter, _policy((3, 60)), [T0 + 60])[0].admitted  # the next window is a new counter
    assert _run(limiter, _policy((3, 60)), [T0 + 11], who="other")[0].admitted  # other partitions are untouched


def test_one_busy_counter_holds_at_most_its_share_of_store_calls() -> None:
    async def go() -> tuple[int, bool]:
        store = _SlowStore()
        limiter = QuotaLimiter(store, per_partition=8)
        noisy = [asyncio.ensure_future(limiter.check(_policy((1000, 60)), "a", T0)) for _ in range(50)]
        await asyncio.sleep(0.01)
        quiet = asyncio.ensure_future(limiter.check(_policy((1000, 60)), "b", T0))
        await asyncio.sleep(0.01)
        quiet_in_store = store.in_flight[f"p|60|b|{int(T0 // 60)}"] == 1  # b reached the store beside a's 8
        store.release.set()
        await asyncio.gather(*noisy, quiet)
        return store.peak[f"p|60|a|{int(T0 // 60)}"], quiet_in_store

    assert asyncio.run(go()) == (8, True)


def test_a_timed_out_check_in_closed_mode_gives_its_charge_back() -> None:
    async def go() -> tuple[int, int]:
        store = _SlowStore()
        limiter = QuotaLimiter(store)
        policy = replace(_policy((5, 60)), failure_mode="closed")
        with pytest.raises(TimeoutError):
            await limiter.check_within(policy, "c", T0, 0.01)
        store.release.set()  # the write that was already on its way commits now...
        for _ in range(20):
            await asyncio.sleep(0)
        return store.values[f"p|60|c|{int(T0 // 60)}"], limiter.stats.refunds  # ...and is given back

    assert asyncio.run(go()) == (0, 1)


def test_a_timed_out_check_in_open_mode_still_counts_the_served_request() -> None:
    async def go() -> int:
        store = _SlowStore()
        limiter = QuotaLimiter(store)
        with pytest.raises(TimeoutError):
            await limiter.check_within(_policy((5, 60)), "o", T0, 0.01)  # open (the default): served uncounted...
        store.release.set()
        for _ in range(20):
            await asyncio.sleep(0)
        return store.values[f"p|60|o|{int(T0 // 60)}"]  # ...and counted once its write lands

    assert asyncio.run(go()) == 1


def test_a_closed_check_abandoned_before_its_write_never_writes() -> None:
    async def go() -> int:
        store = _SlowStore()
        limiter = QuotaLimiter(store, per_partition=1)
        policy = replace(_policy((5, 60)), failure_mode="closed")
        first = asyncio.ensure_future(limiter.check(policy, "w", T0))  # holds the only slot
        await asyncio.sleep(0)
        with pytest.raises(TimeoutError):
            await limiter.check_within(policy, "w", T0, 0.01)  # waits for the slot, gives up
        store.release.set()
        await first
        for _ in range(20):
            await asyncio.sleep(0)
        return store.writes

    assert asyncio.run(go()) == 1
