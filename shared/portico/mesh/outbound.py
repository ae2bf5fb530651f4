"""The outbound data path (app -> peer): route by VirtualService, inject faults, mirror, then dispatch with retries.

Each step is a filter with the shared `async (ctx, next) -> Response` contract; the dispatcher is the last one.
"""

from __future__ import annotations

import asyncio
import logging
import random
import time
from dataclasses import dataclass
from typing import Any

from portico.adapters.http1_pool import PoolOverflow, UpstreamReset
from portico.core.chain import Context, Handler
from portico.core.config.configset import service_name
from portico.core.headers import Headers
from portico.core.hop import UnderscoreAction, underscore_refusal
from portico.core.http import Request, Response
from portico.core.mesh.fault import decide
from portico.core.mesh.hop import clean_request, strip_hop_by_hop
from portico.core.mesh.retry import Failure, should_retry
from portico.core.mesh.vsmatch import CompiledRoute, rewrite_path
from portico.core.mesh.weighted import pick_weighted
from portico.core.ports import UpstreamConnectError, UpstreamTimeout
from portico.core.problem import problem
from portico.mesh.state import MeshState

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

    async def __call__(self, ctx: Context, next: Handler) -> Response:
        host = ctx.request.host.rsplit(":", 1)[0] if ctx.request.host else ""
        if not host:
            return problem(400, "no destination: send an absolute-form URL or a Host header naming a service")
        service = service_name(host)
        route = self._state.routes.match(service, ctx.request)
        ctx.attrs["service"] = service
        ctx.attrs["route"] = route
        return await next(ctx)


class FaultFilter:
    """Istio fault injection: delay first, then abort, each for its percentage of requests."""

    def __init__(self, rng: random.Random) -> None:
        self._rng = rng

    async def __call__(self, ctx: Context, next: Handler) -> Response:
        route: CompiledRoute = ctx.attrs["route"]
        decision = decide(route.fault, self._rng)
        if decision.delay > 0:
            await asyncio.sleep(decision.delay)
        if decision.abort_status is not None:
            return problem(
                decision.abort_status,
                "fault injected by route " + route.name,
                headers=Headers([("x-portico-fault", "abort")]),
            )
        return await next(ctx)


class MirrorFilter:
    """Send a fire-and-forget copy to the mirror destination; its outcome never touches the caller's response."""

    def __init__(self, dispatcher: Dispatcher, rng: random.Random) -> None:
        self._dispatcher = dispatcher
        self._rng = rng
        self._in_flight: set[asyncio.Task[Response]] = set()

    async def __call__(self, ctx: Context, next: Handler) -> Response:
        route: CompiledRoute = ctx.attrs["route"]
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
        return await next(ctx)


@dataclass(slots=True)
class _Outcome:
    response: Response | None
    failure: Failure | None


