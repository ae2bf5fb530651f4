"""Balancers: round robin cycles, least request prefers the idle host, random spreads."""

from __future__ import annotations

import random
from collections import Counter

from portico.core.mesh.balancer import LeastRequest, RandomPick, RoundRobin, balancer_for
from portico.core.mesh.registry import Instance

HOSTS = [Instance("svc", f"i{n}", "10.0.0.1", 15000 + n) for n in range(3)]


def test_round_robin_cycles_in_a_stable_order() -> None:
    rr = RoundRobin()
    picks = [rr.pick(list(reversed(HOSTS)), random.Random(0), lambda i: 0).instance_id for _ in range(6)]
    assert picks == ["i0", "i1", "i2", "i0", "i1", "i2"]


def test_least_request_avoids_the_busy_host() -> None:
    busy = {HOSTS[0].key: 50, HOSTS[1].key: 0, HOSTS[2].key: 0}
    counts = Counter(
        LeastRequest().pick(HOSTS, random.Random(n), lambda i: busy[i.key]).instance_id for n in range(300)
    )
    assert counts["i0"] == 0


def test_random_spreads_over_all_hosts() -> None:
    rng = random.Random(3)
    counts = Counter(RandomPick().pick(HOSTS, rng, lambda i: 0).instance_id for _ in range(3000))
    assert all(900 < c < 1100 for c in counts.values())


def test_default_is_least_request() -> None:
    assert isinstance(balancer_for(None), LeastRequest)
    assert isinstance(balancer_for("ROUND_ROBIN"), RoundRobin)
