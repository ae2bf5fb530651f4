"""The edge's composition root: which adapters the edge runs with, each made on first use.

Entry points (the Lambda handler, the local front door, benchmarks, tests) get an Edge through Edge.from_env,
which asks this module for its store and its EdgeDeps; nothing else in the edge constructs an adapter. Each adapter
is made lazily, so a config that never calls Lambda never imports boto3's Lambda client, and one with no http
route never opens a socket: cold start pays only for what the config uses.
"""

from __future__ import annotations

import os
import random
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Generic, TypeVar

from portico.core.auth.authenticator import KeySources
from portico.core.auth.jwks_cache import JwksFetcher
from portico.core.config.context import ValidationSettings
from portico.core.config.route import CorsPolicy
from portico.core.ports import ConfigStore, Transport
from portico.core.quota.limiter import QuotaLimiter
from portico.edge.dispatch.lambda_ import FunctionInvoker
from portico.edge.dispatch.service import MeshCallerFactory
from portico.edge.pipeline import EdgeDeps
from portico.edge.settings import EdgeSettings, SettingsError
from portico.edge.telemetry import EdgeTelemetry

if TYPE_CHECKING:
    from portico.edge.dispatch.grpc import GrpcCaller
    from portico.edge.introspect import CredentialSource
    from portico.edge.portal.backend import PortalBackend

T = TypeVar("T")


class Lazy(Generic[T]):
    """One adapter: the one given (tests, benchmarks), else made by `make` on the first call and kept."""

    def __init__(self, make: Callable[[], T], given: T | None = None) -> None:
        self._make = make
        self._made = given

    def __call__(self) -> T:
        if self._made is None:
            self._made = self._make()
        return self._made


def store_for(settings: EdgeSettings) -> ConfigStore:
    """The config store the settings name: one YAML file (development), else the DynamoDB config table."""
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
    def http_client() -> Transport:
        from portico.adapters.http1_client import ClientSettings, Http1Client  # sockets on first use

        return Http1Client(ClientSettings(allow_loopback=settings.allow_loopback))

    def lambda_invoker() -> FunctionInvoker:
        from portico.adapters.lambda_invoker import BotoLambdaInvoker  # boto3 only for lambda routes

        return BotoLambdaInvoker()

    def make_jwks_fetcher() -> JwksFetcher:
        from portico.adapters.jwks_http import HttpJwksFetcher  # lazy: sockets only when an issuer needs keys

        return HttpJwksFetcher(allow_loopback=settings.allow_loopback)  # checked at connect time, as upstreams

    def grpc_channels() -> GrpcCaller:
        from portico.adapters.grpc_channel import GrpcChannels  # grpcio only when a grpc route runs

        return GrpcChannels(allow_loopback=settings.allow_loopback)

    def quota_limiter() -> QuotaLimiter:
        from portico.adapters.dynamodb.quota_store import DynamoDbQuotaStore  # boto3 only when limiting

        return QuotaLimiter(DynamoDbQuotaStore.from_env())

    def client_secrets() -> CredentialSource:
        from portico.adapters.client_secrets import ClientSecrets  # boto3 only for a secretId

        return ClientSecrets()

    get_transport = Lazy(http_client, transport)
    get_invoker = Lazy(lambda_invoker, invoker)
    get_grpc = Lazy(grpc_channels, grpc)
    get_quota = Lazy(quota_limiter, quota)
    get_credentials = Lazy(client_secrets)

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
                history_keep=settings.history_keep,
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
