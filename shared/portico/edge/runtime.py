"""The edge runtime behind the Lambda handler: config cache, pipeline cache and one persistent event loop."""

from __future__ import annotations

import asyncio
import logging
import os
import random
import time
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from portico.core.auth.authenticator import KeySources
from portico.core.auth.jwks_cache import JwksFetcher
from portico.core.chain import Context
from portico.core.config.context import ValidationSettings
from portico.core.config.refresh import ConfigCache
from portico.core.config.route import CorsPolicy
from portico.core.ports import ConfigStore, Transport
from portico.core.problem import problem
from portico.core.quota.limiter import QuotaLimiter
from portico.edge.dispatch.lambda_ import FunctionInvoker
from portico.edge.dispatch.service import MeshCallerFactory

if TYPE_CHECKING:
    from portico.edge.dispatch.grpc import GrpcCaller
    from portico.edge.introspect import CredentialSource
    from portico.edge.portal.backend import PortalBackend
from portico.edge.events import MalformedEvent, http_api, parse_event
from portico.edge.pipeline import EdgeDeps, PipelineCache
from portico.edge.settings import EdgeSettings, SettingsError
from portico.edge.telemetry import EdgeTelemetry

log = logging.getLogger("portico.edge")


class Edge:
    def __init__(self, store: ConfigStore, settings: EdgeSettings, deps: EdgeDeps) -> None:
        self.settings = settings
        self._config = ConfigCache(
            store,
            interval=settings.refresh_interval,
            settings=ValidationSettings(allow_loopback=settings.allow_loopback),
        )
        self._pipelines = PipelineCache(deps)
        self._quota = deps.quota
        self._loop: asyncio.AbstractEventLoop | None = None

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None, **overrides: Any) -> Edge:
        """Build from PORTICO_* settings; raises SettingsError at once on a bad value."""
        settings = EdgeSettings.from_env(os.environ if env is None else env)
        store = overrides.pop("store", None) or _store(settings)
        deps = default_deps(settings, store=store, **overrides)
        return cls(store, settings, deps)

    def warm(self) -> None:
        """Load config and build the pipeline now (Lambda init runs with more CPU); failures retry per request."""
        try:
            loaded = self._config.current(time.monotonic())
            self._pipelines.get(loaded)
        except Exception:  # the store may be unreachable at init; requests answer 503 until it is back
            log.exception("config not loaded at init")
            return
        if loaded.config.rate_limit_policies:
            # Importing boto3 and building the quota client takes ~1 s cold; done inside the first requests, that
            # time counts against their policy's timeout (100 ms by default) and a burst fails open.
            try:
                self._quota()
            except Exception:  # no store wired or reachable: the filter applies each policy's failure mode
                log.warning("quota store not ready at init", exc_info=True)

    async def handle_async(self, event: Any) -> dict[str, Any]:
        try:
            inbound = parse_event(event)
        except MalformedEvent as exc:
            return http_api.serialize(problem(400, f"malformed event: {exc}"))
        ctx = Context(request=inbound.request, now=time.time(), request_id=inbound.request_id)
        try:
            pipeline = self._pipelines.get(self._config.current(time.monotonic()))
        except Exception:  # no config at all yet (store down since cold start): a clear 503, never a trace
            log.exception("config unavailable")
            return inbound.serialize(problem(503, "configuration unavailable", request_id=ctx.request_id or None))
        return inbound.serialize(await pipeline.handler(ctx))

    def handle(self, event: Any) -> dict[str, Any]:
        """Synchronous entry for Lambda: one event loop for the life of the execution environment."""
        if self._loop is None:
            self._loop = asyncio.new_event_loop()
        return self._loop.run_until_complete(self.handle_async(event))

    def close(self) -> None:
        """Close the persistent loop (tests and the benchmark; Lambda just freezes the environment)."""
        if self._loop is not None:
            self._loop.close()
            self._loop = None


def _store(settings: EdgeSettings) -> ConfigStore:
    if settings.config_file:
        return file_store(settings.config_file, ValidationSettings(allow_loopback=settings.allow_loopback))
    from portico.adapters.dynamodb.config_store import DynamoDbConfigStore  # lazy: boto3 only when used

    return DynamoDbConfigStore(settings.config_table)


def file_store(path: str, validation: ValidationSettings) -> ConfigStore:
    """An in-memory store from one YAML file (local development and tests); an invalid file fails at once."""
    from portico.adapters.memory import InMemoryConfigStore
    from portico.core.config.documents import to_mapping
    from portico.core.config.loader import parse_documents
    from portico.core.ports import StoredDocument

    try:
        text = Path(path).read_text()
    except OSError as exc:
        raise SettingsError(f"PORTICO_CONFIG_FILE={path!r} cannot be read: {exc.strerror}") from None
    from portico.adapters.config_files import with_file_reader  # files the config names resolve next to it

    docs, issues = parse_documents(text, file=path, settings=with_file_reader(validation, Path(path)))
    if issues:
        raise SettingsError("PORTICO_CONFIG_FILE is invalid:\n" + "\n".join(str(i) for i in issues))
    return InMemoryConfigStore([StoredDocument(d.kind, d.metadata.name, to_mapping(d)) for d in docs])


