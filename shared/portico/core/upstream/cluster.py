"""Per-cluster bookkeeping of the engine: breaker, retry budget, outlier detector, balancer and in-flight counts.

Pure state, no I/O: the attempt machine reads and updates it; adapters keep their connections elsewhere. It outlives
config reloads: `update` swaps the policy in place, so counters and ejections carry over.
"""

from __future__ import annotations

import random
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass

from portico.core.mesh.balancer import Balancer, balancer_for
from portico.core.mesh.circuit import CircuitBreaker
from portico.core.mesh.outlier import OutlierDetector
from portico.core.mesh.policy import ClusterPolicy
from portico.core.mesh.registry import Instance, matching


@dataclass(slots=True)
class RetryBudget:
    """Envoy's retry budget: retries in flight at most `percent` of active requests, with a floor of `floor`.

    The budget counts concurrency, not rates, so a slow upstream under a retry storm cannot multiply load.
    """

    percent: float = 20.0
    floor: int = 3
    active_requests: int = 0
    active_retries: int = 0

    def limit(self) -> int:
        return max(self.floor, int(self.active_requests * self.percent / 100))

    def try_acquire(self) -> bool:
        if self.active_retries >= self.limit():
            return False
        self.active_retries += 1
        return True

    def release(self) -> None:
        self.active_retries = max(0, self.active_retries - 1)


class ClusterState:
    """One upstream cluster (a mesh service + subset, or an edge route's URL) as the engine sees it."""

    def __init__(self, policy: ClusterPolicy) -> None:
        self.policy = policy
        self.breaker = CircuitBreaker(policy.limits)
        self.budget = RetryBudget()
        self.outlier = OutlierDetector(policy.outlier) if policy.outlier else None
        self.balancer: Balancer = balancer_for(policy.lb)
        self.active: defaultdict[str, int] = defaultdict(int)

    def update(self, policy: ClusterPolicy) -> None:
        if policy == self.policy:
            return
        if policy.lb != self.policy.lb:
            self.balancer = balancer_for(policy.lb)
        if policy.outlier != self.policy.outlier:
            self.outlier = OutlierDetector(policy.outlier) if policy.outlier else None
        self.breaker.limits = policy.limits
        self.policy = policy

    def candidates(self, instances: Sequence[Instance], now: float) -> list[Instance]:
        members = matching(instances, self.policy.labels) if self.policy.labels else list(instances)
        if self.outlier is not None:
            self.outlier.sweep(now)
            return self.outlier.available(members, now)
        return members

    def pick(self, candidates: Sequence[Instance], rng: random.Random, exclude: set[str]) -> Instance | None:
        """An instance not tried yet by this request, when there is one (Envoy's previous_hosts predicate)."""
        if not candidates:
            return None
        if len(candidates) == 1:
            return candidates[0]
        fresh = [c for c in candidates if c.key not in exclude] if exclude else candidates
        return self.balancer.pick(fresh or candidates, rng, self._active)

    def _active(self, instance: Instance) -> int:
        return self.active[instance.key]

    def record(self, instance: Instance, status: int | None, now: float, pool_size: int) -> bool:
        """Count one outcome for outlier detection; True when it ejected the host."""
        return self.outlier.record(instance.key, status, now, pool_size) if self.outlier else False

    def forget(self, live_keys: set[str]) -> None:
        """Drop per-host state of instances that left the registry, so memory stays bounded by its size."""
        for key in [k for k, v in self.active.items() if v == 0 and k not in live_keys]:
            del self.active[key]
        if self.outlier is not None:
            self.outlier.forget(live_keys)
