"""The sidecar process: listeners, registration and heartbeats, app health checks, hot reload and drain."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
import ssl
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import TYPE_CHECKING

from portico.adapters.http1_client import Http1Client
from portico.core.config.refresh import ConfigCache
from portico.core.headers import Headers
from portico.core.http import Request
from portico.core.mesh.protocol import H2_TO_APP, OPAQUE, Protocol
from portico.core.mesh.registry import Health, Instance, RegistryStore
from portico.core.ports import Clock
from portico.core.telemetry.prometheus import Registry
from portico.mesh.admin import AdminHandler
from portico.mesh.discovery import Discovery
from portico.mesh.gauges import register_gauges
from portico.mesh.handshakes import HandshakeCounter
from portico.mesh.http1 import RequestHandler
from portico.mesh.l4sidecar import TcpEndpoints, app_accepts
from portico.mesh.listener import Listener, listen
from portico.mesh.settings import SidecarSettings
from portico.mesh.state import MeshState
from portico.mesh.telemetry import MeshTelemetry

if TYPE_CHECKING:
    from portico.adapters.tls.identity import MeshIdentity
    from portico.mesh.h2server import H2Handler
    from portico.mesh.root import LazyH2

log = logging.getLogger("portico.mesh.sidecar")


@dataclass(frozen=True)
class Entries:
    """What each listener serves: the outbound and inbound chains behind their HTTP/1.1 and HTTP/2 entries."""

    outbound: RequestHandler
    outbound_h2: H2Handler
    inbound: RequestHandler
    inbound_h2: H2Handler


@dataclass(frozen=True)
class SidecarDeps:
    """The sidecar's collaborators, made by its composition root (portico.mesh.root)."""

    clock: Clock
    registry: RegistryStore
    config: ConfigCache
    identity: MeshIdentity | None  # mTLS; None only for the mTLS benchmark's plaintext baseline
    inbound_ssl: ssl.SSLContext | None  # a plain TLS context when there is no identity
    stats: Registry
    telemetry: MeshTelemetry
    emf_write: Callable[[str], None] | None
    handshakes: HandshakeCounter
    discovery: Discovery
    state: MeshState
    app: Http1Client
    h2: LazyH2
    tcp: TcpEndpoints
    entries: Entries


