"""The outermost filter: no exception ever escapes as a stack trace, and every answer carries the request id."""

from __future__ import annotations

import logging

from portico.core.chain import Context, Handler
from portico.core.http import Response
from portico.core.problem import problem

log = logging.getLogger("portico.edge")


class ErrorGuardFilter:
    async def __call__(self, ctx: Context, next: Handler) -> Response:
        try:
            response = await next(ctx)
        except Exception:  # the last line of defence: log the trace, answer a clean problem
            log.exception("unhandled error (request %s)", ctx.request_id)
            response = problem(500, "internal error; quote the request id", request_id=ctx.request_id)
        for name, value in ctx.response_headers:
            response.headers.add(name, value)
        if ctx.request_id:
            response.headers.set("x-request-id", ctx.request_id)
        return response
