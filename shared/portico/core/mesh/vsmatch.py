"""Compiles VirtualService http routes into a table: host -> ordered routes with precompiled match predicates."""

from __future__ import annotations

import functools
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

from portico.core.config.base import StringMatch
from portico.core.config.configset import ConfigSet, service_name
from portico.core.config.istio_networking import (
    Destination,
    HTTPFaultInjection,
    HTTPMatchRequest,
    HTTPRewrite,
    HTTPRoute,
)
from portico.core.http import Request
from portico.core.regex import UserRegex
from portico.core.upstream.retry import ISTIO_DEFAULT_RETRY_ON, RetryOn, RetryRule

Predicate = Callable[[Request], bool]


def _string(match: StringMatch, ignore_case: bool = False) -> Callable[[str | None], bool]:
    if match.exact is not None:
        want = match.exact.lower() if ignore_case else match.exact
        return lambda v: v is not None and (v.lower() if ignore_case else v) == want
    if match.prefix is not None:
        pre = match.prefix.lower() if ignore_case else match.prefix
        return lambda v: v is not None and (v.lower() if ignore_case else v).startswith(pre)
    pattern = UserRegex(match.regex or "", ignore_case=ignore_case)
    return lambda v: v is not None and pattern.matches(v)  # Istio regexes are full-match (RE2)


def compile_match(m: HTTPMatchRequest) -> Predicate:
    """All conditions of one HTTPMatchRequest must hold (AND); a route's match list is an OR of these."""
    checks: list[Predicate] = []
    if m.uri is not None:
        uri = _string(m.uri, m.ignore_uri_case)
        checks.append(lambda r: uri(r.route_path))
    if m.method is not None:
        method = _string(m.method)
        checks.append(lambda r: method(r.method))
    if m.authority is not None:
        authority = _string(m.authority)
        checks.append(lambda r: authority(r.host))
    if m.scheme is not None:
        scheme = _string(m.scheme)
        checks.append(lambda r: scheme(r.scheme))
    for name, sm in m.headers.items():
        header, key = _string(sm), name.lower()
        checks.append(lambda r, h=header, k=key: h(r.headers.get(k)))  # type: ignore[misc]
    for name, sm in m.without_headers.items():
        header, key = _string(sm), name.lower()
        checks.append(lambda r, h=header, k=key: not h(r.headers.get(k)))  # type: ignore[misc]
    for name, sm in m.query_params.items():
        param = _string(sm)
        checks.append(lambda r, p=param, n=name: p(r.query_get(n)))  # type: ignore[misc]
    return lambda r: all(check(r) for check in checks)


@dataclass(frozen=True, slots=True)
class CompiledRoute:
    name: str
    predicates: tuple[Predicate, ...]
    destinations: tuple[tuple[Destination, int], ...]
    retry: RetryRule  # carries the route's timeout too: the engine bounds the whole call by it
    timeout: float | None = None
    rewrite: HTTPRewrite | None = None
    fault: HTTPFaultInjection | None = None
    mirror: Destination | None = None
    mirror_percent: float = 100.0
    uri_prefixes: tuple[str | None, ...] = ()

    def matches(self, request: Request) -> bool:
        return not self.predicates or any(p(request) for p in self.predicates)

    def prefix_for(self, request: Request) -> str | None:
        """The uri prefix of the first match entry that accepts `request` (what a rewrite replaces)."""
        for predicate, prefix in zip(self.predicates, self.uri_prefixes, strict=True):
            if predicate(request):
                return prefix
        return None


def compile_route(route: HTTPRoute, index: int, vs_name: str) -> CompiledRoute:
    retry = RetryRule(timeout=route.timeout)  # Istio's default retries when the route sets none
    if route.retries is not None:
        retry = RetryRule(
            attempts=route.retries.attempts,
            retry_on=RetryOn.parse(route.retries.retry_on or ISTIO_DEFAULT_RETRY_ON),
            per_try_timeout=route.retries.per_try_timeout,
            timeout=route.timeout,
        )
    single = len(route.route) == 1
    return CompiledRoute(
        name=route.name or f"{vs_name}.{index}",
        predicates=tuple(compile_match(m) for m in route.match),
        destinations=tuple((d.destination, 100 if single else d.weight) for d in route.route),
        retry=retry,
        timeout=route.timeout,
        rewrite=route.rewrite,
        fault=route.fault,
        mirror=route.mirror,
        # Istio mirrors 100% when mirror is set without mirrorPercentage.
        mirror_percent=route.mirror_percentage.value if route.mirror_percentage is not None else 100.0,
        uri_prefixes=tuple(m.uri.prefix if m.uri is not None else None for m in route.match),
    )


@dataclass(frozen=True, slots=True)
class RouteTable:
    by_service: Mapping[str, tuple[CompiledRoute, ...]] = field(default_factory=dict)

    @classmethod
    def build(cls, config: ConfigSet) -> RouteTable:
        table: dict[str, list[CompiledRoute]] = {}
        for vs_name in sorted(config.virtual_services):
            vs = config.virtual_services[vs_name]
            for host in vs.spec.hosts:
                routes = table.setdefault(service_name(host), [])
                routes.extend(compile_route(r, i, vs_name) for i, r in enumerate(vs.spec.http))
        return cls({k: tuple(v) for k, v in table.items()})

    def match(self, service: str, request: Request) -> CompiledRoute:
        """The first matching route; a service without a VirtualService gets a default route to itself."""
        for route in self.by_service.get(service, ()):
            if route.matches(request):
                return route
        return default_route(service)


@functools.lru_cache(maxsize=4096)  # per request otherwise; pure and immutable, so shared
def default_route(service: str) -> CompiledRoute:
    return CompiledRoute(
        name=f"{service}.default",
        predicates=(),
        destinations=((Destination(host=service), 100),),
        retry=RetryRule(),
    )


def rewrite_path(path: str, matched_prefix: str | None, rewrite: HTTPRewrite | None) -> str:
    """Istio's uri rewrite: replace the matched prefix when the match was a prefix, else the whole path."""
    if rewrite is None or rewrite.uri is None:
        return path
    if matched_prefix and path.startswith(matched_prefix):
        return rewrite.uri + path[len(matched_prefix) :]
    return rewrite.uri
