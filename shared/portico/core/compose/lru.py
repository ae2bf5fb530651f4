"""A bounded LRU map whose entries expire: the response cache's store. Time is passed in, never read."""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass
from typing import Generic, TypeVar

K = TypeVar("K")
V = TypeVar("V")


@dataclass(frozen=True, slots=True)
class Entry(Generic[V]):
    value: V
    stored_at: float
    expires_at: float


class TtlLru(Generic[K, V]):
    """At most `max_entries` entries; a read refreshes recency, an expired entry is never returned.

    Expired entries are dropped when met and before any eviction of a live one, so a burst of short-lived entries
    does not push out long-lived ones.
    """

    def __init__(self, max_entries: int) -> None:
        if max_entries < 1:
            raise ValueError("max_entries must be at least 1")
        self.max_entries = max_entries
        self._items: OrderedDict[K, Entry[V]] = OrderedDict()

    def __len__(self) -> int:
        return len(self._items)

    def get(self, key: K, now: float) -> Entry[V] | None:
        entry = self._items.get(key)
        if entry is None:
            return None
        if now >= entry.expires_at:
            del self._items[key]
            return None
        self._items.move_to_end(key)
        return entry

    def put(self, key: K, value: V, now: float, ttl: float) -> None:
        if ttl <= 0:
            self._items.pop(key, None)
            return
        self._items[key] = Entry(value, now, now + ttl)
        self._items.move_to_end(key)
        if len(self._items) > self.max_entries:
            self._evict(now)

    def _evict(self, now: float) -> None:
        for key in [k for k, e in self._items.items() if now >= e.expires_at]:
            del self._items[key]
        while len(self._items) > self.max_entries:
            self._items.popitem(last=False)
