"""Calling mesh services from outside a sidecar (the edge's `service` upstream) with an mTLS identity of its own.

The edge Lambda (in a VPC) holds a MeshIdentity such as `spiffe://cluster.local/ns/default/sa/edge`, finds live
instances in the registry, and talks straight to their sidecars' inbound ports: it presents its certificate and
checks that the server proves the destination service's SPIFFE ID. Payments-style AuthorizationPolicies can then
name the edge like any other caller. The attempts are the engine's, as a sidecar's would be: Istio's default
retries (connect failures and 503 for idempotent methods, on another instance), the route's timeout in all.
"""

from __future__ import annotations

import asyncio
import random
from dataclasses import replace
from typing import TYPE_CHECKING

from portico.adapters.http1_client import ClientSettings, Http1Client
from portico.core.http import Request, Response
from portico.core.mesh.policy import ClusterPolicy
from portico.core.mesh.registry import Instance, RegistryStore, live
from portico.core.ports import Clock, UpstreamConnectError, UpstreamOverflow, UpstreamTimeout
from portico.core.upstream.call import Send, UpstreamCall
from portico.core.upstream.cluster import ClusterState
from portico.core.upstream.retry import RetryRule
from portico.upstream_loop import drive

if TYPE_CHECKING:
    from portico.adapters.tls.identity import MeshIdentity


def mtls_settings(identity: MeshIdentity, **extra: object) -> ClientSettings:
    """How a mesh identity dials peers: its current client certificate, and the peer proves the SPIFFE ID of the
    service called (registry addresses may be loopback in development; metadata addresses stay refused)."""
    return ClientSettings(
        allow_loopback=True,
        tls=identity.client_context,
        peer_check=identity.verify_server,
        **extra,  # type: ignore[arg-type]
    )


class MeshServiceClient:
    """What the edge's ServiceRoute calls; clusters and their pools live as long as the container."""

    def __init__(
        self,
        registry: RegistryStore,
        client_settings: ClientSettings,
        clock: Clock,
        *,
        stale_after: float = 15.0,
        cache_for: float = 2.0,
        rng: random.Random | None = None,
    ) -> None:
        self._registry = registry
        self._settings = client_settings  # mTLS context, peer check; per service the expected peer is added
        self._clock = clock
        self._stale_after = stale_after
        self._cache_for = cache_for
        self._rng = rng or random.Random()
        self._instances: dict[str, tuple[float, list[Instance]]] = {}
        self._clusters: dict[str, tuple[ClusterState, Http1Client]] = {}

    async def call(self, service: str, request: Request, path: str, timeout: float) -> Response:
        instances = await self._live(service)
        if not instances:
            raise UpstreamConnectError(f"no live instance of mesh service {service!r}")
        state, client = self._cluster(service)
        request.headers.set("host", service)

        async def attempt(send: Send) -> Response:
            return await client.send(request, f"https://{send.instance.authority}{path}", send.timeout)

        call = UpstreamCall(RetryRule(timeout=timeout), request.method, state, instances, self._rng)
        result = await drive(call, attempt, self._clock.monotonic)
        if result.response is not None:
            return result.response
        if result.error is not None:
            raise result.error
        if result.finish.reason == "overflow":
            raise UpstreamOverflow(f"too many requests in flight to {service}")
        if result.finish.reason == "deadline":
            raise UpstreamTimeout(f"{service} did not answer within {timeout:g}s")
        raise UpstreamConnectError(f"no live instance of mesh service {service!r}")

    async def _live(self, service: str) -> list[Instance]:
        now = self._clock.monotonic()
        cached = self._instances.get(service)
        if cached is None or now - cached[0] > self._cache_for:
            found = await asyncio.to_thread(self._registry.instances, service)
            cached = self._instances[service] = (now, found)
        return live(cached[1], self._clock.now(), self._stale_after)

    def _cluster(self, service: str) -> tuple[ClusterState, Http1Client]:
        found = self._clusters.get(service)
        if found is None:
            state = ClusterState(ClusterPolicy(service, None))
            settings = replace(self._settings, expected_peer=service)
            found = self._clusters[service] = (state, Http1Client(settings, state.breaker))
        return found

    def close(self) -> None:
        for _, client in self._clusters.values():
            client.close()
        self._clusters.clear()
