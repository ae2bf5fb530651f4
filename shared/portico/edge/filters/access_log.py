"""One access-log line and one EMF metrics document per request; placed just inside the error guard.

It reads what the other filters left in ctx.attrs (route name, identity, upstream latency, rate-limit and cache
decisions). Where a filter did not say, it falls back on the response: 429 means limited, 401/403 with
WWW-Authenticate means an authentication or authorisation refusal, `x-cache: HIT` means a cache hit.
Metric dimensions are the API name and the route name; a request no route matched is counted under "unmatched",
so raw paths never become dimension values and cardinality stays bounded by the config.
"""

from __future__ import annotations

import logging
from typing import Any

from portico.core.chain import Context, Handler
from portico.core.http import Response
from portico.core.ports import Clock
from portico.core.telemetry.emf import bounded, document
from portico.core.telemetry.traceparent import TraceContext
from portico.edge.telemetry import EdgeTelemetry

from . import attrs

log = logging.getLogger("portico.edge")

UNMATCHED = "unmatched"
UNITS = {
    "Requests": "Count",
    "Latency": "Milliseconds",
    "UpstreamLatency": "Milliseconds",
    "4xx": "Count",
    "5xx": "Count",
    "AuthFailed": "Count",
    "RateLimited": "Count",
    "RateLimitFailedOpen": "Count",
    "CacheHit": "Count",
}


class AccessLogFilter:
    """Built per config version: `routes` is the set of route names that may appear as a dimension value."""

    def __init__(self, clock: Clock, routes: frozenset[str], telemetry: EdgeTelemetry) -> None:
        self._clock = clock
        self._routes = routes
        self._api = telemetry.api
        self._namespace = telemetry.namespace
        self._log = telemetry.access_log
        self._metrics = telemetry.metrics

    async def __call__(self, ctx: Context, next: Handler) -> Response:
        started = self._clock.monotonic()
        response: Response | None = None
        try:
            response = await next(ctx)
            return response
        finally:  # an exception on the way still gets its line (as the 500 the error guard will answer)
            elapsed_ms = (self._clock.monotonic() - started) * 1000
            try:
                self._emit(ctx, response, elapsed_ms)
            except Exception:  # telemetry must never fail a request
                log.exception("access log / metrics emission failed (request %s)", ctx.request_id)

    def _emit(self, ctx: Context, response: Response | None, elapsed_ms: float) -> None:
        status = response.status if response is not None else 500
        route = bounded(ctx.attrs.get(attrs.ROUTE_NAME), self._routes, UNMATCHED)
        upstream_ms = ctx.attrs.get(attrs.UPSTREAM_LATENCY_MS)
        limited = rate_limit_decision(ctx, status)
        auth_failed = bool(ctx.attrs.get(attrs.AUTH_FAILED)) or (
            status in (401, 403) and response is not None and "www-authenticate" in response.headers
        )
        cache_hit = ctx.attrs.get(attrs.CACHE) == "hit" or (
            response is not None and (response.headers.get("x-cache") or "").upper() == "HIT"
        )
        if self._log is not None:
            trace: TraceContext | None = ctx.attrs.get(attrs.TRACE)
            self._log(
                "request",
                {
                    "correlation_id": ctx.request_id,
                    "trace_id": trace.trace_id if trace else None,
                    "span_id": trace.span_id if trace else None,
                    "method": ctx.request.method,
                    "path": ctx.request.route_path,
                    "route": route,
                    "consumer": consumer_of(ctx.attrs.get(attrs.IDENTITY)) or "anonymous",
                    "status": status,
                    "latency_ms": round(elapsed_ms, 3),
                    # absent (None is dropped) when no upstream was called: mock routes and early answers
                    "upstream_latency_ms": round(upstream_ms, 3) if upstream_ms is not None else None,
                    "rate_limit": limited or "none",  # "none": the route has no rate-limit policy
                    "cache": "hit" if cache_hit else ctx.attrs.get(attrs.CACHE) or "none",
                    "auth_failed": auth_failed,
                    "source_ip": ctx.request.source_ip or None,
                },
            )
        if self._metrics is not None:
            values: dict[str, float] = {
                "Requests": 1,
                "Latency": round(elapsed_ms, 3),
                "4xx": 1 if 400 <= status < 500 else 0,
                "5xx": 1 if status >= 500 else 0,
                "AuthFailed": 1 if auth_failed else 0,
                "RateLimited": 1 if limited == "limited" else 0,
                # the quota store did not answer in time and the policy let the request through uncounted
                "RateLimitFailedOpen": 1 if limited == "failed-open" else 0,
                "CacheHit": 1 if cache_hit else 0,
            }
            if upstream_ms is not None:
                values["UpstreamLatency"] = round(upstream_ms, 3)
            doc = document(
                self._namespace,
                {"API": self._api, "route": route},
                values,
                UNITS,
                int(ctx.now * 1000),
                properties={"correlation_id": ctx.request_id},
                rollups=[["API"]],
            )
            self._metrics(doc)


def rate_limit_decision(ctx: Context, status: int) -> str | None:
    decided = ctx.attrs.get(attrs.RATE_LIMIT)
    if isinstance(decided, str):
        return decided
    return "limited" if status == 429 else None


def consumer_of(identity: Any) -> str | None:
    """The Consumer name, else the token subject; read by shape (the auth filters own the Identity type)."""
    if identity is None:
        return None
    consumer = getattr(identity, "consumer", None)
    if consumer:
        return str(consumer)
    sub = getattr(identity, "sub", None)
    return f"sub:{sub}" if sub else None
