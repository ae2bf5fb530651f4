"""What the data path reads per request: compiled routes and policies, clusters, discovery and stats.

A config reload builds new route and policy tables and swaps them in one assignment; in-flight requests keep the
route they matched, so a reload never drops or re-routes a request halfway.
"""

from __future__ import annotations

import asyncio
from typing import Any

from portico.adapters.http1_client import ClientSettings, Http1Client
from portico.core.config.configset import ConfigSet
from portico.core.mesh.policy import PolicyTable
from portico.core.mesh.vsmatch import RouteTable
from portico.core.ports import Clock
from portico.core.telemetry.prometheus import Registry
from portico.mesh.cluster import Cluster, TransportFactory
from portico.mesh.discovery import Discovery


class MeshState:
    def __init__(
        self,
        discovery: Discovery,
        stats: Registry,
        clock: Clock,
        client_settings: ClientSettings | None = None,
        *,
        scheme: str = "http",
        transport: TransportFactory = Http1Client,
    ) -> None:
        self.discovery = discovery
        self.stats = stats
        self.clock = clock
        self.routes = RouteTable()
        self.policies = PolicyTable()
        self.config = ConfigSet()
        self.version = -1
        self.clusters: dict[tuple[str, str | None], Cluster] = {}
        # peers are sidecars registered in the mesh: loopback is how they live on one host in development
        self.client_settings = client_settings or ClientSettings(allow_loopback=True)
        self.scheme = scheme  # https: mTLS between sidecars
        self._transport = transport

    def apply(self, config: ConfigSet, version: int) -> None:
        routes, policies = RouteTable.build(config), PolicyTable.build(config)
        self.routes, self.policies, self.config, self.version = routes, policies, config, version
        for key, cluster in self.clusters.items():
            policy = policies.get(*key)
            if policy is not None:
                cluster.update(policy)

    def cluster(self, service: str, subset: str | None) -> Cluster | None:
        key = (service, subset)
        found = self.clusters.get(key)
        policy = self.policies.get(service, subset)
        if policy is None:
            return None
        if found is None:
            found = self.clusters[key] = Cluster(policy, self.client_settings, self.scheme, self._transport)
        return found

    def housekeeping(self) -> None:
        """Drop per-host state of instances that left the registry; close idle connections past idleTimeout."""
        now = asyncio.get_running_loop().time()  # the pool stamps idle connections with the loop's clock
        for (service, _), cluster in self.clusters.items():
            cluster.prune(self.discovery.stored(service), now)

    def dump(self) -> dict[str, Any]:
        now = self.clock.monotonic()
        return {
            "configVersion": self.version,
            "virtualServices": {
                n: d.model_dump(by_alias=True, mode="json") for n, d in self.config.virtual_services.items()
            },
            "destinationRules": {
                n: d.model_dump(by_alias=True, mode="json") for n, d in self.config.destination_rules.items()
            },
            "clusters": {
                c.policy.name: {
                    "lb": c.policy.lb,
                    "requests": c.state.breaker.requests,
                    "connections": c.state.breaker.connections,
                    "pending": c.state.breaker.pending,
                    "ejected": c.state.outlier.ejected(now) if c.state.outlier else [],
                }
                for c in self.clusters.values()
            },
            "registry": {
                s: [
                    {
                        "instanceId": i.instance_id,
                        "address": i.authority,
                        "labels": dict(i.labels),
                        "health": i.health,
                        "weight": i.weight,
                        "heartbeat": i.heartbeat,
                    }
                    for i in self.discovery.stored(s)
                ]
                for s in self.discovery.known()
            },
        }
