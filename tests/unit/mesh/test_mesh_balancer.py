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


def _weighted_hosts(*weights: int) -> list[Instance]:
    return [Instance("svc", f"w{n}", "10.0.0.2", 16000 + n, weight=w) for n, w in enumerate(weights)]


def test_round_robin_is_smooth_and_exact_for_weights() -> None:
    rr = RoundRobin()
    hosts = _weighted_hosts(3, 1)
    picks = [rr.pick(hosts, random.Random(0), lambda i: 0).instance_id for _ in range(400)]
    assert picks[:4] == ["w0", "w0", "w1", "w0"]
    assert Counter(picks) == {"w0": 300, "w1": 100}


def test_random_and_least_request_follow_weights_when_idle() -> None:
    hosts = _weighted_hosts(3, 1)
    for balancer in (RandomPick(), LeastRequest()):
        rng = random.Random(7)
        counts = Counter(balancer.pick(hosts, rng, lambda i: 0).instance_id for _ in range(8000))
        assert 0.72 < counts["w0"] / 8000 < 0.78, (type(balancer).__name__, counts)


def test_weighted_least_request_shifts_away_from_load() -> None:
    hosts = _weighted_hosts(3, 1)
    busy = {hosts[0].key: 11, hosts[1].key: 0}  # 3 / 12 = 0.25 against 1 / 1: the light host takes ~80%
    rng = random.Random(5)
    counts = Counter(LeastRequest().pick(hosts, rng, lambda i: busy[i.key]).instance_id for _ in range(4000))
    assert counts["w1"] / 4000 > 0.75


def test_weight_zero_drains_unless_every_instance_is_zero() -> None:
    hosts = _weighted_hosts(0, 2, 2)
    for balancer in (RoundRobin(), RandomPick(), LeastRequest()):
        rng = random.Random(1)
        assert all(balancer.pick(hosts, rng, lambda i: 0).instance_id != "w0" for _ in range(500))
    only_zero = _weighted_hosts(0, 0)
    assert {RandomPick().pick(only_zero, random.Random(n), lambda i: 0).instance_id for n in range(50)} == {"w0", "w1"}
