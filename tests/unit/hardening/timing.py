"""Timing for the linear-time bounds of the regex tests, on a machine that many test runs share."""

from __future__ import annotations

import time
from collections.abc import Callable


def best_of(runs: int, work: Callable[[], object]) -> float:
    """The fastest of a few runs: the matcher's own cost, not the scheduler's (a backtracking engine takes about a
    second on the inputs these tests use, so no run of it comes near their 10 ms bound)."""
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        work()
        times.append(time.perf_counter() - started)
    return min(times)
