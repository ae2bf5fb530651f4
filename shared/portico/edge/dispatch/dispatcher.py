"""The terminal handler: per route, a compiled upstream call; upstream failures become 502 / 504 problems."""

from __future__ import annotations

import logging
import time
from collections.abc import Awaitable, Callable, Sequence
from typing import TYPE_CHECKING, Any

from portico.core.chain import Context
from portico.core.config.documents import Route
from portico.core.config.grpc import GrpcTls
from portico.core.config.upstream import AggregatePart, Upstream
from portico.core.http import Request, Response
from portico.core.ports import (
    Transport,
    UpstreamConnectError,
    UpstreamError,
    UpstreamOverflow,
    UpstreamRefused,
    UpstreamTimeout,
)
from portico.core.problem import problem
from portico.edge.dispatch.aggregate import AggregateRoute
from portico.edge.dispatch.http import HttpRoute
from portico.edge.dispatch.lambda_ import FunctionInvoker, LambdaRoute
from portico.edge.dispatch.mock import copy_of, mock_response
from portico.edge.dispatch.service import MeshCallerFactory, ServiceRoute
from portico.edge.filters import attrs

if TYPE_CHECKING:
    from portico.edge.dispatch.grpc import GrpcCaller

log = logging.getLogger("portico.edge")

RouteCall = Callable[[Context, dict[str, str]], Awaitable[Response]]


class Dispatcher:
    """Compiles every route's upstream once; transports are created lazily so mock-only configs import nothing."""

    def __init__(
        self,
        routes: dict[str, Route],
        transport: Callable[[], Transport],
        invoker: Callable[[], FunctionInvoker],
        jitter: Callable[[], float],
        mesh: MeshCallerFactory | None = None,
        grpc: Callable[[], GrpcCaller] | None = None,
        *,
        monotonic: Callable[[], float] | None = None,
    ) -> None:
        self._transport = _Lazy(transport)
        self._invoker = _LazyInvoker(invoker)
        self._jitter = jitter
        self._mesh = mesh  # the edge's mesh client, created on the first service call (cold start pays nothing)
        self._grpc = _LazyGrpc(grpc) if grpc is not None else None
        self._monotonic = monotonic or time.monotonic  # tests without a Clock still get retry timing
        self._calls: dict[str, RouteCall] = {}
        for name, route in routes.items():
            upstream = route.spec.upstream
            if upstream.aggregate is not None:
                self._calls[name] = AggregateRoute(upstream.aggregate, self._compile_part)
            else:
                self._calls[name] = self._compile(upstream, route.spec.match.path_prefix, fixed_path=False)
            # upstream latency is measured around all tries, so the access log can tell edge time from theirs
            if monotonic is not None and upstream.mock is None:
                self._calls[name] = _timed(self._calls[name], monotonic)

    def _compile_part(self, part: AggregatePart) -> RouteCall:
        # a part's URL is used as written (placeholders filled from the route's path parameters): the client's
        # path belongs to the aggregate route, not to the services behind it
        return self._compile(part, None, fixed_path=True)

    def _compile(self, upstream: Upstream | AggregatePart, route_prefix: str | None, *, fixed_path: bool) -> RouteCall:
        """One upstream kind of a route or an aggregate part: the same call interface for each kind."""
        if upstream.mock is not None:
            template = mock_response(upstream.mock)

            async def mock(ctx: Context, params: dict[str, str]) -> Response:
                return copy_of(template)

            return mock
        if upstream.http is not None:
            return HttpRoute(
                upstream.http,
                route_prefix,
                self._transport,
                self._jitter,
                fixed_path=fixed_path,
                monotonic=self._monotonic,
            )
        if upstream.lambda_ is not None:
            return LambdaRoute(upstream.lambda_, self._invoker)
        if upstream.service is not None and self._mesh is not None:
            return ServiceRoute(upstream.service, self._mesh, fixed_path=fixed_path)
        # grpc is a route kind only: its HTTP mapping is matched against the client's path, which in an
        # aggregate belongs to the aggregate route
        if isinstance(upstream, Upstream) and upstream.grpc is not None and self._grpc is not None:
            from portico.edge.dispatch.grpc import GrpcRoute  # lazy: protobuf loads only for configs with grpc routes

            return GrpcRoute(upstream.grpc, self._grpc)

        async def unavailable(ctx: Context, params: dict[str, str]) -> Response:
            # raised rather than answered, so an aggregate counts the part as failed like any unreachable upstream
            raise UpstreamConnectError("this upstream kind is not available at the edge yet")

        return unavailable

    async def __call__(self, ctx: Context) -> Response:
        name = ctx.attrs.get(attrs.ROUTE_NAME)
        call = self._calls.get(name) if isinstance(name, str) else None
        if call is None:
            return problem(404, "no route matches this request", request_id=ctx.request_id)
        try:
            return await call(ctx, ctx.attrs.get(attrs.PATH_PARAMS) or {})
        except UpstreamTimeout:
            return problem(504, "the upstream did not answer in time", request_id=ctx.request_id)
        except UpstreamRefused as exc:
            log.warning("upstream refused by policy for route %s: %s", name, exc)
            return problem(502, "the upstream address is refused by policy", request_id=ctx.request_id)
        except UpstreamOverflow as exc:
            log.warning("upstream overflow for route %s: %s", name, exc)
            return problem(503, "too many requests in flight to the upstream", request_id=ctx.request_id)
        except UpstreamConnectError as exc:
            log.warning("upstream connect failure for route %s: %s", name, exc)
            return problem(502, "could not reach the upstream", request_id=ctx.request_id)
        except UpstreamError as exc:  # a reset: the connection broke before a whole response
            log.warning("upstream failure for route %s: %s", name, exc)
            return problem(502, "the upstream connection failed", request_id=ctx.request_id)


def _timed(call: RouteCall, monotonic: Callable[[], float]) -> RouteCall:
    async def timed(ctx: Context, params: dict[str, str]) -> Response:
        started = monotonic()
        try:
            return await call(ctx, params)
        finally:
            ctx.attrs[attrs.UPSTREAM_LATENCY_MS] = (monotonic() - started) * 1000

    return timed


class _Lazy:
    """Creates the shared transport on first use: the pipeline then builds without importing socket code."""

    def __init__(self, factory: Callable[[], Transport]) -> None:
        self._factory = factory

    async def send(self, request: Request, url: str, timeout: float | None) -> Response:
        return await self._factory().send(request, url, timeout)


class _LazyInvoker:
    def __init__(self, factory: Callable[[], FunctionInvoker]) -> None:
        self._factory = factory

    async def invoke(self, function_name: str, qualifier: str | None, payload: dict[str, Any], timeout: float) -> Any:
        return await self._factory().invoke(function_name, qualifier, payload, timeout)


class _LazyGrpc:
    """Creates the gRPC channel cache on first use, inside the running loop (grpc.aio channels belong to one)."""

    def __init__(self, factory: Callable[[], GrpcCaller]) -> None:
        self._factory = factory

    async def unary(
        self,
        target: str,
        tls: GrpcTls,
        method: str,
        request: bytes,
        timeout: float,
        metadata: Sequence[tuple[str, str]],
    ) -> bytes:
        return await self._factory().unary(target, tls, method, request, timeout, metadata)

    async def server_stream(
        self,
        target: str,
        tls: GrpcTls,
        method: str,
        request: bytes,
        timeout: float,
        metadata: Sequence[tuple[str, str]],
        limit: int,
    ) -> list[bytes]:
        return await self._factory().server_stream(target, tls, method, request, timeout, metadata, limit)
