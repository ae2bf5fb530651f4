"""Leasing: an instance reserves a batch of tokens from the shared counter in one write and spends them locally.

Leases come out of the same conditional counter that exact mode uses, so the store never hands out more than the
limit per window: leasing cannot over-admit. Its cost is under-admission: tokens an instance leased but did not
spend before the window ended (at most lease size - 1 per instance and counter) are lost for that window.
When a full lease no longer fits under the limit the instance falls back to charging each request exactly, and once
the store refuses an exact charge the window is known to be spent (counters only grow within a window), so later
requests in it are refused locally without a write. Exact mode keeps the same refusal memory here (see limiter).
"""

from __future__ import annotations

import threading
from dataclasses import dataclass

_PRUNE_ABOVE = 4096  # entries; finished windows are dropped once the book grows past this
# Past this many live entries, those holding no tokens (what a refusal remembered) are forgotten: forgetting one
# costs a write later and never admits more. Bounds memory when very many partitions are spent in one window.
_MAX_ENTRIES = 100_000


@dataclass(slots=True)
class _Lease:
    tokens: int = 0  # leased here and not yet spent
    seen: int = 0  # the counter's value after this instance's last write, for the remaining estimate
    ends: float = 0.0  # the window's end; the lease is worthless after it
    lease_refused_at: int | None = None  # the ceiling at which a full lease was refused
    refused_at: tuple[int, int] | None = None  # (ceiling, cost) at which an exact charge was refused


class LeaseBook:
    """Per-instance lease state for every counter this instance has touched. Safe to share between threads."""

    def __init__(self) -> None:
        self._leases: dict[str, _Lease] = {}
        self._lock = threading.Lock()

    def spend(self, key: str, cost: int) -> int | None:
        """Spend `cost` leased tokens; return the remaining-quota estimate, or None when the local lease is short."""
        with self._lock:
            lease = self._leases.get(key)
            if lease is None or lease.tokens < cost:
                return None
            lease.tokens -= cost
            return lease.tokens

    def refund(self, key: str, cost: int) -> None:
        """Give back tokens spent by a request that a later limit refused; local tokens cost no write to return."""
        with self._lock:
            lease = self._leases.get(key)
            if lease is not None:
                lease.tokens += cost

    def known_refused(self, key: str, ceiling: int, cost: int) -> bool:
        with self._lock:
            lease = self._leases.get(key)
            refused = lease.refused_at if lease is not None else None
            return refused is not None and ceiling <= refused[0] and cost >= refused[1]

    def lease_fits(self, key: str, ceiling: int) -> bool:
        """False once a full lease was refused at this ceiling: asking again would only fail again."""
        with self._lock:
            lease = self._leases.get(key)
            return lease is None or lease.lease_refused_at is None or ceiling > lease.lease_refused_at

    def granted(self, key: str, tokens: int, count: int, ends: float) -> None:
        with self._lock:
            lease = self._entry(key, ends)
            lease.tokens += tokens
            lease.seen = max(lease.seen, count)

    def charged(self, key: str, count: int, ends: float) -> None:
        with self._lock:
            lease = self._entry(key, ends)
            lease.seen = max(lease.seen, count)

    def lease_refused(self, key: str, ceiling: int, ends: float) -> None:
        with self._lock:
            self._entry(key, ends).lease_refused_at = ceiling

    def refused(self, key: str, ceiling: int, cost: int, ends: float) -> None:
        with self._lock:
            self._entry(key, ends).refused_at = (ceiling, cost)

    def forget_refusal(self, key: str) -> None:
        """A refund lowered the counter, so an earlier refusal no longer proves the window spent."""
        with self._lock:
            lease = self._leases.get(key)
            if lease is not None:
                lease.refused_at = None

    def estimate(self, key: str, ceiling: int) -> int:
        """Quota left as this instance knows it: the store's remainder at its last write plus its unspent tokens."""
        with self._lock:
            lease = self._leases.get(key)
            if lease is None:
                return ceiling
            return max(0, ceiling - lease.seen) + lease.tokens

    def unspent(self) -> int:
        """Tokens leased and not spent, over all counters (what this instance would strand if it stopped now)."""
        with self._lock:
            return sum(lease.tokens for lease in self._leases.values())

    def prune(self, now: float) -> None:
        with self._lock:
            if len(self._leases) > _PRUNE_ABOVE:
                self._leases = {k: v for k, v in self._leases.items() if v.ends > now}
            if len(self._leases) > _MAX_ENTRIES:
                self._leases = {k: v for k, v in self._leases.items() if v.tokens > 0}

    def _entry(self, key: str, ends: float) -> _Lease:
        lease = self._leases.get(key)
        if lease is None:
            lease = self._leases[key] = _Lease(ends=ends)
        return lease
