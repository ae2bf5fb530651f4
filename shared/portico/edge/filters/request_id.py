"""Request id and W3C trace context: kept when valid, generated when absent, forwarded upstream as a new span."""

from __future__ import annotations

from collections.abc import Callable

from portico.core.chain import Context, Handler
from portico.core.http import Response
from portico.core.telemetry.traceparent import TraceContext, continue_or_start

from . import attrs

__all__ = ["RequestIdFilter", "TraceContext"]


class RequestIdFilter:
    """Uses the front door's request id (API Gateway's) when there is one; a client's own is never trusted."""

    def __init__(self, rng: Callable[[int], bytes]) -> None:
        self._rng = rng

    async def __call__(self, ctx: Context, next: Handler) -> Response:
        if not ctx.request_id:
            ctx.request_id = self._rng(16).hex()
        headers = ctx.request.headers
        trace = continue_or_start(
            headers.get("traceparent"), headers.get("tracestate"), headers.get("x-amzn-trace-id"), self._rng
        )
        ctx.attrs[attrs.TRACE] = trace
        headers.set("x-request-id", ctx.request_id)
        headers.set("traceparent", trace.traceparent)
        if trace.tracestate is None:
            headers.remove("tracestate")
        return await next(ctx)