def default_deps(
    settings: EdgeSettings,
    transport: Transport | None = None,
    invoker: FunctionInvoker | None = None,
    rng: random.Random | None = None,
    grpc: GrpcCaller | None = None,
    quota: QuotaLimiter | None = None,
    telemetry: EdgeTelemetry | None = None,
    mesh: MeshCallerFactory | None = None,
    store: ConfigStore | None = None,
    env: Mapping[str, str] | None = None,
) -> EdgeDeps:
    chosen: dict[str, Any] = {"transport": transport, "invoker": invoker, "grpc": grpc, "quota": quota}

    def get_transport() -> Transport:
        if chosen["transport"] is None:
            from portico.adapters.http1_client import ClientSettings, Http1Client  # lazy: sockets on first use

            chosen["transport"] = Http1Client(ClientSettings(allow_loopback=settings.allow_loopback))
        return chosen["transport"]  # type: ignore[no-any-return]

    def get_invoker() -> FunctionInvoker:
        if chosen["invoker"] is None:
            from portico.adapters.lambda_invoker import BotoLambdaInvoker  # lazy: boto3 only for lambda routes

            chosen["invoker"] = BotoLambdaInvoker()
        return chosen["invoker"]  # type: ignore[no-any-return]

    def make_jwks_fetcher() -> JwksFetcher:
        from portico.adapters.jwks_http import HttpJwksFetcher  # lazy: sockets only when an issuer needs keys

        return HttpJwksFetcher(allow_loopback=settings.allow_loopback)  # checked at connect time, as upstreams

    def get_grpc() -> GrpcCaller:
        if chosen.get("grpc") is None:
            from portico.adapters.grpc_channel import GrpcChannels  # lazy: grpcio only when a grpc route runs

            chosen["grpc"] = GrpcChannels(allow_loopback=settings.allow_loopback)
        return chosen["grpc"]  # type: ignore[no-any-return]

    def get_quota() -> QuotaLimiter:
        if chosen["quota"] is None:
            from portico.adapters.dynamodb.quota_store import DynamoDbQuotaStore  # lazy: boto3 only when limiting

            chosen["quota"] = QuotaLimiter(DynamoDbQuotaStore.from_env())
        return chosen["quota"]  # type: ignore[no-any-return]

    def get_credentials() -> CredentialSource:
        if chosen.get("credentials") is None:
            from portico.adapters.client_secrets import ClientSecrets  # lazy: boto3 only for a secretId

            chosen["credentials"] = ClientSecrets()
        return chosen["credentials"]  # type: ignore[no-any-return]

    if mesh is None:
        from portico.edge.mesh_client import LazyMeshClient  # no TLS or registry code until a service call

        mesh = LazyMeshClient().get
    source = rng or random.SystemRandom()
    cors = (
        CorsPolicy(
            allow_origins=list(settings.cors_origins), allow_methods=["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE"]
        )
        if settings.cors_origins
        else None
    )
    from portico.adapters.clock import SystemClock

    key_sources = KeySources(make_jwks_fetcher)
    portal_backend: dict[str, PortalBackend] = {}

    def get_portal_backend() -> PortalBackend:
        """The portal's writes go to the config store the edge reads; its secrets come from the environment."""
        if not portal_backend:
            from portico.adapters import secrets
            from portico.edge.portal.backend import PortalBackend

            if store is None:
                raise RuntimeError("portal sign-in needs the config store wired into the edge")
            environ = os.environ if env is None else env
            portal_backend["made"] = PortalBackend(
                store=lambda: store,
                session_key=secrets.session_key(environ),
                client_secret=secrets.client_secret(environ),
                quota=get_quota,
                transport=get_transport,
                key_sources=key_sources,
                rng=os.urandom,
            )
        return portal_backend["made"]

    return EdgeDeps(
        rng=os.urandom if rng is None else source.randbytes,
        jitter=source.random,
        transport=get_transport,
        invoker=get_invoker,
        grpc=get_grpc,
        limits=settings.limits,
        underscores=settings.underscores,
        cors=cors,
        key_sources=key_sources,
        quota=get_quota,
        portal=settings.portal,
        portal_title=settings.portal_title,
        clock=SystemClock(),
        telemetry=telemetry or default_telemetry(settings),
        mesh=mesh,
        credentials=get_credentials,
        ip_policy=settings.ip_policy,
        trusted_proxies=settings.trusted_proxies,
        portal_backend=get_portal_backend if store is not None else None,
    )


def default_telemetry(settings: EdgeSettings) -> EdgeTelemetry:
    """Access log through the Powertools Logger, EMF on stdout, X-Ray only when PORTICO_XRAY=true."""
    from portico.adapters import telemetry as outputs

    service = os.environ.get("POWERTOOLS_SERVICE_NAME") or settings.api_name
    return EdgeTelemetry(
        api=settings.api_name,
        namespace=settings.metrics_namespace,
        access_log=outputs.powertools_access_log(service) if settings.access_log else None,
        metrics=outputs.json_lines() if settings.metrics else None,
        tracer=outputs.xray_tracer(service) if settings.xray else None,
    )
