"""API version selection, before route match: the path-prefix and media-type forms become one internal header."""

from __future__ import annotations

from portico.core.chain import Context, Handler
from portico.core.compose.versioning import VERSION_HEADER, header_version, path_version
from portico.core.config.documents import Route
from portico.core.http import Response
from portico.core.problem import problem

from .route import EdgeRoutes, lookup


class VersionFilter:
    """`/v2/orders/1`, `Accept-Version: v2` and `Accept: application/json; version=v2` all reach the route that
    declares `version: {name: v2}`; the upstream sees `/orders/1` and `x-portico-api-version: v2`.

    A path prefix is taken as a version only when the rest of the path matches a route of that version, so an
    unversioned route whose own path starts with `/v2` keeps working.
    """

    def __init__(self, routes: EdgeRoutes, versions: frozenset[str]) -> None:
        self._routes = routes
        self._versions = versions

    async def __call__(self, ctx: Context, next: Handler) -> Response:
        if not self._versions:
            return await next(ctx)
        request = ctx.request
        named = header_version(request.headers)
        if named is not None:
            if named not in self._versions:
                known = ", ".join(sorted(self._versions))
                return problem(400, f"unknown API version {named!r}; this API has {known}", request_id=ctx.request_id)
            request.headers.set(VERSION_HEADER, named)
            return await next(ctx)
        found = path_version(request.route_path, self._versions)
        if found is not None:
            version, rest = found
            original = request.normalized_path
            request.normalized_path = rest
            request.headers.set(VERSION_HEADER, version)
            preflight = request.headers.get("access-control-request-method") if request.method == "OPTIONS" else None
            hit = lookup(self._routes, request, preflight.upper() if preflight else None)
            route = None if isinstance(hit, frozenset) else hit.payload
            if not _serves(route, version):
                request.normalized_path = original  # not a versioned request after all: route the path as sent
                request.headers.remove(VERSION_HEADER)
        return await next(ctx)


def _serves(route: Route | None, version: str) -> bool:
    return route is not None and route.spec.version is not None and route.spec.version.name == version


def declared_versions(routes: dict[str, Route]) -> frozenset[str]:
    return frozenset(r.spec.version.name for r in routes.values() if r.spec.version is not None)
