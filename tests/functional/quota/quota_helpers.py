"""Helpers for the quota functional tests: config from YAML, a stand-in identity filter, a chain to drive."""

from __future__ import annotations

from typing import Any

from portico.core.chain import Context, Handler, build_chain
from portico.core.config.configset import ConfigSet
from portico.core.config.loader import parse_documents
from portico.core.http import Response
from portico.core.quota.limiter import QuotaLimiter
from portico.edge.filters.ratelimit import RateLimitFilter


def config(text: str) -> ConfigSet:
    docs, issues = parse_documents(text)
    assert issues == [], issues
    return ConfigSet.of(docs)


class FakeIdentityFilter:
    """Stands in for the JWT/API-key filters (issue 4): sets a verified identity from a test-only header."""

    async def __call__(self, ctx: Context, next: Handler) -> Response:
        consumer = ctx.request.headers.get("x-test-verified-consumer")
        if consumer:
            ctx.attrs["identity"] = {"sub": f"sub-{consumer}", "consumer": consumer, "scopes": [], "claims": {}}
        return await next(ctx)


class RouteFilter:
    def __init__(self, route: Any) -> None:
        self._route = route

    async def __call__(self, ctx: Context, next: Handler) -> Response:
        ctx.attrs["route"] = self._route
        return await next(ctx)


async def ok(ctx: Context) -> Response:
    return Response(status=200, body=b"ok")


def chain(cfg: ConfigSet, route: str, limiter: QuotaLimiter) -> Handler:
    """Route -> identity -> rate limit -> 200, the order of the edge pipeline."""
    filters = [RouteFilter(cfg.routes[route]), FakeIdentityFilter(), RateLimitFilter(cfg, lambda: limiter)]
    return build_chain(filters, ok)


ROUTE = """
apiVersion: portico/v1
kind: Route
metadata: {{name: r}}
spec:
  match: {{pathPrefix: /}}
  auth: {{none: {{}}}}
  rateLimit: p
  upstream: {{mock: {{status: 200}}}}
---
apiVersion: portico/v1
kind: RateLimitPolicy
metadata: {{name: p}}
spec:
{policy}
"""


def route_with(policy: str) -> ConfigSet:
    return config(ROUTE.format(policy="\n".join("  " + line for line in policy.strip().splitlines())))
