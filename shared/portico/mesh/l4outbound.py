"""Opaque TCP from the app (a local listener per --tcp-upstreams entry) to a peer's sidecar over mTLS.

For each accepted connection: read the ClientHello's SNI when the upstream is `/tls`, route by the VirtualService's
`tcp`/`tls` routes (core/mesh/l4route.py), hold DestinationRule connectionPool.tcp (maxConnections, connectTimeout,
idleTimeout, maxConnectionDuration, tcpKeepalive), pick an instance with the cluster's balancer and outlier view,
dial its sidecar (each address checked against metadata/link-local ranges at connect time, as the HTTP pools do),
make the server prove the destination's SPIFFE ID, then send the preamble and pump bytes.
A failed dial (no bytes sent yet) is tried on another instance, up to three attempts.
"""

from __future__ import annotations

import asyncio
import logging
import random
import socket
from collections.abc import Callable
from typing import Any

from portico.adapters.resolve import Resolver, checked_addresses, system_resolver
from portico.core.config.istio_networking import TcpKeepalive
from portico.core.mesh.clienthello import MAX_HELLO, MORE, NOT_TLS, sni_of
from portico.core.mesh.l4frame import preamble
from portico.core.mesh.l4route import L4Limits, L4RouteTable, Target, TcpUpstream, l4_limits
from portico.core.mesh.registry import Instance
from portico.core.ports import UpstreamConnectError, UpstreamRefused
from portico.mesh.l4inbound import CLOSED, OPENED, REFUSED
from portico.mesh.l4pipe import Flow, MeshSide, Pipe
from portico.mesh.state import MeshState

log = logging.getLogger("portico.mesh.tcp")

ATTEMPTS = 3
HELLO_TIMEOUT = 10.0


