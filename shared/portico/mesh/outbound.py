"""The outbound data path (app -> peer): route by VirtualService, inject faults, mirror, then the engine's attempts.

Each step is a filter with the shared `async (ctx, next) -> Response` contract; the dispatcher is the last one.
"""

from __future__ import annotations

import asyncio
import logging
import random
from collections.abc import Awaitable

from portico.core.chain import Context, Filter, Handler, answer, build_chain
from portico.core.config.configset import service_name
from portico.core.headers import Headers
from portico.core.hop import UnderscoreAction, underscore_refusal
from portico.core.http import Request, Response
from portico.core.mesh.fault import decide
from portico.core.mesh.hop import clean_request, strip_hop_by_hop
from portico.core.mesh.registry import Instance
from portico.core.mesh.vsmatch import CompiledRoute, rewrite_path
from portico.core.mesh.weighted import pick_weighted
from portico.core.problem import problem
from portico.core.upstream.call import Send, UpstreamCall
from portico.core.upstream.retry import Failure
from portico.mesh.attrs import ROUTE, SERVICE
from portico.mesh.cluster import Cluster
from portico.mesh.state import MeshState
from portico.mesh.telemetry import MeshTelemetry, TelemetryFilter
from portico.upstream_loop import drive

log = logging.getLogger("portico.mesh.outbound")

ATTEMPT_HEADER = "x-portico-attempt-count"
OVERLOADED_HEADER = "x-portico-overloaded"
MAX_MIRRORS_IN_FLIGHT = 64


def overloaded(detail: str) -> Response:
    return problem(503, detail, headers=Headers([(OVERLOADED_HEADER, "1")]))


class HygieneFilter:
    """Drop hop-by-hop fields, `_` names, and x-portico-* set by the app in any spelling: only sidecars speak for
    the mesh (core.mesh.hop.clean_request, the same rules as the edge and the inbound side)."""

    def __init__(self, underscores: UnderscoreAction = "drop") -> None:
        self._underscores = underscores

    async def __call__(self, ctx: Context, next: Handler) -> Response:
        if refused := underscore_refusal(ctx.request.headers, self._underscores):
            return refused
        ctx.request.headers = clean_request(ctx.request.headers, self._underscores, internal_ok=frozenset())
        resp = await next(ctx)
        resp.headers = strip_hop_by_hop(resp.headers)
        return resp


class RouteFilter:
    """Find the destination service from the absolute-form URL or Host, then its VirtualService route."""

    def __init__(self, state: MeshState) -> None:
        self._state = state

    def __call__(self, ctx: Context, next: Handler) -> Awaitable[Response]:
        host = ctx.request.host.rsplit(":", 1)[0] if ctx.request.host else ""
        if not host:
            return answer(problem(400, "no destination: send an absolute-form URL or a Host header naming a service"))
        service = service_name(host)
        route = self._state.routes.match(service, ctx.request)
        ctx.attrs[SERVICE] = service
        ctx.attrs[ROUTE] = route
        return next(ctx)


class FaultFilter:
    """Istio fault injection: delay first, then abort, each for its percentage of requests."""

    def __init__(self, rng: random.Random) -> None:
        self._rng = rng

    def __call__(self, ctx: Context, next: Handler) -> Awaitable[Response]:
        route: CompiledRoute = ctx.attrs[ROUTE]
        if route.fault is None:  # most routes: no coroutine of this filter's own
            return next(ctx)
        return self._inject(ctx, next, route)

    async def _inject(self, ctx: Context, next: Handler, route: CompiledRoute) -> Response:
        decision = decide(route.fault, self._rng)
        if decision.delay > 0:
            await asyncio.sleep(decision.delay)
        if decision.abort_status is not None:
            return problem(
                decision.abort_status,
                "fault injected by route " + route.name,
                headers=Headers(
                    [("x-portico-fault", "abort")]
                    + ([("grpc-status", str(decision.abort_grpc))] if decision.abort_grpc is not None else [])
                ),
            )
        return await next(ctx)


class MirrorFilter:
    """Send a fire-and-forget copy to the mirror destination; its outcome never touches the caller's response."""

    def __init__(self, dispatcher: Dispatcher, rng: random.Random) -> None:
        self._dispatcher = dispatcher
        self._rng = rng
        self._in_flight: set[asyncio.Task[Response]] = set()

    def __call__(self, ctx: Context, next: Handler) -> Awaitable[Response]:
        route: CompiledRoute = ctx.attrs[ROUTE]
        mirror = route.mirror is not None and self._rng.random() * 100 < route.mirror_percent
        # shed mirrors rather than grow memory when the shadow upstream is slow
        if mirror and route.mirror is not None and len(self._in_flight) < MAX_MIRRORS_IN_FLIGHT:
            req = ctx.request
            copy = Request(
                req.method,
                req.path,
                list(req.query),
                req.headers.copy(),
                req.body,
                host=f"{route.mirror.host}-shadow",
                raw_query=req.raw_query,
            )
            task = asyncio.create_task(
                self._dispatcher.send(copy, service_name(route.mirror.host), route.mirror.subset, route, mirror=True)
            )
            self._in_flight.add(task)
            task.add_done_callback(self._in_flight.discard)
        return next(ctx)


Target = tuple[CompiledRoute, str, Cluster, tuple[tuple[str, str], ...]]


