"""The sidecar's composition root: settings -> adapters -> clock, transport, registry, cert source, telemetry ->
engine -> the chains each listener serves.

`portico sidecar` (portico.mesh.main) and the mTLS benchmark get a Sidecar through `build`; tests and anything
that brings its own stores call `compose`. Nothing else in the mesh constructs an adapter or assembles a chain:
`Sidecar` receives what it runs (SidecarDeps) and owns only the lifecycle (listeners, registration and heartbeats,
health checks, reload, drain). HTTP/2 parts are made on the first HTTP/2 stream (LazyH2), so an HTTP/1.1-only mesh
never loads h2.
"""

from __future__ import annotations

import os
import random
import ssl
from collections.abc import Awaitable, Callable
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING

from portico.adapters.clock import SystemClock
from portico.adapters.http1_client import ClientSettings, Http1Client
from portico.core.chain import Context, Filter, Handler, build_chain
from portico.core.config.mesh_documents import MESH_KINDS
from portico.core.config.refresh import ConfigCache
from portico.core.http import Request, Response
from portico.core.mesh.protocol import H2_TO_APP
from portico.core.mesh.registry import RegistryStore
from portico.core.mtls.authz import Workload
from portico.core.ports import Clock, ConfigStore
from portico.core.telemetry.prometheus import Registry
from portico.mesh.attrs import CONN
from portico.mesh.authz import AuthorizationFilter
from portico.mesh.client import mtls_settings
from portico.mesh.cluster import TransportFactory
from portico.mesh.discovery import Discovery
from portico.mesh.h2body import H2Body
from portico.mesh.handshakes import HandshakeCounter
from portico.mesh.http1 import ConnInfo, RequestHandler
from portico.mesh.inbound import AppForwarder, InboundHygieneFilter, PeerIdentityFilter
from portico.mesh.l4sidecar import TcpEndpoints
from portico.mesh.outbound import outbound_chain
from portico.mesh.settings import SidecarSettings
from portico.mesh.sidecar import Entries, Sidecar, SidecarDeps
from portico.mesh.state import MeshState
from portico.mesh.telemetry import LogSink, MeshTelemetry, TelemetryFilter

if TYPE_CHECKING:  # h2 (about 1.5 MiB) loads on the first HTTP/2 request, or at start for an h2c app
    from portico.adapters.tls.identity import MeshIdentity
    from portico.mesh.h2proxy import AppH2Forwarder, H2Dispatcher
    from portico.mesh.h2server import H2Handler
    from portico.mesh.identity import IdentitySettings


def build(settings: SidecarSettings, identity: MeshIdentity | None) -> Sidecar:
    """The sidecar and its AWS adapters. `identity=None` (no mTLS) exists only for the mTLS benchmark's plaintext
    baseline, so that the two differ in nothing else; the command never builds one."""
    from portico.adapters import aws_env
    from portico.adapters.aws_json import client as aws_json_client
    from portico.adapters.dynamodb.config_store import DynamoDbConfigStore
    from portico.adapters.dynamodb.registry_store import DynamoDbRegistryStore
    from portico.adapters.file_config_store import FileConfigStore
    from portico.adapters.telemetry import BatchedJsonLines

    names = aws_env.table_names()
    ddb = aws_json_client("dynamodb", timeout=2.0, retries=2)  # one client for both tables
    config: ConfigStore = (
        FileConfigStore([Path(settings.config_file)])
        if settings.config_file
        else DynamoDbConfigStore(names["config"], client=ddb)
    )
    seed = os.environ.get("PORTICO_SEED")  # reproducible weighted/fault/balancer choices for tests and benchmarks
    rng = random.Random(int(seed)) if seed else random.Random()
    return compose(
        settings,
        DynamoDbRegistryStore(names["registry"], client=ddb),
        config,
        rng=rng,
        identity=identity,
        access_log=BatchedJsonLines() if settings.access_log else None,  # one JSON line per request on stdout
        emf_write=print_line if settings.emf_namespace else None,
        clock=SystemClock(),  # the data path reads time only through the Clock port
    )


