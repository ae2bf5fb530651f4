"""Request id and W3C trace context: kept when valid, generated when absent, forwarded upstream as a new span."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass

from portico.core.chain import Context, Handler
from portico.core.http import Response

from . import attrs

_TRACEPARENT = re.compile(r"^00-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})$")
_AMZN_ROOT = re.compile(r"Root=1-([0-9a-f]{8})-([0-9a-f]{24})")


@dataclass(frozen=True, slots=True)
class TraceContext:
    trace_id: str
    span_id: str  # the span Portico opens for this hop; upstreams see it as their parent
    flags: str
    tracestate: str | None

    @property
    def traceparent(self) -> str:
        return f"00-{self.trace_id}-{self.span_id}-{self.flags}"


def _nonzero_hex(rng: Callable[[int], bytes], size: int) -> str:
    while True:
        value = rng(size).hex()
        if value.strip("0"):
            return value


class RequestIdFilter:
    """Uses the front door's request id (API Gateway's) when there is one; a client's own is never trusted."""

    def __init__(self, rng: Callable[[int], bytes]) -> None:
        self._rng = rng

    async def __call__(self, ctx: Context, next: Handler) -> Response:
        if not ctx.request_id:
            ctx.request_id = self._rng(16).hex()
        headers = ctx.request.headers
        trace = self._trace(headers.get("traceparent"), headers.get("tracestate"), headers.get("x-amzn-trace-id"))
        ctx.attrs[attrs.TRACE] = trace
        headers.set("x-request-id", ctx.request_id)
        headers.set("traceparent", trace.traceparent)
        if trace.tracestate is None:
            headers.remove("tracestate")
        return await next(ctx)

    def _trace(self, parent: str | None, state: str | None, amzn: str | None) -> TraceContext:
        span = _nonzero_hex(self._rng, 8)
        found = _TRACEPARENT.match(parent.strip().lower()) if parent else None
        if found and found.group(1).strip("0") and found.group(2).strip("0"):
            return TraceContext(found.group(1), span, found.group(3), state)
        root = _AMZN_ROOT.search(amzn or "")
        if root:  # continue an X-Ray trace: its root is the same 128-bit id W3C uses
            return TraceContext(root.group(1) + root.group(2), span, "00", None)
        return TraceContext(_nonzero_hex(self._rng, 16), span, "00", None)
