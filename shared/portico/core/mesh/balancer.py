"""Endpoint picking inside a subset: ROUND_ROBIN, LEAST_REQUEST and RANDOM, honouring instance weights as Envoy does.

An instance's registry `weight` is its share of traffic relative to the others (Envoy's load_balancing_weight).
Weight 0 drains an instance: it gets no new requests unless every candidate is at 0.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Sequence
from typing import Protocol

from portico.core.mesh.registry import Instance

ActiveRequests = Callable[[Instance], int]


class Balancer(Protocol):
    def pick(self, candidates: Sequence[Instance], rng: random.Random, active: ActiveRequests) -> Instance: ...


def _eligible(candidates: Sequence[Instance]) -> Sequence[Instance]:
    """Weight-0 (draining) instances only take traffic when nothing else can."""
    weighted = [c for c in candidates if c.weight > 0]
    return weighted or candidates


def _uniform(candidates: Sequence[Instance]) -> bool:
    return len({c.weight for c in candidates}) <= 1


def _weighted(candidates: Sequence[Instance], weights: Sequence[float], rng: random.Random) -> Instance:
    if sum(weights) <= 0:
        return candidates[rng.randrange(len(candidates))]
    return rng.choices(candidates, weights=weights)[0]


class RoundRobin:
    """Smooth weighted round robin (as nginx): equal weights cycle in a stable order; 3:1 gives a, a, b, a.

    State is kept per instance key, so it survives list changes and forgets instances that left.
    """

    def __init__(self) -> None:
        self._current: dict[str, int] = {}

    def pick(self, candidates: Sequence[Instance], rng: random.Random, active: ActiveRequests) -> Instance:
        ordered = sorted(_eligible(candidates), key=lambda i: i.key)  # stable, whatever order the registry returned
        present = {i.key for i in ordered}
        self._current = {k: v for k, v in self._current.items() if k in present}
        total = 0
        best: Instance | None = None
        for inst in ordered:
            weight = max(inst.weight, 1)
            total += weight
            self._current[inst.key] = self._current.get(inst.key, 0) + weight
            if best is None or self._current[inst.key] > self._current[best.key]:
                best = inst
        assert best is not None
        self._current[best.key] -= total
        return best


class LeastRequest:
    """Envoy's default for Istio. Equal weights: two random candidates, fewer active requests wins (P2C), which
    avoids the herd a global "least" would send to a freshly recovered host. Unequal weights: a weighted pick on
    weight / (active + 1), Envoy's formula with its default active_request_bias of 1.
    """

    def pick(self, candidates: Sequence[Instance], rng: random.Random, active: ActiveRequests) -> Instance:
        pool = _eligible(candidates)
        if len(pool) == 1:
            return pool[0]
        if not _uniform(pool):
            return _weighted(pool, [c.weight / (active(c) + 1) for c in pool], rng)
        a, b = rng.sample(list(pool), 2)
        return a if active(a) <= active(b) else b


class RandomPick:
    def pick(self, candidates: Sequence[Instance], rng: random.Random, active: ActiveRequests) -> Instance:
        pool = _eligible(candidates)
        if _uniform(pool):
            return pool[rng.randrange(len(pool))]
        return _weighted(pool, [c.weight for c in pool], rng)


def balancer_for(simple: str | None) -> Balancer:
    """The balancer for a DestinationRule `loadBalancer.simple`; unset and UNSPECIFIED mean Istio's LEAST_REQUEST."""
    if simple == "ROUND_ROBIN":
        return RoundRobin()
    if simple in ("RANDOM", "PASSTHROUGH"):
        return RandomPick()
    return LeastRequest()  # LEAST_REQUEST, LEAST_CONN (its deprecated alias), UNSPECIFIED, None
