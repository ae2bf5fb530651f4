"""Calling mesh services from outside a sidecar (the edge's `service` upstream) with an mTLS identity of its own.

The edge Lambda (in a VPC) holds a MeshIdentity such as `spiffe://cluster.local/ns/default/sa/edge`, finds live
instances in the registry, and talks straight to their sidecars' inbound ports: it presents its certificate and
checks that the server proves the destination service's SPIFFE ID. Payments-style AuthorizationPolicies can then
name the edge like any other caller.
"""

from __future__ import annotations

import asyncio
import random
import time

from portico.adapters.http1_pool import HostPool, PoolSettings
from portico.adapters.tls.identity import MeshIdentity
from portico.core.http import Request, Response
from portico.core.mesh.circuit import CircuitBreaker, Limits
from portico.core.mesh.registry import Instance, RegistryStore, live
from portico.core.ports import UpstreamConnectError


class MeshServiceClient:
    """Implements the edge's Transport-like call for `service` upstreams; pools live as long as the container."""

    def __init__(
        self,
        registry: RegistryStore,
        identity: MeshIdentity,
        *,
        stale_after: float = 15.0,
        cache_for: float = 2.0,
        rng: random.Random | None = None,
    ) -> None:
        self._registry = registry
        self._identity = identity
        self._stale_after = stale_after
        self._cache_for = cache_for
        self._rng = rng or random.Random()
        self._instances: dict[str, tuple[float, list[Instance]]] = {}
        self._pools: dict[tuple[str, str, int], HostPool] = {}
        self._breaker = CircuitBreaker(Limits())

    async def call(self, service: str, request: Request, path: str, timeout: float) -> Response:
        candidates = await self._live(service)
        if not candidates:
            raise UpstreamConnectError(f"no live instance of mesh service {service!r}")
        inst = self._rng.choice(candidates)
        return await self._pool(service, inst).request(request, path, service, timeout)

    async def _live(self, service: str) -> list[Instance]:
        now = time.monotonic()
        cached = self._instances.get(service)
        if cached is None or now - cached[0] > self._cache_for:
            found = await asyncio.to_thread(self._registry.instances, service)
            cached = self._instances[service] = (now, found)
        return live(cached[1], time.time(), self._stale_after)

    def _pool(self, service: str, inst: Instance) -> HostPool:
        key = (service, inst.address, inst.port)
        pool = self._pools.get(key)
        if pool is None:
            settings = PoolSettings(
                ssl_context=self._identity.client_context,
                peer_check=self._identity.verify_server,
                expected_peer=service,
            )
            pool = self._pools[key] = HostPool(inst.address, inst.port, self._breaker, settings)
        return pool

    def close(self) -> None:
        for pool in self._pools.values():
            pool.close()
        self._pools.clear()
