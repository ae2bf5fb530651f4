"""Optional X-Ray subsegment per request, annotated with route and request id; off unless PORTICO_XRAY=true.

The tracer is passed in (Powertools' Tracer when enabled), so this module imports nothing of the X-Ray SDK:
importing it costs ~350 ms at cold start.
"""

from __future__ import annotations

from portico.core.chain import Context, Handler
from portico.core.http import Response
from portico.core.telemetry.sinks import Tracer

from . import attrs


class XRayFilter:
    def __init__(self, tracer: Tracer) -> None:
        self._tracer = tracer

    async def __call__(self, ctx: Context, next: Handler) -> Response:
        async with self._tracer.in_subsegment_async("## portico edge") as segment:
            segment.put_annotation("request_id", ctx.request_id)
            trace = ctx.attrs.get(attrs.TRACE)
            if trace is not None:
                segment.put_annotation("w3c_trace_id", trace.trace_id)
            response = await next(ctx)
            segment.put_annotation("route", ctx.attrs.get(attrs.ROUTE_NAME) or "unmatched")
            segment.put_annotation("status", response.status)
            return response
