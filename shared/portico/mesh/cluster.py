"""One upstream cluster of the sidecar (service + subset): the engine's state and the connection pool to its hosts.

State outlives config reloads: a reload swaps the policy in place, so counters, ejections and connections carry over
and in-flight requests keep the objects they already hold.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from typing import Protocol

from portico.adapters.http1_client import ClientSettings, Http1Client
from portico.core.mesh.circuit import CircuitBreaker
from portico.core.mesh.policy import ClusterPolicy
from portico.core.mesh.registry import Instance
from portico.core.ports import Transport
from portico.core.upstream.cluster import ClusterState


class PooledTransport(Transport, Protocol):
    """A Transport that keeps connections: the sidecar's housekeeping closes what is idle or gone."""

    settings: ClientSettings

    def reap_idle(self, now: float) -> None: ...

    def retain(self, origins: set[str]) -> None: ...

    def close(self) -> None: ...


# how a cluster gets its transport: the pooled HTTP/1 client in production, an in-process double in tests
TransportFactory = Callable[[ClientSettings, CircuitBreaker], PooledTransport]


class Cluster:
    """`client_settings` are the sidecar's (mTLS, handshake telemetry); the policy adds limits and the peer."""

    def __init__(
        self,
        policy: ClusterPolicy,
        client_settings: ClientSettings,
        scheme: str,
        transport: TransportFactory = Http1Client,
    ) -> None:
        self.state = ClusterState(policy)
        self._base = client_settings
        self._scheme = scheme
        self.client = transport(self._settings(), self.state.breaker)
        self._origins: dict[str, str] = {}

    @property
    def policy(self) -> ClusterPolicy:
        return self.state.policy

    def update(self, policy: ClusterPolicy) -> None:
        if policy != self.state.policy:
            self.state.update(policy)
            self.client.settings = self._settings()

    def _settings(self) -> ClientSettings:
        lim = self.state.policy.limits
        return replace(
            self._base,
            connect_timeout=lim.connect_timeout,
            idle_timeout=lim.idle_timeout,
            max_requests_per_connection=lim.max_requests_per_connection,
            max_idle_per_host=lim.max_connections,
            expected_peer=self.state.policy.service,  # mTLS: the server must prove this service's identity
        )

    def origin(self, instance: Instance) -> str:
        """`scheme://address:port` of an instance's inbound listener (cached: it is built per request otherwise)."""
        key = instance.authority
        found = self._origins.get(key)
        if found is None:
            if len(self._origins) > 4096:  # bounded by the registry in practice; never by traffic
                self._origins.clear()
            found = self._origins[key] = f"{self._scheme}://{key}"
        return found

    def prune(self, instances: list[Instance], now: float) -> None:
        """Forget hosts that left the registry; close connections idle past idleTimeout (`now`: the loop's clock)."""
        self.state.forget({i.key for i in instances})
        self.client.retain({self.origin(i) for i in instances})
        self.client.reap_idle(now)

    def close(self) -> None:
        self.client.close()
