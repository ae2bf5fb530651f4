"""The edge's access-log line: one per request, with correlation id, route, consumer, status, latencies, decisions."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

from obskit import Captured, FakeUpstream, ManualClock, build_edge, event

from portico.core.chain import Context, Handler, build_chain
from portico.core.headers import Headers
from portico.core.http import Request, Response
from portico.edge.filters import attrs
from portico.edge.filters.access_log import AccessLogFilter
from portico.edge.filters.guard import ErrorGuardFilter
from portico.edge.telemetry import EdgeTelemetry

ROUTES = """
apiVersion: portico/v1
kind: Route
metadata: {name: orders}
spec:
  match: {pathPrefix: /orders}
  auth: {none: {}}
  upstream: {http: {url: "http://127.0.0.1:9/orders", timeout: 2s}}
"""
INCOMING = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"


def test_one_line_per_request_with_trace_and_latencies() -> None:
    captured, clock = Captured(), ManualClock()
    upstream = FakeUpstream(clock, status=201, delay=0.040)
    edge = build_edge(ROUTES, captured, clock, upstream)
    try:
        result = edge.handle(event("/orders/1", headers={"traceparent": INCOMING}, request_id="apigw-42"))
    finally:
        edge.close()
    assert result["statusCode"] == 201
    [line] = captured.lines
    assert line["correlation_id"] == "apigw-42"
    assert line["route"] == "orders" and line["status"] == 201
    assert line["trace_id"] == "4bf92f3577b34da6a3ce929d0e0e4736"
    assert line["upstream_latency_ms"] == 40.0
    assert line["latency_ms"] >= 40.0
    assert line["consumer"] == "anonymous" and line["rate_limit"] == "none"
    # the upstream continues the same trace, with the edge's span as its parent
    sent = upstream.seen[0].headers.get("traceparent") or ""
    assert sent.startswith("00-4bf92f3577b34da6a3ce929d0e0e4736-") and line["span_id"] in sent
    assert line["span_id"] != "00f067aa0ba902b7"


@dataclass(frozen=True)
class FakeIdentity:
    consumer: str | None
    sub: str | None = None


def _run(set_attrs: dict[str, object], response: Response, route: str | None = "orders") -> Captured:
    captured, clock = Captured(), ManualClock()
    telemetry = EdgeTelemetry(api="shop", access_log=captured.log, metrics=captured.emf)

    async def decide(ctx: Context, next: Handler) -> Response:
        if route is not None:
            ctx.attrs[attrs.ROUTE_NAME] = route
        ctx.attrs.update(set_attrs)
        return await next(ctx)

    async def terminal(ctx: Context) -> Response:
        clock.advance(0.005)
        return response

    chain = build_chain([AccessLogFilter(clock, frozenset({"orders"}), telemetry), decide], terminal)
    asyncio.run(chain(Context(Request("GET", "/orders/1"), now=clock.now(), request_id="r1")))
    return captured


def test_consumer_rate_limit_cache_and_auth_come_from_the_filters_that_decide() -> None:
    captured = _run(
        {attrs.IDENTITY: FakeIdentity("acme"), attrs.RATE_LIMIT: "allowed", attrs.CACHE: "hit"}, Response(200)
    )
    line, doc = captured.lines[0], captured.metrics[0]
    assert (line["consumer"], line["rate_limit"], line["cache"], line["latency_ms"]) == ("acme", "allowed", "hit", 5.0)
    assert (doc["CacheHit"], doc["RateLimited"], doc["AuthFailed"]) == (1, 0, 0)
    assert _run({attrs.IDENTITY: FakeIdentity(None, "u-1")}, Response(200)).lines[0]["consumer"] == "sub:u-1"


def test_fallbacks_read_the_response_when_no_filter_said() -> None:
    limited = _run({}, Response(429))
    assert limited.lines[0]["rate_limit"] == "limited" and limited.metrics[0]["RateLimited"] == 1
    refused = _run({}, Response(401, Headers([("www-authenticate", 'Bearer realm="portico"')])))
    assert refused.metrics[0]["AuthFailed"] == 1 and refused.metrics[0]["4xx"] == 1
    not_auth = _run({}, Response(403))  # a 403 without a challenge (e.g. a WAF rule) is not an auth failure
    assert not_auth.metrics[0]["AuthFailed"] == 0
    hit = _run({}, Response(200, Headers([("x-cache", "HIT")])))
    assert hit.metrics[0]["CacheHit"] == 1


def test_an_unknown_route_name_never_becomes_a_dimension() -> None:
    assert _run({}, Response(404), route=None).metrics[0]["route"] == "unmatched"
    assert _run({}, Response(200), route="/orders/12345").metrics[0]["route"] == "unmatched"


def test_a_crash_is_logged_as_the_500_the_guard_answers() -> None:
    captured, clock = Captured(), ManualClock()
    telemetry = EdgeTelemetry(access_log=captured.log, metrics=captured.emf)

    async def boom(ctx: Context) -> Response:
        raise RuntimeError("bug")

    chain = build_chain([ErrorGuardFilter(), AccessLogFilter(clock, frozenset(), telemetry)], boom)
    response = asyncio.run(chain(Context(Request("GET", "/x"), now=clock.now(), request_id="r9")))
    assert response.status == 500
    assert captured.lines[0]["status"] == 500 and captured.metrics[0]["5xx"] == 1


def test_a_failing_sink_never_fails_the_request() -> None:
    clock = ManualClock()

    def broken(message: str, fields: dict[str, object]) -> None:
        raise OSError("stdout closed")

    chain = build_chain([AccessLogFilter(clock, frozenset(), EdgeTelemetry(access_log=broken))], _ok)
    assert asyncio.run(chain(Context(Request("GET", "/x"), now=clock.now()))).status == 200


async def _ok(ctx: Context) -> Response:
    return Response(200)
