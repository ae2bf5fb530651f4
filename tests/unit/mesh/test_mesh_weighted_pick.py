"""Weighted subset picking: proportions converge, weight 0 is never chosen."""

from __future__ import annotations

import random

from hypothesis import given, settings
from hypothesis import strategies as st

from portico.core.mesh.weighted import pick_weighted


def test_ninety_ten_over_ten_thousand_is_within_two_points() -> None:
    rng = random.Random(7)
    picks = [pick_weighted([("v1", 90), ("v2", 10)], rng) for _ in range(10_000)]
    share = picks.count("v2") / len(picks)
    assert abs(share - 0.10) <= 0.02


def test_zero_weight_is_never_picked() -> None:
    rng = random.Random(1)
    assert {pick_weighted([("v1", 100), ("v2", 0)], rng) for _ in range(5_000)} == {"v1"}


def test_all_zero_weights_pick_nothing() -> None:
    assert pick_weighted([("a", 0), ("b", 0)], random.Random(0)) is None


@settings(max_examples=40, deadline=None)
@given(weights=st.lists(st.integers(min_value=0, max_value=100), min_size=1, max_size=5), seed=st.integers(0, 2**32))
def test_shares_converge_to_weights(weights: list[int], seed: int) -> None:
    total = sum(weights)
    rng = random.Random(seed)
    n = 4_000
    choices = list(enumerate(weights))
    counts = [0] * len(weights)
    for _ in range(n):
        picked = pick_weighted(choices, rng)
        if total == 0:
            assert picked is None
            return
        assert picked is not None
        counts[picked] += 1
    for i, w in enumerate(weights):
        if w == 0:
            assert counts[i] == 0
        else:
            # 5 standard deviations of a binomial share: a false failure is ~1 in 3.5 million
            p = w / total
            assert abs(counts[i] / n - p) <= 5 * (p * (1 - p) / n) ** 0.5 + 1e-9