class Sidecar:
    """Runs what its composition root (portico.mesh.root) made; this class owns the lifecycle only."""

    def __init__(self, settings: SidecarSettings, deps: SidecarDeps) -> None:
        self.settings = settings
        self.clock = deps.clock
        self._registry = deps.registry
        self._config = deps.config
        self.identity = deps.identity
        self._inbound_ssl = deps.inbound_ssl
        self.stats = deps.stats
        self.telemetry = deps.telemetry
        self._emf_write = deps.emf_write
        self.handshakes = deps.handshakes
        self.discovery = deps.discovery
        self.state = deps.state
        self._app = deps.app
        self._h2 = deps.h2
        self.tcp = deps.tcp
        self._entries = deps.entries
        self.listeners: dict[str, Listener] = {}
        self._tasks: list[asyncio.Task[None]] = []
        self.app_healthy = False
        self.registered = False
        self.draining = False
        self._instance: Instance | None = None
        self._stopped = asyncio.Event()

    # --- lifecycle
    async def start(self) -> None:
        s = self.settings
        # Store calls (boto3) block, so they run on threads; two are enough and each extra thread costs memory.
        asyncio.get_running_loop().set_default_executor(ThreadPoolExecutor(2, thread_name_prefix="portico-io"))
        if self.identity is not None:
            await self.identity.start()  # no certificate, no inbound listener: plaintext is never the fallback
            self._inbound_ssl = self.identity.listening_context()
        if self._inbound_ssl is not None:
            self.handshakes.watch(self._inbound_ssl)
        await self._reload()
        admin = AdminHandler(self._readiness, self.stats.render, self._dump)
        self.listeners["admin"] = await listen("admin", admin, "127.0.0.1", s.admin_port, limits=s.limits)
        self.listeners["outbound"] = await listen(
            "outbound",
            self._entries.outbound,
            "127.0.0.1",
            s.outbound_port,
            limits=s.limits,
            h2=self._entries.outbound_h2,
        )
        self.listeners["inbound"] = await listen(
            "inbound",
            self._entries.inbound,
            s.inbound_host,
            s.inbound_port,
            ssl_context=self._inbound_ssl,
            limits=s.limits,
            on_tls=self.handshakes.inbound_done,
            h2=self._entries.inbound_h2,
            alpn=self.tcp.alpn_routes(),
        )
        await self.tcp.start()
        self.tcp.register(self.stats)
        register_gauges(self.stats, self.listeners, self.state, self.identity)
        self.app_healthy = await self._check_app()
        await self._publish()
        loops = [self._heartbeat_loop(), self._config_loop(), self.discovery.run(), self._housekeeping_loop()]
        if self.identity is not None:
            loops.append(self.identity.run())  # renewal and trust-bundle refresh
        if self.telemetry.emf is not None and self._emf_write is not None:
            loops.append(self._emf_loop())  # PORTICO_EMF_NAMESPACE: CloudWatch extracts the lines from stdout
        for coro in loops:
            self._tasks.append(asyncio.create_task(coro))
        log.info(
            "sidecar %s/%s up: inbound %d outbound %d admin %d",
            s.service,
            s.instance_id,
            self.port("inbound"),
            self.port("outbound"),
            self.port("admin"),
        )

    def port(self, name: str) -> int:
        return self.listeners[name].port

    def _instance_now(self, health: Health) -> Instance:
        s = self.settings
        return Instance(
            s.service,
            s.instance_id,
            s.address,
            self.port("inbound"),
            dict(s.labels),
            s.weight,
            health,
            self.clock.now(),
            s.zone,
        )

    async def _publish(self) -> None:
        health: Health = "DRAINING" if self.draining else ("HEALTHY" if self.app_healthy else "UNHEALTHY")
        inst = self._instance_now(health)
        try:
            await asyncio.to_thread(self._registry.heartbeat, inst, self.settings.ttl)
            self.registered = True
            self._instance = inst
        except Exception:  # the registry being down must not stop the data path
            log.exception("registry heartbeat failed")

    async def _check_app(self) -> bool:
        if self.settings.app_protocol in OPAQUE:  # a TCP app has no health path: a connect is the check
            return await app_accepts(self.settings.app_port)
        path = self.settings.app_health_path
        if self.settings.app_protocol in H2_TO_APP:  # an HTTP/2 app (grpc, http2) may not speak HTTP/1.1 at all
            try:
                grpc = self.settings.app_protocol is Protocol.GRPC
                return await self._h2.app_forwarder().probe(path, 2.0, grpc=grpc) < 500
            except Exception:
                return False
        probe = Request("GET", path, headers=Headers([("host", "localhost")]), host="localhost")
        try:
            resp = await self._app.send(probe, f"http://127.0.0.1:{self.settings.app_port}{path}", 2.0)
        except Exception:
            return False
        return resp.status < 500

    async def _heartbeat_loop(self) -> None:
        while True:
            await asyncio.sleep(self.settings.heartbeat_interval)
            self.app_healthy = await self._check_app()
            if not self.draining:
                await self._publish()

    async def _config_loop(self) -> None:
        while True:
            await asyncio.sleep(self.settings.config_refresh)
            await self._reload()

    async def _reload(self) -> None:
        # the store is read on a thread (boto3 blocks); the swap happens on the loop so no request sees half a table
        loaded = await asyncio.to_thread(self._config.current, self.clock.monotonic())
        if loaded.version != self.state.version:
            self.state.apply(loaded.config, loaded.version)
            log.info("config version %s loaded (%d skipped)", loaded.version, len(loaded.skipped))

    async def _emf_loop(self) -> None:
        while True:
            await asyncio.sleep(self.settings.emf_interval)
            self._flush_emf()

    def _flush_emf(self) -> None:
        if self._emf_write is not None:
            try:
                self.telemetry.flush_emf(self._emf_write)
            except Exception:  # a metrics sink must never take the data path down
                log.exception("EMF flush failed")

    async def _housekeeping_loop(self) -> None:
        while True:
            await asyncio.sleep(5.0)
            self.state.housekeeping()
            self._h2.housekeeping(asyncio.get_running_loop().time())

    def _readiness(self) -> tuple[bool, str]:
        if self.draining:
            return False, "draining"
        if not self.app_healthy:
            return False, "app not healthy"
        if not self.registered:
            return False, "not registered"
        return True, "ready"

    def _dump(self) -> dict[str, object]:
        s = self.settings
        return {
            "sidecar": {
                "service": s.service,
                "instanceId": s.instance_id,
                "labels": dict(s.labels),
                "address": s.address,
                "zone": s.zone,
                "ports": {**{n: lst.port for n, lst in self.listeners.items()}, **self.tcp.ports()},
                "draining": self.draining,
                "appHealthy": self.app_healthy,
            },
            **({"identity": self.identity.status()} if self.identity is not None else {}),
            **self.state.dump(),
        }

    async def drain(self) -> None:
        """SIGTERM: leave the registry, stop accepting inbound, let in-flight requests finish, then stop."""
        if self.draining:
            return
        self.draining = True
        log.info("draining: deregistering and refusing new inbound connections")
        with contextlib.suppress(Exception):
            await asyncio.to_thread(self._registry.deregister, self.settings.service, self.settings.instance_id)
        inbound = self.listeners["inbound"]
        inbound.server.close()  # new connections are refused; peers retry elsewhere (connect failures are safe)
        inbound.tracker.start_draining()
        deadline = self.clock.monotonic() + self.settings.drain_timeout
        # the outbound listener keeps serving: the app may still call peers while finishing its requests
        # open TCP streams (both ways) get the same time to finish as in-flight requests
        while (inbound.tracker.in_flight > 0 or self.tcp.streams()) and self.clock.monotonic() < deadline:
            await asyncio.sleep(0.05)
        self._stopped.set()

    async def stop(self) -> None:
        for task in self._tasks:
            task.cancel()
        self._flush_emf()  # the last period's figures are not lost at shutdown
        flush_log = getattr(self.telemetry.access_log, "flush", None)
        if callable(flush_log):
            flush_log()  # a batched access log writes what the last turn produced
        for listener in self.listeners.values():
            listener.server.close()
            listener.tracker.start_draining()
        self._app.close()
        self._h2.close()
        self.tcp.close()
        for cluster in self.state.clusters.values():
            cluster.close()

    async def serve_until_signal(self) -> None:
        loop = asyncio.get_running_loop()
        loop.add_signal_handler(signal.SIGTERM, lambda: asyncio.ensure_future(self.drain()))
        loop.add_signal_handler(signal.SIGINT, lambda: asyncio.ensure_future(self.drain()))
        await self._stopped.wait()
        await self.stop()
