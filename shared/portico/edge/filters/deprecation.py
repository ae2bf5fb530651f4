"""Deprecated routes announce it on every answer: Deprecation, Sunset and a Link to the migration docs."""

from __future__ import annotations

from portico.core.chain import Context, Handler
from portico.core.compose.deprecation import deprecation_headers
from portico.core.config.documents import Route
from portico.core.http import Response

from . import attrs


class DeprecationFilter:
    def __init__(self, routes: dict[str, Route]) -> None:
        # computed once per config version: the header values never change between requests
        self._headers = {name: deprecation_headers(r.spec) for name, r in routes.items() if r.spec.deprecated}

    async def __call__(self, ctx: Context, next: Handler) -> Response:
        found = self._headers.get(ctx.attrs.get(attrs.ROUTE_NAME) or "")
        if found:
            # response_headers reach every answer, errors and cache hits included (ErrorGuardFilter adds them)
            ctx.response_headers.extend(found)
        return await next(ctx)
