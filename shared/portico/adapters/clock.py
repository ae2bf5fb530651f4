"""The system clock behind the core's Clock port (entry points construct it; the core never reads time itself)."""

from __future__ import annotations

import time


class SystemClock:
    def now(self) -> float:
        return time.time()

    def monotonic(self) -> float:
        return time.monotonic()
