"""The quota decision: charge each limit of a policy in a QuotaStore, shortest window first, and say what is left.

Exact mode makes one conditional write per limit and no read. Limits are charged in order and the first refusal
stops the request. Charges already made to shorter windows stand (no compensating write): the request was refused
by a longer window, which cannot reopen before the shorter windows end when windows nest (every window here is
epoch-aligned and a month, day, hour or minute is a multiple of the shorter ones), so the extra count only ever
refuses requests that would be refused anyway. With windows that do not nest it can under-admit by at most the
refused requests' cost for the rest of the shorter window. It can never over-admit.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from portico.core.ports import QuotaStore
from portico.core.quota.failopen import FailOpenWarnings
from portico.core.quota.headers import LimitStatus
from portico.core.quota.keys import counter_key
from portico.core.quota.lease import LeaseBook
from portico.core.quota.plan import QuotaLimit, QuotaPolicy
from portico.core.quota.window import Window, seconds_until_reset, window_at


@dataclass(frozen=True, slots=True)
class Decision:
    admitted: bool
    statuses: tuple[LimitStatus, ...]
    violated: tuple[str, ...] = ()
    retry_after: int | None = None


@dataclass(slots=True)
class QuotaStats:
    """Process-lifetime counters, kept beside the limiter so they survive config reloads."""

    admitted: int = 0
    limited: int = 0
    store_failures: int = 0
    failed_open: int = 0
    failed_closed: int = 0
    warnings: FailOpenWarnings = field(default_factory=FailOpenWarnings)  # when to log the next store failure


class QuotaLimiter:
    """Decides admission against a QuotaStore. One instance per process: in leasing mode it holds the leases."""

    def __init__(self, store: QuotaStore, leases: LeaseBook | None = None) -> None:
        self._store = store
        self._leases = leases if leases is not None else LeaseBook()
        self.stats = QuotaStats()

    @property
    def store(self) -> QuotaStore:
        return self._store

    @property
    def leases(self) -> LeaseBook:
        return self._leases

    async def check(self, policy: QuotaPolicy, partition: str, now: float) -> Decision:
        """Charge `policy.cost` to every limit for `partition` at time `now`. Raises StoreUnavailable."""
        cost = policy.cost
        statuses: list[LimitStatus] = []
        spent_locally: list[str] = []
        self._leases.prune(now)
        for limit in policy.limits:
            window = window_at(now, limit.window)
            key = counter_key(policy.name, window, partition)
            reset = seconds_until_reset(window, now)
            leasing = policy.mode == "leasing"
            if leasing:
                remaining = await self._lease(policy, limit, key, window)
            else:
                remaining = await self._exact(limit, key, cost, window)
            if remaining is None:
                # In leasing mode the tokens this request took from earlier limits were counted against this
                # instance in the store, so they go back to its local pool and the next request spends them.
                for spent in spent_locally:
                    self._leases.refund(spent, cost)
                statuses.append(LimitStatus(limit.name, 0, reset))
                return Decision(False, tuple(statuses), (limit.name,), reset)
            if leasing:
                spent_locally.append(key)
            statuses.append(LimitStatus(limit.name, remaining, reset))
        return Decision(True, tuple(statuses))

    async def _exact(self, limit: QuotaLimit, key: str, cost: int, window: Window) -> int | None:
        if cost > limit.requests:  # a consumer override can set a limit below the cost: no write can admit it
            return None
        count = await self._store.add(key, cost, limit.requests, window.expires_at)
        return None if count is None else limit.requests - count

    async def _lease(self, policy: QuotaPolicy, limit: QuotaLimit, key: str, window: Window) -> int | None:
        """Spend from the local lease, else lease a batch, else charge exactly; the remaining estimate or None."""
        cost, book, ceiling = policy.cost, self._leases, limit.requests
        if book.spend(key, cost) is not None:
            return book.estimate(key, ceiling)
        if cost > ceiling or book.known_refused(key, ceiling, cost):
            return None
        size = max(policy.lease_size, cost)
        if size > cost and book.lease_fits(key, ceiling):
            count = await self._store.add(key, size, ceiling, window.expires_at)
            if count is not None:
                book.granted(key, size - cost, count, window.end)
                return book.estimate(key, ceiling)
            book.lease_refused(key, ceiling, window.end)
            if book.spend(key, cost) is not None:  # a concurrent request's lease may have landed meanwhile
                return book.estimate(key, ceiling)
        count = await self._store.add(key, cost, ceiling, window.expires_at)
        if count is None:
            book.refused(key, ceiling, cost, window.end)
            return book.estimate(key, ceiling) if book.spend(key, cost) is not None else None
        book.charged(key, count, window.end)
        return book.estimate(key, ceiling)
