"""Endpoint picking inside a subset: ROUND_ROBIN, LEAST_REQUEST (power of two choices) and RANDOM, as in Envoy."""

from __future__ import annotations

import random
from collections.abc import Callable, Sequence
from typing import Protocol

from portico.core.mesh.registry import Instance

ActiveRequests = Callable[[Instance], int]


class Balancer(Protocol):
    def pick(self, candidates: Sequence[Instance], rng: random.Random, active: ActiveRequests) -> Instance: ...


class RoundRobin:
    """Cycles through the candidates; the cursor survives list changes (it is taken modulo the current length)."""

    def __init__(self) -> None:
        self._cursor = 0

    def pick(self, candidates: Sequence[Instance], rng: random.Random, active: ActiveRequests) -> Instance:
        ordered = sorted(candidates, key=lambda i: i.key)  # a stable order, whatever order the registry returned
        choice = ordered[self._cursor % len(ordered)]
        self._cursor += 1
        return choice


class LeastRequest:
    """Envoy's default for Istio: two random candidates, the one with fewer active requests wins (P2C).

    P2C avoids the herd that a global "least" would send to a freshly recovered host.
    """

    def pick(self, candidates: Sequence[Instance], rng: random.Random, active: ActiveRequests) -> Instance:
        if len(candidates) == 1:
            return candidates[0]
        a, b = rng.sample(list(candidates), 2)
        return a if active(a) <= active(b) else b


class RandomPick:
    def pick(self, candidates: Sequence[Instance], rng: random.Random, active: ActiveRequests) -> Instance:
        return candidates[rng.randrange(len(candidates))]


def balancer_for(simple: str | None) -> Balancer:
    """The balancer for a DestinationRule `loadBalancer.simple`; unset and UNSPECIFIED mean Istio's LEAST_REQUEST."""
    if simple == "ROUND_ROBIN":
        return RoundRobin()
    if simple in ("RANDOM", "PASSTHROUGH"):
        return RandomPick()
    return LeastRequest()  # LEAST_REQUEST, LEAST_CONN (its deprecated alias), UNSPECIFIED, None