def pick_target(ctx: Context, state: MeshState, rng: random.Random) -> Target | Response:
    """The matched route's weighted destination and its cluster (HTTP/1.1 and HTTP/2 routers alike), or the 503
    that says why there is none: (route, service, cluster, the service/subset labels of its metrics)."""
    route: CompiledRoute = ctx.attrs[ROUTE]
    dest = pick_weighted(route.destinations, rng)
    if dest is None:
        return problem(503, f"route {route.name} has no destination with weight above 0")
    service = service_name(dest.host)
    cluster = state.cluster(service, dest.subset)
    if cluster is None:
        return problem(503, f"no DestinationRule defines subset {dest.subset!r} of {service!r}")
    return route, service, cluster, (("service", service), ("subset", dest.subset or ""))


class Dispatcher:
    """The router: weighted subset, then the engine's attempts (balancer, retries, limits, outliers) over the
    cluster's pooled client."""

    def __init__(self, state: MeshState, rng: random.Random) -> None:
        self._state = state
        self._rng = rng

    def __call__(self, ctx: Context) -> Awaitable[Response]:
        target = pick_target(ctx, self._state, self._rng)
        if isinstance(target, Response):
            return answer(target)
        route, service, cluster, labels = target
        return self._call(ctx.request, service, cluster, route, labels)

    async def send(
        self, req: Request, service: str, subset: str | None, route: CompiledRoute, *, mirror: bool = False
    ) -> Response:
        state = self._state
        cluster = state.cluster(service, subset)
        if cluster is None:
            return problem(503, f"no DestinationRule defines subset {subset!r} of {service!r}")
        labels = (("service", service), ("subset", subset or ""))
        try:
            return await self._call(req, service, cluster, route, labels)
        except Exception:
            if mirror:  # a shadow copy's failure is logged, never the caller's problem
                log.exception("mirror to %s failed", service)
                return problem(503, "mirror failed")
            raise

    async def _call(
        self, req: Request, service: str, cluster: Cluster, route: CompiledRoute, labels: tuple[tuple[str, str], ...]
    ) -> Response:
        state = self._state
        stats = state.stats
        discovery = state.discovery
        if discovery.fetched(service):  # every request but a service's first: no coroutine to await
            instances = discovery.known_instances(service)
        else:
            instances = await discovery.instances(service)
        path = rewrite_path(req.path, route.prefix_for(req) if route.rewrite else None, route.rewrite)
        target = path + ("?" + req.raw_query if req.raw_query else "")
        host = route.rewrite.authority if route.rewrite and route.rewrite.authority else req.host
        headers = req.headers
        if headers.get("host") != host:
            headers.set("host", host)
        client = cluster.client

        def attempt(send: Send) -> Awaitable[Response]:  # the client's own coroutine: no wrapper per try
            headers.set(ATTEMPT_HEADER, str(send.attempt))
            if send.retry:
                stats.inc("portico_upstream_retries_total", labels)
            return client.send(req, cluster.origin(send.instance) + target, send.timeout)

        def observe(send: Send, status: int | None, ejected: Instance | None) -> None:
            stats.inc("portico_upstream_requests_total", (*labels, ("code", str(status or 0))))
            if ejected is not None:
                stats.inc("portico_outlier_ejections_total", labels)
                log.warning("ejected %s (%s) from %s", ejected.key, ejected.authority, cluster.policy.name)

        call = UpstreamCall(route.retry, req.method, cluster.state, instances, self._rng)
        result = await drive(call, attempt, state.clock.monotonic, observe)
        finish = result.finish
        if result.response is not None and finish.reason in ("answered", "retry-overflow"):
            if finish.reason == "retry-overflow":
                stats.inc("portico_upstream_retry_overflow_total", labels)
            return result.response
        if finish.reason == "overflow":
            stats.inc("portico_upstream_overflow_total", labels)
            detail = str(result.error) if result.error else f"too many requests in flight to {service}"
            return overloaded(detail)
        if finish.reason == "no-healthy":
            stats.inc("portico_upstream_no_healthy_total", labels)
            return problem(503, f"no healthy upstream for {service}")
        if finish.reason == "deadline":
            return problem(504, f"{service} did not answer within the route timeout")
        if finish.reason == "retry-overflow":
            stats.inc("portico_upstream_retry_overflow_total", labels)
        return _failure_response(finish.failure, service)


def _failure_response(failure: Failure | None, service: str) -> Response:
    if failure == "timeout":
        return problem(504, f"{service} did not answer in time")
    if failure == "refused":
        return problem(502, f"the address of {service} is refused by policy")
    # Envoy answers 503 for "upstream connect error or disconnect/reset before headers".
    return problem(503, f"upstream {service} could not be reached ({failure})")


def outbound_chain(
    state: MeshState, telemetry: MeshTelemetry, rng: random.Random, underscores: UnderscoreAction = "drop"
) -> Handler:
    """The app -> peer chain, built once; each step says why it is where it is."""
    dispatcher = Dispatcher(state, rng)
    filters: list[Filter] = [
        TelemetryFilter(telemetry, "source"),  # outermost: the whole hop is timed, logged and counted
        HygieneFilter(underscores),  # hop-by-hop, `_` names, app-sent x-portico-*: never cross a hop
        RouteFilter(state),  # VirtualService match picks the route (reads the current table per request)
        FaultFilter(rng),  # faults act before any upstream work, as in Envoy's fault filter
        MirrorFilter(dispatcher, rng),  # shadow traffic leaves before the real call so it cannot delay it
    ]
    return build_chain(filters, dispatcher)