def mesh_identity_for(settings: SidecarSettings) -> MeshIdentity:
    """The sidecar's mTLS identity and its certificate source; ValueError when the settings name none.

    Certificates are issued in a child process (certworker): cryptography never enters the sidecar's memory."""
    from portico.mesh.certworker import WorkerCertSource, aws_json_clients
    from portico.mesh.identity import cert_source, mesh_identity, resolve_identity

    identity_settings: IdentitySettings = resolve_identity(settings.service)
    source = WorkerCertSource(identity_settings, cert_source(identity_settings, aws_json_clients))
    return mesh_identity(identity_settings, source)


def compose(
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
    transport: TransportFactory = Http1Client,
) -> Sidecar:
    """The sidecar from its stores: `inbound_ssl`/`outbound_ssl` are where plain TLS contexts plug in when there is
    no mesh identity; `transport` makes each cluster's pooled client (the Transport port)."""
    s = settings
    clock = clock or SystemClock()
    rng = rng or random.Random()
    # one registry for /stats: the telemetry filters and the data path (retries, ejections, overflow) share it
    stats = Registry()
    # span ids must differ between sidecars even when PORTICO_SEED fixes routing choices, so not `rng`; a
    # generator seeded from the OS (ids need uniqueness, not secrecy) spares a getrandom call per request
    telemetry = MeshTelemetry(
        s.service,
        clock,
        random.Random(os.urandom(32)).randbytes,
        registry=stats,
        access_log=access_log,
        emf_namespace=s.emf_namespace,
    )
    handshakes = HandshakeCounter(stats)
    # mTLS: the identity's contexts rotate; pools take the current client context for each new connection and
    # check that the server proves the destination service's SPIFFE ID. Without one, peers are sidecars found in
    # the registry: loopback is how they share a host in development.
    client_settings = (
        mtls_settings(identity, on_handshake=handshakes.outbound)
        if identity is not None
        else ClientSettings(allow_loopback=True, tls=outbound_ssl, on_handshake=handshakes.outbound)
    )
    tls = identity is not None or outbound_ssl is not None
    discovery = Discovery(registry, clock, stale_after=s.stale_after, refresh_interval=s.registry_refresh)
    state = MeshState(discovery, stats, clock, client_settings, scheme="https" if tls else "http", transport=transport)
    app = Http1Client(ClientSettings(allow_loopback=True))  # the local app, on 127.0.0.1
    # HTTP/2 to peers: the same identity and peer check, offering ALPN h2 (docs/mesh-protocols.md)
    h2_tls = identity.h2_client_context if identity is not None else outbound_ssl
    h2 = LazyH2(state, rng, replace(client_settings, tls=h2_tls), s, app)
    if s.app_protocol in H2_TO_APP:  # an h2c app: its health check speaks HTTP/2 from the start
        h2.app_forwarder()

    # --- the chains, each read top to bottom
    def inbound_chain(forward: Handler) -> Handler:
        filters: list[Filter] = [
            TelemetryFilter(telemetry, "destination"),  # outermost: continues the caller's trace, times the hop
            InboundHygieneFilter(s.underscores),  # callers cannot claim an identity through headers
            PeerIdentityFilter(identity.peer_policy if identity else None),  # verified identity only
            *authorization(s, identity, state, stats),  # AuthorizationPolicy on that identity, live with config
            *(inbound_filters or []),
        ]
        return build_chain(filters, forward)

    def outbound_h2_chain() -> Handler:
        from portico.mesh.h2proxy import outbound_h2_chain

        return outbound_h2_chain(state, telemetry, rng, h2.dispatcher(), s.underscores)

    entries = Entries(
        outbound=entry(outbound_chain(state, telemetry, rng, s.underscores), clock),
        outbound_h2=h2_entry(outbound_h2_chain, clock),
        inbound=entry(inbound_chain(AppForwarder(app, s.app_port)), clock),
        inbound_h2=h2_entry(lambda: inbound_chain(h2.app_forwarder()), clock),
    )
    deps = SidecarDeps(
        clock=clock,
        registry=registry,
        # the sidecar validates and keeps only the kinds it serves; the edge's Routes are not its to check
        config=ConfigCache(config, interval=s.config_refresh, kinds=MESH_KINDS),
        identity=identity,
        inbound_ssl=inbound_ssl,
        stats=stats,
        telemetry=telemetry,
        emf_write=emf_write,
        handshakes=handshakes,
        discovery=discovery,
        state=state,
        app=app,
        h2=h2,
        # opaque TCP: streams on the mTLS port by ALPN, local listeners per --tcp-upstreams (docs/mesh-protocols.md)
        tcp=TcpEndpoints(s, state, identity, rng, handshakes.outbound),
        entries=entries,
    )
    return Sidecar(settings, deps)


