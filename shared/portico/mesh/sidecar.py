"""The sidecar process: listeners, registration and heartbeats, app health checks, hot reload and drain."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import random
import signal
import ssl
from collections.abc import Awaitable, Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from typing import TYPE_CHECKING

from portico.adapters.clock import SystemClock
from portico.adapters.http1_client import ClientSettings, Http1Client
from portico.adapters.tls.identity import MeshIdentity
from portico.core.chain import Context, Filter, Handler, build_chain
from portico.core.config.mesh_documents import MESH_KINDS
from portico.core.config.refresh import ConfigCache
from portico.core.headers import Headers
from portico.core.http import Request, Response
from portico.core.mesh.protocol import H2_TO_APP, OPAQUE, Protocol
from portico.core.mesh.registry import Health, Instance, RegistryStore
from portico.core.mtls.authz import Workload
from portico.core.ports import Clock, ConfigStore
from portico.core.telemetry.prometheus import Registry
from portico.mesh.admin import AdminHandler
from portico.mesh.attrs import CONN
from portico.mesh.authz import AuthorizationFilter
from portico.mesh.client import mtls_settings
from portico.mesh.discovery import Discovery
from portico.mesh.gauges import register_gauges
from portico.mesh.h2body import H2Body
from portico.mesh.handshakes import HandshakeCounter
from portico.mesh.http1 import ConnInfo, RequestHandler
from portico.mesh.inbound import AppForwarder, InboundHygieneFilter, PeerIdentityFilter
from portico.mesh.l4sidecar import TcpEndpoints, app_accepts
from portico.mesh.listener import Listener, listen
from portico.mesh.outbound import outbound_chain
from portico.mesh.settings import SidecarSettings
from portico.mesh.state import MeshState
from portico.mesh.telemetry import LogSink, MeshTelemetry, TelemetryFilter

if TYPE_CHECKING:  # h2 (about 1.5 MiB) loads on the first HTTP/2 request, or at start for an h2c app
    from portico.mesh.h2proxy import AppH2Forwarder, H2Dispatcher
    from portico.mesh.h2server import H2Handler

log = logging.getLogger("portico.mesh.sidecar")


class Sidecar:
    """Built by the entry point with its stores; `inbound_ssl`/`outbound_ssl` are where mTLS contexts plug in."""

    def __init__(
        self,
        settings: SidecarSettings,
        registry: RegistryStore,
        config: ConfigStore,
        *,
        inbound_ssl: ssl.SSLContext | None = None,
        outbound_ssl: ssl.SSLContext | None = None,
        inbound_filters: list[Filter] | None = None,
        rng: random.Random | None = None,
        identity: MeshIdentity | None = None,
        access_log: LogSink | None = None,
        emf_write: Callable[[str], None] | None = None,
        clock: Clock | None = None,
    ) -> None:
        self.settings = settings
        self.clock: Clock = clock or SystemClock()
        self._registry = registry
        # the sidecar validates and keeps only the kinds it serves; the edge's Routes are not its to check
        self._config = ConfigCache(config, interval=settings.config_refresh, kinds=MESH_KINDS)
        self._inbound_ssl = inbound_ssl
        # mTLS: the identity's contexts rotate; pools take the current client context for each new connection
        # and check that the server proves the destination service's SPIFFE ID.
        self.identity = identity
        # one registry for /stats: the telemetry filters and the data path (retries, ejections, overflow) share it
        self.stats = Registry()
        # span ids must differ between sidecars even when PORTICO_SEED fixes routing choices, so not self._rng; a
        # generator seeded from the OS (ids need uniqueness, not secrecy) spares a getrandom call per request
        self.telemetry = MeshTelemetry(
            settings.service,
            self.clock,
            random.Random(os.urandom(32)).randbytes,
            registry=self.stats,
            access_log=access_log,
            emf_namespace=settings.emf_namespace,
        )
        self._emf_write = emf_write
        self.handshakes = HandshakeCounter(self.stats)
        # peers are sidecars found in the registry: loopback is how they share a host in development
        client_settings = (
            mtls_settings(identity, on_handshake=self.handshakes.outbound)
            if identity is not None
            else ClientSettings(allow_loopback=True, tls=outbound_ssl, on_handshake=self.handshakes.outbound)
        )
        tls = identity is not None or outbound_ssl is not None
        self.discovery = Discovery(
            registry, self.clock, stale_after=settings.stale_after, refresh_interval=settings.registry_refresh
        )
        self.state = MeshState(
            self.discovery, self.stats, self.clock, client_settings, scheme="https" if tls else "http"
        )
        self._rng = rng or random.Random()
        self._app = Http1Client(ClientSettings(allow_loopback=True))  # the local app, on 127.0.0.1
        # HTTP/2 to peers: the same identity and peer check, offering ALPN h2 (docs/mesh-protocols.md)
        h2_tls = identity.h2_client_context if identity is not None else outbound_ssl
        self._h2_settings = replace(client_settings, tls=h2_tls)
        self._h2: H2Dispatcher | None = None  # made on the first HTTP/2 request (self._h2_dispatcher)
        self._app_h2: AppH2Forwarder | None = None
        if settings.app_protocol in H2_TO_APP:  # an h2c app: its health check speaks HTTP/2 from the start
            self._h2_app_forwarder()
        self._extra_inbound = inbound_filters or []
        self.listeners: dict[str, Listener] = {}
        self._tasks: list[asyncio.Task[None]] = []
        self.app_healthy = False
        self.registered = False
        self.draining = False
        self._instance: Instance | None = None
        self._stopped = asyncio.Event()
        self.tcp = TcpEndpoints(settings, self.state, None, self._rng)  # built for real in start()

    # --- assembly: each chain reads top to bottom
    def _outbound_chain(self) -> Handler:
        return outbound_chain(self.state, self.telemetry, self._rng, self.settings.underscores)

    def _inbound_chain(self, forward: Handler | None = None) -> Handler:
        filters: list[Filter] = [
            TelemetryFilter(self.telemetry, "destination"),  # outermost: continues the caller's trace, times the hop
            InboundHygieneFilter(self.settings.underscores),  # callers cannot claim an identity through headers
            PeerIdentityFilter(self.identity.peer_policy if self.identity else None),  # verified identity only
            *self._authorization(),  # AuthorizationPolicy on that identity, live with config
            *self._extra_inbound,
        ]
        return build_chain(filters, forward or AppForwarder(self._app, self.settings.app_port))

    def _authorization(self) -> list[Filter]:
        if self.identity is None:
            return []
        s = self.settings
        workload = Workload(self.identity.identity.namespace, {"app": s.service, **s.labels})

        def on_deny() -> None:
            self.stats.inc("portico_inbound_denied_total", (("reason", "rbac"),))

        def on_dry_run(allowed: bool) -> None:
            self.stats.inc("portico_authz_dry_run_total", (("result", "allowed" if allowed else "denied"),))

        return [
            AuthorizationFilter(
                lambda: (self.state.version, self.state.config), workload, s.app_port, on_deny, on_dry_run
            )
        ]

    def _entry(self, chain: Handler) -> RequestHandler:
        now = self.clock.now

        def handle(req: Request, info: ConnInfo) -> Awaitable[Response]:  # the chain's coroutine, not one more
            return chain(Context(request=req, now=now(), attrs={CONN: info}))

        return handle

    def _h2_dispatcher(self) -> H2Dispatcher:
        if self._h2 is None:
            from portico.mesh.h2proxy import H2Dispatcher

            self._h2 = H2Dispatcher(self.state, self._rng, self._h2_settings)
        return self._h2

    def _h2_app_forwarder(self) -> AppH2Forwarder:
        if self._app_h2 is None:
            from portico.mesh.h2proxy import AppH2Forwarder

            h2c = self.settings.app_protocol in H2_TO_APP
            self._app_h2 = AppH2Forwarder(self.settings.app_port, h2c, self._app)
        return self._app_h2

    def _outbound_h2_chain(self) -> Handler:
        from portico.mesh.h2proxy import outbound_h2_chain

        s = self.settings
        return outbound_h2_chain(self.state, self.telemetry, self._rng, self._h2_dispatcher(), s.underscores)

    def _h2_entry(self, build: Callable[[], Handler]) -> H2Handler:
        """An HTTP/2 stream's entry; the chain (and with it the h2 modules) is built on the first stream."""
        now = self.clock.now
        built: list[tuple[Handler, str]] = []

        async def handle(req: Request, info: ConnInfo, body: H2Body) -> Response:
            if not built:
                from portico.mesh.h2proxy import BODY

                built.append((build(), BODY))
            chain, body_attr = built[0]
            return await chain(Context(request=req, now=now(), attrs={CONN: info, body_attr: body}))

        return handle

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
        # opaque TCP: streams on the mTLS port by ALPN, local listeners per --tcp-upstreams (docs/mesh-protocols.md)
        self.tcp = TcpEndpoints(s, self.state, self.identity, self._rng, self.handshakes.outbound)
        await self._reload()
        admin = AdminHandler(self._readiness, self.stats.render, self._dump)
        self.listeners["admin"] = await listen("admin", admin, "127.0.0.1", s.admin_port, limits=s.limits)
        self.listeners["outbound"] = await listen(
            "outbound",
            self._entry(self._outbound_chain()),
            "127.0.0.1",
            s.outbound_port,
            limits=s.limits,
            h2=self._h2_entry(self._outbound_h2_chain),
        )
        self.listeners["inbound"] = await listen(
            "inbound",
            self._entry(self._inbound_chain()),
            s.inbound_host,
            s.inbound_port,
            ssl_context=self._inbound_ssl,
            limits=s.limits,
            on_tls=self.handshakes.inbound_done,
            h2=self._h2_entry(lambda: self._inbound_chain(self._h2_app_forwarder())),
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
                return await self._h2_app_forwarder().probe(path, 2.0, grpc=grpc) < 500
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
            now = asyncio.get_running_loop().time()
            for h2 in (self._h2, self._app_h2):
                if h2 is not None:
                    h2.housekeeping(now)

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
        for h2 in (self._h2, self._app_h2):
            if h2 is not None:
                h2.close()
        self.tcp.close()
        for cluster in self.state.clusters.values():
            cluster.close()

    async def serve_until_signal(self) -> None:
        loop = asyncio.get_running_loop()
        loop.add_signal_handler(signal.SIGTERM, lambda: asyncio.ensure_future(self.drain()))
        loop.add_signal_handler(signal.SIGINT, lambda: asyncio.ensure_future(self.drain()))
        await self._stopped.wait()
        await self.stop()
