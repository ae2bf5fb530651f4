"""The terminal handler: per route, a compiled upstream call; upstream failures become 502 / 504 problems."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import Any

from portico.core.chain import Context
from portico.core.config.documents import Route
from portico.core.http import Request, Response
from portico.core.ports import Transport, UpstreamConnectError, UpstreamRefused, UpstreamTimeout
from portico.core.problem import problem
from portico.edge.dispatch.http import HttpRoute
from portico.edge.dispatch.lambda_ import FunctionInvoker, LambdaRoute
from portico.edge.dispatch.mock import copy_of, mock_response
from portico.edge.filters import attrs

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
    ) -> None:
        self._calls: dict[str, RouteCall] = {}
        for name, route in routes.items():
            self._calls[name] = self._compile(route, transport, invoker, jitter)

    @staticmethod
    def _compile(
        route: Route,
        transport: Callable[[], Transport],
        invoker: Callable[[], FunctionInvoker],
        jitter: Callable[[], float],
    ) -> RouteCall:
        upstream = route.spec.upstream
        if upstream.mock is not None:
            template = mock_response(upstream.mock)

            async def mock(ctx: Context, params: dict[str, str]) -> Response:
                return copy_of(template)

            return mock
        if upstream.http is not None:
            return HttpRoute(upstream.http, route.spec.match.path_prefix, _Lazy(transport), jitter)
        if upstream.lambda_ is not None:
            return LambdaRoute(upstream.lambda_, _LazyInvoker(invoker))
        kind = "service" if upstream.service is not None else "aggregate"

        async def unavailable(ctx: Context, params: dict[str, str]) -> Response:
            return problem(502, f"upstream kind {kind!r} is not available at the edge yet", request_id=ctx.request_id)

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
        except UpstreamConnectError as exc:
            log.warning("upstream connect failure for route %s: %s", name, exc)
            return problem(502, "could not reach the upstream", request_id=ctx.request_id)


class _Lazy:
    """Creates the shared transport on first use: the pipeline then builds without importing socket code."""

    def __init__(self, factory: Callable[[], Transport]) -> None:
        self._factory = factory

    async def send(self, request: Request, url: str, timeout: float) -> Response:
        return await self._factory().send(request, url, timeout)


class _LazyInvoker:
    def __init__(self, factory: Callable[[], FunctionInvoker]) -> None:
        self._factory = factory

    async def invoke(self, function_name: str, qualifier: str | None, payload: dict[str, Any], timeout: float) -> Any:
        return await self._factory().invoke(function_name, qualifier, payload, timeout)
