"""Path normalisation before routing; routing, auth and the upstream all see the one normalised path."""

from __future__ import annotations

from portico.core.chain import Context, Handler
from portico.core.http import Response
from portico.core.problem import problem
from portico.core.routing.normalize import PathRejected, normalize_path


class PathNormalizeFilter:
    async def __call__(self, ctx: Context, next: Handler) -> Response:
        try:
            ctx.request.normalized_path = normalize_path(ctx.request.path)
        except PathRejected as exc:
            title = "URI Too Long" if exc.status == 414 else None
            return problem(exc.status, str(exc), request_id=ctx.request_id, title=title)
        return await next(ctx)
