"""The quota decision: charge each limit of a policy in a QuotaStore, shortest window first, and say what is left.

Exact mode makes one conditional write per limit and no read. Limits are charged in order and the first refusal
stops the request. Charges already made to shorter windows stand (no compensating write): the request was refused
by a longer window, which cannot reopen before the shorter windows end when windows nest (every window here is
epoch-aligned and a month, day, hour or minute is a multiple of the shorter ones), so the extra count only ever
refuses requests that would be refused anyway. With windows that do not nest it can under-admit by at most the
refused requests' cost for the rest of the shorter window. It can never over-admit.

One tenant's traffic must not spend other tenants' budgets (issue 20, defects 13 and 14; docs/quota.md "Noisy
tenants and timeouts"):
- a counter the store refused is spent until its window ends (counters only grow within a window), so later
  requests for it are refused here, with no write and no thread: a tenant past its limit costs nothing;
- at most `per_partition` store calls of one partition are in flight at once; the rest wait for their own
  partition's turn (inside their own timeout), so one busy partition cannot fill the store's thread pool;
- the budget measures the store, not this process's own event loop: while the loop is congested a check gets more
  turns (up to CONGESTION_ALLOWANCE budgets), since its answer may already be waiting in the loop's queue;
- `check_within` never cancels a write it handed to a thread: on timeout it leaves the check to finish and, when the
  request was refused (failureMode closed), gives back what the check charged, so a 503 costs no quota.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
import weakref
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field

from portico.core.ports import QuotaStore, StoreUnavailable
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
class _Attempt:
    """What one check charged, so an abandoned check can give it back."""

    charged: list[tuple[str, int]] = field(default_factory=list)  # exact writes that counted: (key, amount)
    spent: list[tuple[str, int]] = field(default_factory=list)  # leasing: tokens taken for this request
    abandoned: bool = False  # the caller stopped waiting and refused the request: charge nothing more


class _Abandoned(Exception):
    """The caller gave up on this check before its next write; nothing more is charged."""


CONGESTION_ALLOWANCE = 10  # budgets a check may wait in all when the loop, not the store, is slow
_NO_CEILING = 2**62  # a refund lowers the counter; no condition should stop it
PER_PARTITION_IN_FLIGHT = 8  # store calls of one counter at once: a quarter of the DynamoDB store's 32 threads
log = logging.getLogger("portico.quota")


class PartitionGate:
    """At most `limit` holders per key and event loop; a key's semaphore lives only while someone holds or waits.

    A limiter may serve several event loops (threads); asyncio primitives belong to one loop, so each loop gets its
    own gate. A process serves from one loop, so in production the bound is per process.
    """

    def __init__(self, limit: int) -> None:
        self._limit = limit
        self._slots: dict[str, tuple[asyncio.Semaphore, list[int]]] = {}

    @classmethod
    def per_loop(cls, limit: int) -> Callable[[], PartitionGate]:
        gates: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, PartitionGate] = weakref.WeakKeyDictionary()
        lock = threading.Lock()

        def current() -> PartitionGate:
            loop = asyncio.get_running_loop()
            with lock:
                gate = gates.get(loop)
                if gate is None:
                    gate = gates[loop] = cls(limit)
                return gate

        return current

    @contextlib.asynccontextmanager
    async def hold(self, key: str) -> AsyncIterator[None]:
        entry = self._slots.get(key)
        if entry is None:
            entry = self._slots[key] = (asyncio.Semaphore(self._limit), [0])
        semaphore, users = entry
        users[0] += 1
        try:
            async with semaphore:
                yield
        finally:
            users[0] -= 1
            if users[0] == 0:
                del self._slots[key]

    def __len__(self) -> int:
        return len(self._slots)


@dataclass(slots=True)
class QuotaStats:
    """Process-lifetime counters, kept beside the limiter so they survive config reloads."""

    admitted: int = 0
    limited: int = 0
    store_failures: int = 0
    failed_open: int = 0
    failed_closed: int = 0
    refused_locally: int = 0  # refusals decided from a remembered spent counter, with no write
    refunds: int = 0  # charges given back after a timed-out check whose request was refused
    congestion_waits: int = 0  # loop turns a check was given past its budget because the process was busy
    warnings: FailOpenWarnings = field(default_factory=FailOpenWarnings)  # when to log the next store failure


class QuotaLimiter:
    """Decides admission against a QuotaStore. One instance per process: in leasing mode it holds the leases."""

    def __init__(
        self, store: QuotaStore, leases: LeaseBook | None = None, per_partition: int = PER_PARTITION_IN_FLIGHT
    ) -> None:
        self._store = store
        self._leases = leases if leases is not None else LeaseBook()
        self._gate = PartitionGate.per_loop(per_partition)
        self._background: set[asyncio.Task[Decision]] = set()
        self.stats = QuotaStats()

    @property
    def store(self) -> QuotaStore:
        return self._store

    @property
    def leases(self) -> LeaseBook:
        return self._leases

    async def check_within(self, policy: QuotaPolicy, partition: str, now: float, timeout: float) -> Decision:
        """`check` with a time budget: raises TimeoutError when it runs out (and StoreUnavailable).

        The check is not cancelled (a write already handed to a thread would commit anyway): it stops before its
        next write and finishes in the background. With `failureMode: closed` the request is refused, so whatever
        the check charged is given back; with `open` it was served, so the charge stands.
        """
        attempt = _Attempt()
        task = asyncio.ensure_future(self.check(policy, partition, now, attempt))
        loop = asyncio.get_running_loop()
        hard_end = loop.time() + CONGESTION_ALLOWANCE * timeout
        await asyncio.wait({task}, timeout=timeout)
        # Time spent waiting for this process's own event loop is not the store being slow: a busy loop (one
        # tenant's many connections) delays every hop of the answer back to us. While a turn of the loop takes
        # longer than a tenth of the budget, give the check more turns, up to CONGESTION_ALLOWANCE budgets in all.
        while not task.done() and loop.time() < hard_end:
            turn_started = loop.time()
            await asyncio.sleep(0)
            if loop.time() - turn_started < timeout / 10:
                break  # the loop turns quickly, so the store itself is late
            self.stats.congestion_waits += 1
        if task.done():
            return task.result()
        closed = policy.failure_mode == "closed"
        # open: the request is served, so the check goes on and counts it (a busy partition is still limited);
        # closed: the request is refused, so the check stops before its next write and gives back what it charged
        attempt.abandoned = closed
        self._background.add(task)
        task.add_done_callback(lambda t: self._settle(t, attempt, closed))
        raise TimeoutError

    def _settle(self, task: asyncio.Task[Decision], attempt: _Attempt, refund: bool) -> None:
        self._background.discard(task)
        if not task.cancelled():
            task.exception()  # retrieved: a late store failure was already answered by the failure mode
        if not refund:
            return
        for key, amount in attempt.spent:
            self._leases.refund(key, amount)  # leased tokens go back to the local pool: no write
        if attempt.charged:
            give_back = asyncio.ensure_future(self._give_back(list(attempt.charged)))
            self._background.add(give_back)
            give_back.add_done_callback(self._background.discard)
        self.stats.refunds += len(attempt.spent) + len(attempt.charged)

    async def _give_back(self, charged: list[tuple[str, int]]) -> Decision:
        for key, amount in charged:
            try:
                await self._store.add(key, -amount, _NO_CEILING, 0)  # an existing item keeps its expiresAt
                self._leases.forget_refusal(key)  # the counter went down: it may admit again
            except StoreUnavailable:
                log.warning("quota refund failed; the counter keeps %d extra until its window ends", amount)
        return Decision(False, ())

    async def check(self, policy: QuotaPolicy, partition: str, now: float, attempt: _Attempt | None = None) -> Decision:
        """Charge `policy.cost` to every limit for `partition` at time `now`. Raises StoreUnavailable."""
        attempt = attempt if attempt is not None else _Attempt()
        cost = policy.cost
        statuses: list[LimitStatus] = []
        spent_locally: list[str] = []
        self._leases.prune(now)
        for limit in policy.limits:
            window = window_at(now, limit.window)
            key = counter_key(policy.name, window, partition)
            reset = seconds_until_reset(window, now)
            leasing = policy.mode == "leasing"
            try:
                if leasing:
                    remaining = await self._lease(policy, limit, key, window, attempt)
                else:
                    remaining = await self._exact(limit, key, cost, window, attempt)
            except _Abandoned:
                return Decision(False, tuple(statuses))
            if remaining is None:
                # In leasing mode the tokens this request took from earlier limits were counted against this
                # instance in the store, so they go back to its local pool and the next request spends them.
                for spent in spent_locally:
                    self._leases.refund(spent, cost)
                attempt.spent.clear()
                statuses.append(LimitStatus(limit.name, 0, reset))
                return Decision(False, tuple(statuses), (limit.name,), reset)
            if leasing:
                spent_locally.append(key)
                attempt.spent.append((key, cost))
            statuses.append(LimitStatus(limit.name, remaining, reset))
        return Decision(True, tuple(statuses))

    async def _exact(self, limit: QuotaLimit, key: str, cost: int, window: Window, attempt: _Attempt) -> int | None:
        if cost > limit.requests:  # a consumer override can set a limit below the cost: no write can admit it
            return None
        if self._leases.known_refused(key, limit.requests, cost):
            self.stats.refused_locally += 1
            return None  # spent for the rest of its window: refused with no write
        count = await self._add(attempt, key, cost, limit.requests, window.expires_at)
        if count is None:
            self._leases.refused(key, limit.requests, cost, window.end)
            return None
        attempt.charged.append((key, cost))
        return limit.requests - count

    async def _add(self, attempt: _Attempt, key: str, amount: int, ceiling: int, expires_at: int) -> int | None:
        """One store write, at most `per_partition` per counter at once, never after the caller gave up.

        Waiters queue on their own counter's gate, never in the store's thread pool. Whoever gets a slot after the
        counter was refused is refused at once, so a burst on a spent counter drains with no write.
        """
        async with self._gate().hold(key):
            if attempt.abandoned:
                raise _Abandoned
            if self._leases.known_refused(key, ceiling, amount):
                self.stats.refused_locally += 1
                return None
            return await self._store.add(key, amount, ceiling, expires_at)

    async def _lease(
        self, policy: QuotaPolicy, limit: QuotaLimit, key: str, window: Window, attempt: _Attempt
    ) -> int | None:
        """Spend from the local lease, else lease a batch, else charge exactly; the remaining estimate or None."""
        cost, book, ceiling = policy.cost, self._leases, limit.requests
        if book.spend(key, cost) is not None:
            return book.estimate(key, ceiling)
        if cost > ceiling or book.known_refused(key, ceiling, cost):
            return None
        size = max(policy.lease_size, cost)
        if size > cost and book.lease_fits(key, ceiling):
            count = await self._add(attempt, key, size, ceiling, window.expires_at)
            if count is not None:
                book.granted(key, size - cost, count, window.end)
                return book.estimate(key, ceiling)
            book.lease_refused(key, ceiling, window.end)
            if book.spend(key, cost) is not None:  # a concurrent request's lease may have landed meanwhile
                return book.estimate(key, ceiling)
        count = await self._add(attempt, key, cost, ceiling, window.expires_at)
        if count is None:
            book.refused(key, ceiling, cost, window.end)
            return book.estimate(key, ceiling) if book.spend(key, cost) is not None else None
        book.charged(key, count, window.end)
        return book.estimate(key, ceiling)