class Dispatcher:
    """The router: weighted subset, then instance by the DestinationRule balancer, with retries and limits."""

    def __init__(self, state: MeshState, rng: random.Random) -> None:
        self._state = state
        self._rng = rng

    async def __call__(self, ctx: Context) -> Response:
        route: CompiledRoute = ctx.attrs["route"]
        dest = pick_weighted(route.destinations, self._rng)
        if dest is None:
            return problem(503, f"route {route.name} has no destination with weight above 0")
        return await self.send(ctx.request, service_name(dest.host), dest.subset, route)

    async def send(
        self, req: Request, service: str, subset: str | None, route: CompiledRoute, *, mirror: bool = False
    ) -> Response:
        state = self._state
        cluster = state.cluster(service, subset)
        labels: Any = (("service", service), ("subset", subset or ""))
        if cluster is None:
            return problem(503, f"no DestinationRule defines subset {subset!r} of {service!r}")
        if not cluster.breaker.try_request():
            state.stats.inc("portico_upstream_overflow_total", labels)
            return overloaded(f"too many requests in flight to {service}")
        cluster.budget.active_requests += 1
        try:
            return await self._attempts(req, service, cluster, route, labels)
        except Exception:
            if mirror:
                return problem(503, "mirror failed")
            raise
        finally:
            cluster.budget.active_requests -= 1
            cluster.breaker.release_request()

    async def _attempts(self, req: Request, service: str, cluster: Any, route: CompiledRoute, labels: Any) -> Response:
        state = self._state
        instances = await state.discovery.instances(service)
        start = time.monotonic()
        deadline = start + route.timeout if route.timeout else None
        path = rewrite_path(req.path, _matched_prefix(route, req), route.rewrite)
        host = route.rewrite.authority if route.rewrite and route.rewrite.authority else req.host
        tried: set[str] = set()
        attempt = 0
        retry_held = False
        try:
            while True:
                attempt += 1
                now = time.monotonic()
                candidates = cluster.candidates(instances, now)
                inst = cluster.pick(candidates, self._rng, tried)
                if inst is None:
                    state.stats.inc("portico_upstream_no_healthy_total", labels)
                    return problem(503, f"no healthy upstream for {service}")
                tried.add(inst.key)
                req.headers.set(ATTEMPT_HEADER, str(attempt))
                timeout = _attempt_timeout(route, deadline, now)
                if timeout is not None and timeout <= 0:
                    return problem(504, f"{service} did not answer within the route timeout")
                outcome = await self._try(cluster, inst, req, path, host, timeout)
                if isinstance(outcome, Response):
                    return outcome  # overflow: fail fast, never retried
                status = outcome.response.status if outcome.response else None
                if cluster.record(inst, status, time.monotonic(), len(instances)):
                    state.stats.inc("portico_outlier_ejections_total", labels)
                    log.warning("ejected %s (%s) from %s", inst.key, inst.authority, cluster.policy.name)
                state.stats.inc("portico_upstream_requests_total", (*labels, ("code", str(status or 0))))
                if retry_held:
                    cluster.budget.release()
                    cluster.breaker.release_retry()
                    retry_held = False
                if should_retry(route.retry, req.method, attempt, status, outcome.failure):
                    if cluster.budget.try_acquire():
                        if cluster.breaker.try_retry():
                            retry_held = True
                            state.stats.inc("portico_upstream_retries_total", labels)
                            continue
                        cluster.budget.release()
                    state.stats.inc("portico_upstream_retry_overflow_total", labels)
                return outcome.response or _failure_response(outcome.failure, service)
        finally:
            if retry_held:
                cluster.budget.release()
                cluster.breaker.release_retry()

    async def _try(
        self, cluster: Any, inst: Any, req: Request, path: str, host: str, timeout: float | None
    ) -> _Outcome | Response:
        cluster.active[inst.key] += 1
        try:
            resp = await cluster.pool(inst).request(req, path, host, timeout)
            return _Outcome(resp, None)
        except PoolOverflow as exc:
            self._state.stats.inc("portico_upstream_overflow_total", (("service", cluster.policy.service),))
            return overloaded(str(exc))
        except UpstreamConnectError:
            return _Outcome(None, "connect-failure")
        except UpstreamReset:
            return _Outcome(None, "reset")
        except UpstreamTimeout:
            return _Outcome(None, "timeout")
        finally:
            cluster.active[inst.key] -= 1


def _attempt_timeout(route: CompiledRoute, deadline: float | None, now: float) -> float | None:
    per_try = route.retry.per_try_timeout
    remaining = deadline - now if deadline is not None else None
    if per_try is None:
        return remaining
    return per_try if remaining is None else min(per_try, remaining)


def _matched_prefix(route: CompiledRoute, req: Request) -> str | None:
    return route.prefix_for(req)


def _failure_response(failure: Failure | None, service: str) -> Response:
    if failure == "timeout":
        return problem(504, f"{service} did not answer in time")
    # Envoy answers 503 for "upstream connect error or disconnect/reset before headers".
    return problem(503, f"upstream {service} could not be reached ({failure})")
