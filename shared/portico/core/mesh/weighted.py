"""Weighted choice (a VirtualService split): pick an item in proportion to its integer weight with a given rng."""

from __future__ import annotations

import random
from collections.abc import Sequence
from typing import TypeVar

T = TypeVar("T")


def pick_weighted(choices: Sequence[tuple[T, int]], rng: random.Random) -> T | None:
    """An item with probability weight/total; weight 0 is never picked. None when every weight is 0."""
    total = 0
    for _, w in choices:  # per request: a loop, not sum() over a generator
        if w > 0:
            total += w
    if total <= 0:
        return None
    point = rng.randrange(total)
    for item, weight in choices:
        if weight <= 0:
            continue
        if point < weight:
            return item
        point -= weight
    raise AssertionError("unreachable: point < total")
