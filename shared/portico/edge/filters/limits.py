"""Request size limits: header count and total header bytes (431), body bytes (413)."""

from __future__ import annotations

from dataclasses import dataclass

from portico.core.chain import Context, Handler
from portico.core.http import Response
from portico.core.problem import problem


@dataclass(frozen=True, slots=True)
class Limits:
    max_headers: int = 100
    max_header_bytes: int = 16 * 1024
    max_body_bytes: int = 6 * 1024 * 1024  # API Gateway's own payload limit


class LimitsFilter:
    def __init__(self, limits: Limits) -> None:
        self._limits = limits

    async def __call__(self, ctx: Context, next: Handler) -> Response:
        request, limits = ctx.request, self._limits
        if len(request.headers) > limits.max_headers:
            return problem(431, f"more than {limits.max_headers} header fields", request_id=ctx.request_id)
        size = sum(len(k) + len(v) + 4 for k, v in request.headers)
        if size > limits.max_header_bytes:
            return problem(431, f"header fields exceed {limits.max_header_bytes} bytes", request_id=ctx.request_id)
        if len(request.body) > limits.max_body_bytes:
            return problem(413, f"body exceeds {limits.max_body_bytes} bytes", request_id=ctx.request_id)
        return await next(ctx)