def authorization(s: SidecarSettings, identity: MeshIdentity | None, state: MeshState, stats: Registry) -> list[Filter]:
    """AuthorizationPolicy on the caller's verified identity; none without mTLS (there is no identity to check)."""
    if identity is None:
        return []
    workload = Workload(identity.identity.namespace, {"app": s.service, **s.labels})

    def on_deny() -> None:
        stats.inc("portico_inbound_denied_total", (("reason", "rbac"),))

    def on_dry_run(allowed: bool) -> None:
        stats.inc("portico_authz_dry_run_total", (("result", "allowed" if allowed else "denied"),))

    return [AuthorizationFilter(lambda: (state.version, state.config), workload, s.app_port, on_deny, on_dry_run)]


def entry(chain: Handler, clock: Clock) -> RequestHandler:
    """An HTTP/1.1 listener's entry: the chain's coroutine, not one more."""
    now = clock.now

    def handle(req: Request, info: ConnInfo) -> Awaitable[Response]:
        return chain(Context(request=req, now=now(), attrs={CONN: info}))

    return handle


def h2_entry(build_chain_: Callable[[], Handler], clock: Clock) -> H2Handler:
    """An HTTP/2 stream's entry; the chain (and with it the h2 modules) is built on the first stream."""
    now = clock.now
    built: list[tuple[Handler, str]] = []

    async def handle(req: Request, info: ConnInfo, body: H2Body) -> Response:
        if not built:
            from portico.mesh.h2proxy import BODY

            built.append((build_chain_(), BODY))
        chain, body_attr = built[0]
        return await chain(Context(request=req, now=now(), attrs={CONN: info, body_attr: body}))

    return handle


class LazyH2:
    """The HTTP/2 dispatcher to peers and the forwarder to an HTTP/2 app, each made on first use."""

    def __init__(
        self,
        state: MeshState,
        rng: random.Random,
        client_settings: ClientSettings,
        settings: SidecarSettings,
        app: Http1Client,
    ) -> None:
        self._state = state
        self._rng = rng
        self._client_settings = client_settings
        self._settings = settings
        self._app = app
        self._dispatcher: H2Dispatcher | None = None
        self._app_forwarder: AppH2Forwarder | None = None

    def dispatcher(self) -> H2Dispatcher:
        if self._dispatcher is None:
            from portico.mesh.h2proxy import H2Dispatcher

            self._dispatcher = H2Dispatcher(self._state, self._rng, self._client_settings)
        return self._dispatcher

    def app_forwarder(self) -> AppH2Forwarder:
        if self._app_forwarder is None:
            from portico.mesh.h2proxy import AppH2Forwarder

            h2c = self._settings.app_protocol in H2_TO_APP
            self._app_forwarder = AppH2Forwarder(self._settings.app_port, h2c, self._app)
        return self._app_forwarder

    def housekeeping(self, now: float) -> None:
        for made in (self._dispatcher, self._app_forwarder):
            if made is not None:
                made.housekeeping(now)

    def close(self) -> None:
        for made in (self._dispatcher, self._app_forwarder):
            if made is not None:
                made.close()


def print_line(line: str) -> None:
    print(line, flush=True)
