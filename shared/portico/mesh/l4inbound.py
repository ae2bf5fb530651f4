"""Opaque TCP arriving on the mTLS port (ALPN portico-tcp): preamble, peer identity, policy, then the app's port.

The app port comes from the stream's preamble and must be one the sidecar declares as `tcp` or `tls`
(--app-protocol / --app-ports): a peer can never reach another local port (the admin port, say) this way. The
peer is the SPIFFE identity OpenSSL verified; AuthorizationPolicy is evaluated on it and on the port, as Istio
evaluates a TCP connection (core/mtls/l4authz.py). A denied or refused stream is closed before the app is dialled,
so the app never sees a byte of it.
"""

from __future__ import annotations

import asyncio
import logging
import typing
from collections.abc import Callable, Mapping

from portico.adapters.tls.peer import PeerRejected
from portico.core.config.configset import ConfigSet
from portico.core.mesh.l4frame import PREAMBLE_SIZE, FrameError, parse_preamble
from portico.core.mesh.protocol import PortProtocol
from portico.core.mtls.authz import PolicySet, Workload
from portico.core.mtls.l4authz import connection_facts, for_connections
from portico.core.mtls.spiffe import SpiffeId
from portico.core.telemetry.prometheus import Registry
from portico.mesh.l4pipe import Flow, Pipe

log = logging.getLogger("portico.mesh.tcp")

OPENED = "portico_tcp_connections_opened_total"
CLOSED = "portico_tcp_connections_closed_total"
REFUSED = "portico_tcp_refused_total"
PREAMBLE_TIMEOUT = 10.0


class InboundTcp:
    def __init__(
        self,
        *,
        service: str,
        ports: Mapping[int, PortProtocol],
        peer_of: Callable[[object], SpiffeId],
        config: Callable[[], tuple[int, ConfigSet]],
        workload: Workload,
        stats: Registry,
        connect_timeout: float = 5.0,
        max_streams: int = 4096,
    ) -> None:
        self._service = service
        self._ports = frozenset(p.port for p in ports.values() if p.is_opaque)
        self._peer_of = peer_of
        self._config = config
        self._workload = workload
        self._stats = stats
        self._connect_timeout = connect_timeout
        self._max_streams = max_streams  # the listener's connection cap (PORTICO_MAX_CONNECTIONS) holds for streams
        self._version: int | None = None
        self._policies = PolicySet()
        self.open: set[Pipe] = set()
        self._tasks: set[asyncio.Task[None]] = set()

    def policies(self) -> PolicySet:
        version, config = self._config()
        if version != self._version:
            workload_policies = PolicySet.for_workload(config.authorization_policies.values(), self._workload)
            self._policies, self._version = for_connections(workload_policies), version
        return self._policies

    def protocol(self, transport: asyncio.BaseTransport) -> asyncio.BaseProtocol:
        """The protocol for one connection that negotiated ALPN portico-tcp (called from mesh/alpn.py)."""
        pipe = Pipe(self._closed)
        mesh = pipe.mesh
        head = bytearray()
        try:
            peer = self._peer_of(transport.get_extra_info("ssl_object"))
        except PeerRejected as exc:
            self._refuse("identity", None, str(exc))
            typing.cast(asyncio.Transport, transport).abort()
            return mesh
        address = transport.get_extra_info("peername")
        source_ip = str(address[0]) if address else ""
        timer = asyncio.get_running_loop().call_later(PREAMBLE_TIMEOUT, pipe.abort)

        def preamble(data: memoryview) -> None:
            head.extend(data)
            if len(head) < PREAMBLE_SIZE:
                return
            timer.cancel()
            mesh.raw = None
            try:
                port = parse_preamble(bytes(head[:PREAMBLE_SIZE]))
            except FrameError as exc:
                self._refuse("preamble", peer, str(exc))
                pipe.abort()
                return
            rest = bytes(head[PREAMBLE_SIZE:])
            if mesh.transport is not None:
                mesh.transport.pause_reading()  # nothing more until the app is connected
            task = asyncio.create_task(self._connect(pipe, peer, source_ip, port, rest))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)

        mesh.raw = preamble
        return mesh

    async def _connect(self, pipe: Pipe, peer: SpiffeId, source_ip: str, port: int, rest: bytes) -> None:
        try:
            await self._admit_and_dial(pipe, peer, source_ip, port, rest)
        except Exception:  # a bug here must cost this stream only
            log.exception("tcp stream from %s failed", peer)
            pipe.abort()

    async def _admit_and_dial(self, pipe: Pipe, peer: SpiffeId, source_ip: str, port: int, rest: bytes) -> None:
        if len(self.open) >= self._max_streams:
            self._refuse("overflow", peer, f"{len(self.open)} streams open: the listener's cap")
            pipe.abort()
            return
        if port not in self._ports:
            self._refuse("port", peer, f"port {port} is not a declared tcp/tls app port")
            pipe.abort()
            return
        policies = self.policies()
        if not policies.allows_all:
            decision = policies.evaluate(connection_facts(peer, port, source_ip))
            if not decision.allowed:
                self._refuse("rbac", peer, decision.reason)
                self._stats.inc("portico_inbound_denied_total", (("reason", "rbac"),))
                pipe.abort()
                return
        labels = (("reporter", "destination"), ("source", peer.service), ("destination", self._service))
        pipe.flow = Flow(self._stats, labels, app_is_client=False)
        loop = asyncio.get_running_loop()
        try:
            async with asyncio.timeout(self._connect_timeout):
                await loop.create_connection(lambda: pipe.app, "127.0.0.1", port)
        except (OSError, TimeoutError) as exc:
            self._refuse("app", peer, f"the app on port {port} is not reachable: {exc}")
            pipe.abort()
            return
        if pipe.closed:  # the peer went away while the app was being dialled
            if pipe.app.transport is not None:
                pipe.app.transport.abort()
            return
        self.open.add(pipe)
        self._stats.inc(OPENED, labels)
        pipe.labels = labels
        pipe.join()
        if rest:
            pipe.mesh.frames(memoryview(rest))
        if pipe.mesh.transport is not None and not pipe.closed:
            pipe.mesh.transport.resume_reading()

    def _refuse(self, reason: str, peer: SpiffeId | None, detail: str) -> None:
        self._stats.inc(REFUSED, (("reporter", "destination"), ("reason", reason)))
        log.info("tcp stream from %s refused (%s): %s", peer, reason, detail)

    def _closed(self, pipe: Pipe) -> None:
        if pipe in self.open:
            self.open.discard(pipe)
            self._stats.inc(CLOSED, pipe.labels)