class OutboundTcp:
    def __init__(
        self,
        upstream: TcpUpstream,
        state: MeshState,
        *,
        service: str,
        tls_context: Callable[[], Any],
        verify_server: Callable[[Any, str], object],
        rng: random.Random,
        on_handshake: Callable[[str], None] | None = None,
        allow_loopback: bool = True,
        resolver: Resolver = system_resolver,
    ) -> None:
        self.upstream = upstream
        self._state = state
        self._service = service
        self._tls = tls_context
        self._verify = verify_server
        self._rng = rng
        self._on_handshake = on_handshake
        self._allow_loopback = allow_loopback  # peers are sidecars in the registry: loopback in development
        self._resolver = resolver
        self._tables: tuple[int, L4RouteTable] = (-2, L4RouteTable())
        self._limits: dict[tuple[str, str | None], L4Limits] = {}
        self.active: dict[tuple[str, str | None], int] = {}
        self.open: set[Pipe] = set()
        self._tasks: set[asyncio.Task[None]] = set()
        self.server: asyncio.Server | None = None

    async def start(self, host: str = "127.0.0.1") -> asyncio.Server:
        loop = asyncio.get_running_loop()
        self.server = await loop.create_server(
            self._accept, host, self.upstream.local_port, reuse_address=True, backlog=1024
        )
        return self.server

    @property
    def port(self) -> int:
        assert self.server is not None
        return int(self.server.sockets[0].getsockname()[1])

    def _accept(self) -> asyncio.BaseProtocol:
        pipe = Pipe(self._closed)
        pipe.app.reading_early = self.upstream.tls  # a ClientHello is read before routing; else nothing is
        task = asyncio.create_task(self._open(pipe))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return pipe.app

    def routes(self) -> L4RouteTable:
        version = self._state.version
        if self._tables[0] != version:
            self._tables = (version, L4RouteTable.build(self._state.config))
            self._limits.clear()
        return self._tables[1]

    def limits(self, service: str, subset: str | None) -> L4Limits:
        """connectionPool.tcp of a cluster, worked out once per config version (routes() clears them)."""
        found = self._limits.get((service, subset))
        if found is None:
            found = self._limits[(service, subset)] = l4_limits(self._state.config, service, subset)
        return found

    async def _open(self, pipe: Pipe) -> None:
        try:
            await self._route_and_dial(pipe)
        except Exception:  # a bug here must cost this stream only, and give its slot back
            log.exception("tcp stream setup failed")
            pipe.abort()

    async def _route_and_dial(self, pipe: Pipe) -> None:
        try:
            await pipe.app.connected
        except ConnectionError:
            return
        up = self.upstream
        sni = None
        if up.tls:
            sni = await self._sni(pipe)
            if pipe.closed:
                return
        target = self.routes().target(up.service, up.port, sni, up.tls, self._rng)
        if target is None:
            self._refuse(pipe, "no-route", f"the route for {up.service}:{up.port} has no destination weight")
            return
        limits = self.limits(target.service, target.subset)
        key = (target.service, target.subset)
        cluster = self._state.cluster(target.service, target.subset)
        if cluster is None:
            self._refuse(pipe, "no-subset", f"no DestinationRule defines subset {target.subset!r} of {target.service}")
            return
        if self.active.get(key, 0) >= limits.max_connections:
            self._refuse(pipe, "overflow", f"maxConnections ({limits.max_connections}) to {target.service} reached")
            return
        self.active[key] = self.active.get(key, 0) + 1
        pipe.key = key
        labels = (("reporter", "source"), ("source", self._service), ("destination", target.service))
        pipe.labels = labels
        self.open.add(pipe)
        self._state.stats.inc(OPENED, labels)
        instances = await self._state.discovery.instances(target.service)
        candidates = cluster.state.candidates(instances, self._state.clock.monotonic())
        tried: set[str] = set()
        for _ in range(ATTEMPTS):
            instance = cluster.state.pick(candidates, self._rng, tried)
            if instance is None or pipe.closed:
                break
            tried.add(instance.key)
            if await self._dial(pipe, instance, target, limits):
                pipe.flow = Flow(self._state.stats, labels, app_is_client=True)
                pipe.idle_timeout = limits.idle_timeout or None
                if limits.max_connection_duration:
                    pipe.expire_after(limits.max_connection_duration)
                pipe.join()
                return
        reason = "connect" if tried else "no-healthy"  # every try failed, or there was nothing to try
        self._state.stats.inc(REFUSED, (("reporter", "source"), ("reason", reason)))
        log.info("tcp to %s:%d: no instance could be reached (%d tried)", target.service, target.port, len(tried))
        pipe.abort()

    async def _dial(self, pipe: Pipe, instance: Instance, target: Target, limits: L4Limits) -> bool:
        loop = asyncio.get_running_loop()
        side = MeshSide(pipe)  # one per attempt: a failed attempt's close must not end the pipe
        try:
            async with asyncio.timeout(limits.connect_timeout):
                addresses = await checked_addresses(
                    instance.address, instance.port, self._resolver, allow_loopback=self._allow_loopback
                )
                transport, _ = await loop.create_connection(lambda: side, addresses[0], instance.port, ssl=self._tls())
        except (OSError, TimeoutError, UpstreamConnectError, UpstreamRefused) as exc:
            if self._on_handshake is not None and isinstance(exc, OSError) and "SSL" in type(exc).__name__:
                self._on_handshake("failed")
            log.warning("tcp dial to %s (%s) failed: %s", instance.key, instance.authority, exc)
            return False
        try:
            self._verify(transport.get_extra_info("ssl_object"), target.service)
        except Exception as exc:  # the server is not who we meant to call: it gets no byte
            transport.abort()
            if self._on_handshake is not None:
                self._on_handshake("rejected")
            log.warning("tcp peer %s refused: %s", instance.authority, exc)
            return False
        if self._on_handshake is not None:
            self._on_handshake("ok")
        _keepalive(transport, limits.keepalive)
        pipe.mesh = side
        transport.write(preamble(target.port))
        return True

    async def _sni(self, pipe: Pipe) -> str | None:
        """Read the app's ClientHello (up to MAX_HELLO bytes, HELLO_TIMEOUT seconds); it is sent on, unchanged."""
        app = pipe.app
        deadline = asyncio.get_running_loop().time() + HELLO_TIMEOUT
        while not pipe.closed:
            found = sni_of(bytes(app.early))
            if found == NOT_TLS or (found == MORE and len(app.early) >= MAX_HELLO):
                self._refuse(pipe, "not-tls", "the connection did not start with a TLS ClientHello")
                return None
            if found != MORE:
                if app.transport is not None:
                    app.transport.pause_reading()
                return found
            if app.eof_pending or asyncio.get_running_loop().time() > deadline:
                self._refuse(pipe, "not-tls", "no complete ClientHello")
                return None
            await app.more()
        return None

    def _refuse(self, pipe: Pipe, reason: str, detail: str) -> None:
        self._state.stats.inc(REFUSED, (("reporter", "source"), ("reason", reason)))
        log.info("tcp connection refused (%s): %s", reason, detail)
        pipe.abort()

    def _closed(self, pipe: Pipe) -> None:
        if pipe in self.open:
            self.open.discard(pipe)
            self._state.stats.inc(CLOSED, pipe.labels)
            key = pipe.key
            if key is not None:
                self.active[key] = max(0, self.active.get(key, 0) - 1)

    def close(self) -> None:
        if self.server is not None:
            self.server.close()
        for pipe in list(self.open):
            pipe.abort()


def _keepalive(transport: asyncio.BaseTransport, settings: TcpKeepalive | None) -> None:
    sock = transport.get_extra_info("socket")
    if settings is None or sock is None:
        return
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_KEEPALIVE, 1)
        if settings.time is not None and hasattr(socket, "TCP_KEEPIDLE"):
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_KEEPIDLE, max(1, int(settings.time)))
        if settings.interval is not None and hasattr(socket, "TCP_KEEPINTVL"):
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_KEEPINTVL, max(1, int(settings.interval)))
        if settings.probes is not None and hasattr(socket, "TCP_KEEPCNT"):
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_KEEPCNT, settings.probes)
    except OSError as exc:
        log.debug("tcpKeepalive not applied: %s", exc)
