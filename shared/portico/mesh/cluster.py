"""Runtime state of one upstream cluster (service + subset): breaker, outlier detector, balancer, host pools.

State outlives config reloads: a reload swaps the policy in place, so counters and ejections carry over and
in-flight requests keep the objects they already hold.
"""

from __future__ import annotations

import random
from collections import defaultdict
from collections.abc import Sequence

from portico.adapters.http1_pool import HostPool, PoolSettings
from portico.core.mesh.balancer import Balancer, balancer_for
from portico.core.mesh.circuit import CircuitBreaker
from portico.core.mesh.outlier import OutlierDetector
from portico.core.mesh.policy import ClusterPolicy
from portico.core.mesh.registry import Instance, matching
from portico.core.mesh.retry import RetryBudget


class Cluster:
    def __init__(self, policy: ClusterPolicy, pool_settings: PoolSettings) -> None:
        self.policy = policy
        self.breaker = CircuitBreaker(policy.limits)
        self.budget = RetryBudget()
        self.outlier = OutlierDetector(policy.outlier) if policy.outlier else None
        self.balancer: Balancer = balancer_for(policy.lb)
        self.active: defaultdict[str, int] = defaultdict(int)
        self._pool_settings = pool_settings
        self.pools: dict[str, HostPool] = {}

    def update(self, policy: ClusterPolicy) -> None:
        if policy == self.policy:
            return
        if policy.lb != self.policy.lb:
            self.balancer = balancer_for(policy.lb)
        if policy.outlier != self.policy.outlier:
            self.outlier = OutlierDetector(policy.outlier) if policy.outlier else None
        self.breaker.limits = policy.limits
        self.policy = policy
        for pool in self.pools.values():
            pool.settings = self._settings()

    def _settings(self) -> PoolSettings:
        lim = self.policy.limits
        base = self._pool_settings
        return PoolSettings(
            connect_timeout=lim.connect_timeout,
            idle_timeout=lim.idle_timeout,
            max_requests_per_connection=lim.max_requests_per_connection,
            ssl_context=base.ssl_context,
            server_hostname=base.server_hostname,
            peer_check=base.peer_check,
            on_handshake=base.on_handshake,
            expected_peer=self.policy.service,  # mTLS: the server must prove this service's identity
        )

    def candidates(self, instances: Sequence[Instance], now: float) -> list[Instance]:
        members = matching(instances, self.policy.labels)
        if self.outlier is not None:
            self.outlier.sweep(now)
            return self.outlier.available(members, now)
        return members

    def pick(self, candidates: Sequence[Instance], rng: random.Random, exclude: set[str]) -> Instance | None:
        """An instance not tried yet by this request, when there is one (Envoy's previous_hosts predicate)."""
        if not candidates:
            return None
        fresh = [c for c in candidates if c.key not in exclude] or list(candidates)
        return self.balancer.pick(fresh, rng, lambda i: self.active[i.key])

    def pool(self, instance: Instance) -> HostPool:
        pool = self.pools.get(instance.key)
        if pool is None or (pool.host, pool.port) != (instance.address, instance.port):
            if pool is not None:
                pool.close()
            pool = self.pools[instance.key] = HostPool(instance.address, instance.port, self.breaker, self._settings())
        return pool

    def record(self, instance: Instance, status: int | None, now: float, pool_size: int) -> bool:
        return self.outlier.record(instance.key, status, now, pool_size) if self.outlier else False

    def prune(self, live_keys: set[str], now: float) -> None:
        for key in [k for k in self.pools if k not in live_keys]:
            self.pools.pop(key).close()
        for key in [k for k, v in self.active.items() if v == 0 and k not in live_keys]:
            del self.active[key]
        if self.outlier is not None:
            self.outlier.forget(live_keys)
        for pool in self.pools.values():
            pool.reap_idle(now)
