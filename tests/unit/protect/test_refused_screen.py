"""The refused-client screen: a route's IP refusal, repeated, is answered before any other work, and the screen
never changes an answer: a long pipeline (screen warm) answers every request exactly as a fresh one would."""

from __future__ import annotations

import asyncio
import ipaddress
import random

from portico.core.chain import Context
from portico.core.config.configset import ConfigSet
from portico.core.config.context import ValidationSettings
from portico.core.config.loader import parse_documents
from portico.core.config.snapshot import LoadedConfig
from portico.core.headers import Headers
from portico.core.http import Request
from portico.edge.filters import attrs
from portico.edge.filters.ip import RefusedClientScreen, RouteIpRules
from portico.edge.filters.route import build_routes
from portico.edge.pipeline import EdgeDeps, edge_filters
from tests.unit.protect.kit import CountingUpstream, pipeline, send
from tests.unit.protect.test_ip_rules import CONFIG

_SOURCES = ["203.0.113.7", "203.0.113.66", "198.51.100.1", "2001:db8:1::7", "2001:db8:1:bad::1", "junk", ""]
_PATHS = ["/office/x", "/office/y", "/office/../open/z", "/open/x", "/nowhere", "/office//x", "/OFFICE/x", "/office%2F"]
_METHODS = ["GET", "POST", "HEAD", "OPTIONS", "DELETE"]
_TRUSTED = (ipaddress.ip_network("130.176.0.0/16"),)
_FORWARDED = [None, "203.0.113.7", "198.51.100.1", "203.0.113.7, 198.51.100.1", "bogus"]


def _steps(config: str) -> list[str]:
    """The edge chain's filter names for `config`, as the pipeline builds it."""
    docs, issues = parse_documents(config, file="test.yaml", settings=ValidationSettings(allow_loopback=True))
    assert not issues, issues
    configset = ConfigSet.of(docs)
    deps = EdgeDeps(rng=bytes, jitter=lambda: 0.0, transport=CountingUpstream, invoker=CountingUpstream)
    loaded = LoadedConfig(version=1, config=configset)
    return [type(step).__name__ for step in edge_filters(loaded, deps, build_routes(configset.routes))]


def test_repeated_refusal_is_answered_by_the_screen_unchanged() -> None:
    upstream = CountingUpstream()
    handler = pipeline(CONFIG, upstream)
    first = asyncio.run(send(handler, "GET", "/office/x", source_ip="198.51.100.1"))
    again = asyncio.run(send(handler, "GET", "/office/x", source_ip="198.51.100.1"))
    assert (first.status, first.body, list(first.headers)) == (again.status, again.body, list(again.headers))
    assert first.status == 403
    # the same client elsewhere, and another client at the same path, are judged afresh
    assert asyncio.run(send(handler, "GET", "/open/x", source_ip="198.51.100.1")).status == 200
    assert asyncio.run(send(handler, "GET", "/office/x", source_ip="203.0.113.7")).status == 200


def test_screen_answers_before_hygiene_and_names_the_route() -> None:
    """Called directly: a remembered key is answered without calling the rest of the chain."""
    documents, _ = parse_documents(CONFIG)
    rules = RouteIpRules({d.metadata.name: d for d in documents if d.kind == "Route"})
    screen = RefusedClientScreen(rules, trusted=False)
    calls: list[str] = []

    async def rest(ctx: Context) -> object:
        calls.append(ctx.request.path)
        return rules.refusal(ctx, "office")

    def ctx(path: str, source: str, rid: str) -> Context:
        request = Request("GET", path, headers=Headers([("host", "api.test")]), host="api.test", source_ip=source)
        return Context(request=request, now=0.0, request_id=rid)

    first = asyncio.run(screen(ctx("/office/x", "198.51.100.1", "a"), rest))  # type: ignore[arg-type]
    second_ctx = ctx("/office/x", "198.51.100.1", "b")
    second = asyncio.run(screen(second_ctx, rest))  # type: ignore[arg-type]
    assert calls == ["/office/x"]  # the second never reached the rest of the chain
    assert first is not None and first.status == second.status == 403
    assert b'"requestId":"b"' in second.body
    assert second_ctx.attrs[attrs.ROUTE_NAME] == "office"


def test_screen_is_bounded() -> None:
    documents, _ = parse_documents(CONFIG)
    rules = RouteIpRules({d.metadata.name: d for d in documents if d.kind == "Route"})
    rules.MEMO = 5
    for i in range(50):
        request = Request("GET", f"/office/{i}", source_ip="198.51.100.1")
        context = Context(request=request, now=0.0, request_id="r")
        context.attrs[attrs.SCREEN_KEY] = ("198.51.100.1", None, "GET", "", None, f"/office/{i}")
        assert rules.refusal(context, "office") is not None
        assert len(rules._refused) <= 5


def test_no_screen_when_a_route_matches_on_headers_or_is_versioned() -> None:
    header_route = """
---
apiVersion: portico/v1
kind: Route
metadata: {name: beta}
spec:
  match: {pathPrefix: /office, headers: [{name: x-beta, exact: "1"}]}
  auth: {none: {}}
  upstream: {mock: {status: 200}}
"""
    assert "RefusedClientScreen" in _steps(CONFIG)
    with_header = pipeline(CONFIG + header_route, CountingUpstream())
    assert "RefusedClientScreen" not in _steps(CONFIG + header_route)
    # the header route outranks `office` for a beta client: a refusal of a plain request must not leak to it
    for _ in range(2):
        assert asyncio.run(send(with_header, "GET", "/office/x", source_ip="198.51.100.1")).status == 403
    beta = [("x-beta", "1")]
    assert asyncio.run(send(with_header, "GET", "/office/x", source_ip="198.51.100.1", headers=beta)).status == 200
    no_rules = CONFIG.replace("ipRules", "# ipRules")
    assert "RefusedClientScreen" not in _steps(no_rules)


def test_a_warm_screen_answers_exactly_as_a_fresh_pipeline() -> None:
    """2,000 random requests (sources, forwarded-for through a trusted proxy, methods, odd paths): the long-lived
    pipeline, whose screen remembers refusals, gives each the status and body a pipeline built for it alone gives."""
    rng = random.Random(7)
    refused: list[tuple[str, ...]] = []
    for trusted in ((), _TRUSTED):
        upstream = CountingUpstream()
        warm = pipeline(CONFIG, upstream, trusted_proxies=trusted)
        for _ in range(1000):
            source = rng.choice([*_SOURCES, "130.176.1.1"])
            forwarded = rng.choice(_FORWARDED)
            headers = [("x-forwarded-for", forwarded)] if forwarded else []
            method, path = rng.choice(_METHODS), rng.choice(_PATHS)
            got = asyncio.run(send(warm, method, path, source_ip=source, headers=headers))
            fresh = pipeline(CONFIG, CountingUpstream(), trusted_proxies=trusted)
            want = asyncio.run(send(fresh, method, path, source_ip=source, headers=headers))
            assert (got.status, got.body) == (want.status, want.body), (method, path, source, forwarded)
            if got.status == 403:
                refused.append((str(trusted), method, path, source, str(forwarded)))
    assert len(refused) - len(set(refused)) > 100  # repeated refusals: the screen answered those
