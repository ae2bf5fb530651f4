"""The sidecar's opaque-TCP parts, assembled once: the inbound ALPN route and the outbound local listeners.

Opaque TCP needs the mesh identity (mTLS is what carries and authorises it): a sidecar built without one (the
mTLS benchmark's plaintext baseline) refuses to start with --tcp-upstreams, and serves no opaque app port.
"""

from __future__ import annotations

import asyncio
import random
from typing import TYPE_CHECKING

from portico.core.mesh.l4frame import ALPN
from portico.core.mtls.authz import Workload
from portico.core.telemetry.prometheus import Labels, Registry
from portico.mesh.alpn import AlpnRoutes
from portico.mesh.l4inbound import InboundTcp
from portico.mesh.l4outbound import OutboundTcp
from portico.mesh.settings import SidecarSettings
from portico.mesh.state import MeshState

if TYPE_CHECKING:
    from portico.adapters.tls.identity import MeshIdentity


class TcpEndpoints:
    def __init__(
        self,
        settings: SidecarSettings,
        state: MeshState,
        identity: MeshIdentity | None,
        rng: random.Random,
        on_handshake: object = None,
    ) -> None:
        self.inbound: InboundTcp | None = None
        self.outbound: list[OutboundTcp] = []
        self._needs_identity = identity is None and bool(settings.tcp_upstreams)
        if identity is None:
            return
        s = settings
        self.inbound = InboundTcp(
            service=s.service,
            ports=s.app_port_protocols,
            peer_of=identity.peer_of,
            config=lambda: (state.version, state.config),
            workload=Workload(identity.identity.namespace, {"app": s.service, **s.labels}),
            stats=state.stats,
            max_streams=s.limits.max_connections,
        )
        self.outbound = [
            OutboundTcp(
                up,
                state,
                service=s.service,
                tls_context=identity.opaque_client_context,
                verify_server=identity.verify_server,
                rng=rng,
                on_handshake=on_handshake if callable(on_handshake) else None,
            )
            for up in s.tcp_upstreams
        ]

    def alpn_routes(self) -> AlpnRoutes | None:
        return {ALPN: self.inbound.protocol} if self.inbound is not None else None

    async def start(self) -> None:
        if self._needs_identity:
            raise ValueError("--tcp-upstreams needs mTLS: the sidecar has no mesh identity")
        for out in self.outbound:
            await out.start()

    def streams(self) -> int:
        """Opaque TCP streams open now, in and out."""
        inbound = len(self.inbound.open) if self.inbound is not None else 0
        return inbound + sum(len(o.open) for o in self.outbound)

    def ports(self) -> dict[str, int]:
        return {f"tcp:{o.upstream.service}:{o.upstream.port}": o.port for o in self.outbound if o.server is not None}

    def register(self, stats: Registry) -> None:
        def active() -> list[tuple[Labels, float]]:
            rows: list[tuple[Labels, float]] = [
                ((("reporter", "source"),), float(sum(len(o.open) for o in self.outbound)))
            ]
            if self.inbound is not None:
                rows.append(((("reporter", "destination"),), float(len(self.inbound.open))))
            return rows

        stats.gauge("portico_tcp_active_connections", active, "Opaque TCP streams open now, per side.")

    def close(self) -> None:
        for out in self.outbound:
            out.close()
        if self.inbound is not None:
            for pipe in list(self.inbound.open):
                pipe.abort()


async def app_accepts(port: int, timeout: float = 2.0) -> bool:
    """The health check of an app whose port speaks tcp or tls (App Mesh's `tcp` health check): it accepts."""
    try:
        async with asyncio.timeout(timeout):
            _, writer = await asyncio.open_connection("127.0.0.1", port)
    except (OSError, TimeoutError):
        return False
    writer.close()
    return True
