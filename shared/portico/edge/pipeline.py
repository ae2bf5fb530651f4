"""Assembles the edge filter chain for one config version; read it top to bottom, one step per line with its why.

A new step is one more `steps.append(...)` line at its place (docs/edge.md lists the chain and must follow it).
Each filter is `async (ctx, next) -> Response`; the dispatcher is the last handler. Per-request data is passed in
`ctx.attrs` (keys in portico.edge.filters.attrs, documented in docs/edge.md).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, TypeVar

from portico.core.auth.authenticator import Authenticator, KeySources
from portico.core.auth.errors import AuthUnavailable
from portico.core.auth.jwks_cache import JwksFetcher, JwksFetchError, JwksResponse
from portico.core.chain import Filter, Handler, build_chain
from portico.core.config.route import CorsPolicy
from portico.core.config.snapshot import LoadedConfig
from portico.core.hop import UnderscoreAction
from portico.core.iprules import IpNetwork, IpRuleSet
from portico.core.portal.openapi import openapi_document
from portico.core.ports import Clock, Transport
from portico.edge.dispatch.dispatcher import Dispatcher
from portico.edge.dispatch.lambda_ import FunctionInvoker
from portico.edge.dispatch.service import MeshCallerFactory
from portico.edge.filters.access_log import AccessLogFilter
from portico.edge.filters.auth import AuthenticationFilter, AuthorisationFilter, IdentityHeadersFilter
from portico.edge.filters.cache import CacheFilter
from portico.edge.filters.cors import CorsFilter
from portico.edge.filters.deprecation import DeprecationFilter
from portico.edge.filters.guard import ErrorGuardFilter
from portico.edge.filters.hygiene import HeaderHygieneFilter
from portico.edge.filters.ip import ClientIpFilter, RefusedClientScreen, RouteIpRules
from portico.edge.filters.limits import Limits, LimitsFilter
from portico.edge.filters.normalize import PathNormalizeFilter
from portico.edge.filters.portal import PortalFilter
from portico.edge.filters.ratelimit import QuotaFactory, RateLimitFilter, no_quota_store
from portico.edge.filters.request_id import RequestIdFilter
from portico.edge.filters.route import EdgeRoutes, RouteFilter, build_routes
from portico.edge.filters.transform import TransformFilter
from portico.edge.filters.version import VersionFilter, declared_versions
from portico.edge.filters.xray import XRayFilter
from portico.edge.portal import load_assets
from portico.edge.telemetry import EdgeTelemetry

if TYPE_CHECKING:
    from portico.core.auth.clientcert import CertificateReader
    from portico.core.auth.decisions import AuthState
    from portico.core.config.protection import ClientCredentials
    from portico.edge.dispatch.grpc import GrpcCaller
    from portico.edge.introspect import CredentialSource, Introspector
    from portico.edge.portal.backend import PortalBackend


class _NoJwksFetcher:
    """Until an entry point wires a real fetcher, jwksUri issuers fail closed (401, logged), never silently open."""

    async def fetch(self, url: str) -> JwksResponse:
        raise JwksFetchError("no JWKS fetcher is wired into EdgeDeps")


T = TypeVar("T")


class _NoCredentials:
    """Until an entry point wires a credential source, introspection routes deny (503), never pass unchecked."""

    async def credentials(self, spec: ClientCredentials, now: float) -> tuple[str, str]:
        raise AuthUnavailable("no client credential source is wired into EdgeDeps")


def _once(make: Callable[[], T]) -> Callable[[], T]:
    """`make()` on first call, the same object after: process-wide state whose code is imported only when used."""
    made: list[T] = []

    def get() -> T:
        if not made:
            made.append(make())
        return made[0]

    return get


def _auth_state() -> AuthState:
    from portico.core.auth.decisions import AuthState  # lazy: only configs with introspection or external authz

    return AuthState()


def _cert_reader() -> CertificateReader:
    from portico.core.auth.clientcert import CertificateReader  # lazy: only configs with client certificates

    return CertificateReader()


def _unwired_key_sources() -> KeySources:
    def make() -> JwksFetcher:
        return _NoJwksFetcher()

    return KeySources(make)


@dataclass(frozen=True, slots=True)
class EdgeDeps:
    """What the entry point wires in: adapters (created lazily), randomness and settings."""

    rng: Callable[[int], bytes]
    jitter: Callable[[], float]
    transport: Callable[[], Transport]
    invoker: Callable[[], FunctionInvoker]
    limits: Limits = field(default_factory=Limits)
    underscores: UnderscoreAction = "drop"  # header names with `_` (PORTICO_HEADERS_WITH_UNDERSCORES)
    cors: CorsPolicy | None = None
    quota: QuotaFactory = no_quota_store  # the process-wide limiter: its leases and stats outlive config versions
    portal: bool = True
    portal_title: str = "Portico API"
    grpc: Callable[[], GrpcCaller] | None = None
    # JWKS caches outlive config versions, so a reload neither refetches keys nor resets the refetch rate limit
    key_sources: KeySources = field(default_factory=_unwired_key_sources)
    clock: Clock | None = None  # latency timing; None (some tests) leaves the access log and timing out
    telemetry: EdgeTelemetry = field(default_factory=EdgeTelemetry)
    mesh: MeshCallerFactory | None = None  # `service` upstreams; None answers them 502 (no mesh identity wired)
    ip_policy: IpRuleSet = field(default_factory=IpRuleSet)  # PORTICO_IP_ALLOW / PORTICO_IP_DENY
    trusted_proxies: tuple[IpNetwork, ...] = ()  # PORTICO_TRUSTED_PROXIES (CloudFront in front)
    # introspection client credentials (environment or Secrets Manager), made on first use
    credentials: Callable[[], CredentialSource] = _NoCredentials
    # introspection answers and authoriser decisions outlive config versions, like the JWKS caches
    auth_state: Callable[[], AuthState] = field(default_factory=lambda: _once(_auth_state))
    cert_reader: Callable[[], CertificateReader] = field(default_factory=lambda: _once(_cert_reader))
    portal_backend: Callable[[], PortalBackend] | None = None  # sign-in and self-service keys (docs/portal.md)


@dataclass(frozen=True, slots=True)
class Pipeline:
    version: int
    handler: Handler
    routes: EdgeRoutes


def edge_filters(loaded: LoadedConfig, deps: EdgeDeps, routes: EdgeRoutes) -> list[Filter]:
    config = loaded.config
    steps: list[Filter] = []
    steps.append(ErrorGuardFilter())  # outermost: no stack trace ever escapes; every answer carries x-request-id
    tel = deps.telemetry
    if deps.clock is not None and (tel.access_log or tel.metrics):
        names = frozenset(loaded.config.routes)  # route names from config bound the metric dimension values
        # next to outermost: times the whole request, sees every answer (a crash is logged as the guard's 500)
        steps.append(AccessLogFilter(deps.clock, names, tel))
    steps.append(RequestIdFilter(deps.rng))  # request id + traceparent first, so every later answer can quote them
    if tel.tracer is not None:
        steps.append(XRayFilter(tel.tracer))  # optional (PORTICO_XRAY): a subsegment annotated with the request id
    route_ip_rules = RouteIpRules(config.routes)
    if route_ip_rules and not routes.matches_fields:
        # a refused client's repeated request is answered here, before any other work (portico.edge.filters.ip)
        steps.append(RefusedClientScreen(route_ip_rules, trusted=bool(deps.trusted_proxies)))
    steps.append(HeaderHygieneFilter(deps.underscores))  # hop-by-hop, x-portico-*, `_` names: before any trust
    if not deps.ip_policy.empty or deps.trusted_proxies:
        steps.append(ClientIpFilter(deps.ip_policy, deps.trusted_proxies))  # global IP policy: the cheapest refusal
    steps.append(LimitsFilter(deps.limits))  # 431/413 before any work is spent on an oversized request
    steps.append(PathNormalizeFilter())  # one canonical path (or 400) before anything decides by path
    steps.append(portal_filter(loaded, deps))  # reserved /_portico/: before routing, so no route can shadow the docs
    steps.append(VersionFilter(routes, declared_versions(config.routes)))  # /v2/x and Accept-Version: one form
    steps.append(CorsFilter(routes, deps.cors))  # preflights answered here, before auth would demand credentials
    # sets ctx.attrs["route"], ["route_name"], ["path_params"]; 404/405; and 403 when the matched route's ipRules
    # refuse the client: judged at the match, before anything else is spent on the request (not even a credential)
    steps.append(RouteFilter(routes, route_ip_rules))
    steps.append(DeprecationFilter(config.routes))  # Deprecation/Sunset/Link on every answer, 401s and 429s too
    authenticator = Authenticator(loaded.config, deps.key_sources)
    if any(r.spec.auth.client_cert is not None for r in config.routes.values()):
        # a certificate is already verified by the front door: checking its names is cheaper than any token
        from portico.edge.filters.clientcert import ClientCertFilter  # lazy, as every protection step below

        steps.append(ClientCertFilter(config.routes, authenticator, deps.cert_reader()))
    # JWT, API key or introspected token; 400/401
    steps.append(AuthenticationFilter(authenticator, introspectors=introspectors(loaded, deps)))
    if any(r.spec.auth.external is not None for r in config.routes.values()):
        # the authoriser decides who the caller is and whether it may pass: 401/403, or statusOnError
        from portico.edge.filters.external import ExternalAuthFilter

        steps.append(ExternalAuthFilter(config.routes, deps.auth_state(), deps.invoker, deps.transport))
    steps.append(AuthorisationFilter())  # the route's scopes and claim matchers: 403 insufficient_scope
    if any(r.spec.validate_ is not None for r in config.routes.values()):
        from portico.edge.filters.validation import ValidationFilter

        steps.append(ValidationFilter(config.routes))  # after authorisation, before quota: a refusal costs no write
    steps.append(IdentityHeadersFilter())  # verified identity upstream as x-portico-*; hygiene already ran
    steps.append(RateLimitFilter(config, deps.quota))  # after auth: only verified identities spend quota
    steps.append(CacheFilter(config.routes))  # after auth and limits: a hit is still authorised and counted
    # a response transform sees the dispatcher's answer on the way back out
    steps.append(TransformFilter(config.routes))  # inside the cache, so a hit is the transformed answer, done once
    return steps


def introspectors(loaded: LoadedConfig, deps: EdgeDeps) -> dict[str, Introspector]:
    if not any(r.spec.auth.introspection is not None for r in loaded.config.routes.values()):
        return {}
    from portico.edge.introspect import introspector

    return {
        name: introspector(route.spec.auth.introspection, deps.auth_state(), deps.transport, deps.credentials)
        for name, route in loaded.config.routes.items()
        if route.spec.auth.introspection is not None
    }


def portal_filter(loaded: LoadedConfig, deps: EdgeDeps) -> PortalFilter:
    """The document is generated once per config version: the portal always shows the live route table."""
    document = openapi_document(loaded.config, title=deps.portal_title, version=str(loaded.version))
    backend = deps.portal_backend

    def account() -> Handler:
        from portico.edge.portal.app import portal_handler  # the account code loads on the first portal call only

        assert backend is not None
        return portal_handler(loaded.config, loaded.version, backend())

    return PortalFilter(document, load_assets(), enabled=deps.portal, account=account if backend else None)


def build_pipeline(loaded: LoadedConfig, deps: EdgeDeps) -> Pipeline:
    """Validate and compile everything once per config version; per request only the chain runs."""
    routes = build_routes(loaded.config.routes)
    monotonic = deps.clock.monotonic if deps.clock is not None else None
    dispatcher = Dispatcher(
        loaded.config.routes,
        deps.transport,
        deps.invoker,
        deps.jitter,
        grpc=deps.grpc,
        mesh=deps.mesh,
        monotonic=monotonic,
    )
    handler = build_chain(edge_filters(loaded, deps, routes), dispatcher)
    return Pipeline(loaded.version, handler, routes)


class PipelineCache:
    """Rebuilds the pipeline only when the config version changes."""

    def __init__(self, deps: EdgeDeps) -> None:
        self._deps = deps
        self._current: Pipeline | None = None
        self._source: LoadedConfig | None = None

    def get(self, loaded: LoadedConfig) -> Pipeline:
        # ConfigCache hands back the same LoadedConfig object until it reloads a new version
        if self._current is None or self._source is not loaded:
            self._current = build_pipeline(loaded, self._deps)
            self._source = loaded
        return self._current
