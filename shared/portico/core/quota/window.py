"""Fixed windows aligned to the Unix epoch: which window `now` falls in, when it ends, and how long until then.

Why fixed windows: each check is then one atomic ADD on one counter item with a condition, which DynamoDB does
exactly under any concurrency and without a read. A sliding log or a token bucket would need the previous state
(a read, or a read-modify-write with retries). The price is the window edge: a client can spend a full limit at
the end of one window and again at the start of the next, so up to 2x the limit can pass within one window's
length that straddles a boundary. Never more: each window's own count stays at or below the limit.
Windows align to the epoch (not to the first request) so every instance agrees on them without coordination.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

# Counters outlive their window by this much before TTL may delete them, so an instance whose clock lags a little
# never re-creates a deleted counter from zero (which would re-open a finished window).
TTL_GRACE_SECONDS = 300


@dataclass(frozen=True, slots=True)
class Window:
    """One fixed window of `length` seconds: the `index`-th since the epoch."""

    length: int
    index: int

    @property
    def start(self) -> int:
        return self.index * self.length

    @property
    def end(self) -> int:
        return (self.index + 1) * self.length

    @property
    def expires_at(self) -> int:
        """The TTL timestamp for this window's counter."""
        return self.end + TTL_GRACE_SECONDS


def window_at(now: float, length: int) -> Window:
    if length < 1:
        raise ValueError("a window is at least one second")
    return Window(length=length, index=math.floor(now / length))


def seconds_until_reset(window: Window, now: float) -> int:
    """Delta-seconds until the window ends, rounded up and at least 1 (a client retrying sooner is refused again)."""
    return max(1, math.ceil(window.end - now))
