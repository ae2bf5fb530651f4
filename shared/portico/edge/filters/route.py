"""Route match: picks the Route for the normalised request, or answers 404 / 405 with Allow, or 403 when the
route's `ipRules` refuse the client (judged here, at the match, so a refusal costs no more than a 404)."""

from __future__ import annotations

from portico.core.chain import Context, Handler
from portico.core.compose.versioning import route_matches
from portico.core.config.documents import Route
from portico.core.headers import Headers
from portico.core.http import Request, Response
from portico.core.problem import problem
from portico.core.routing.table import RouteHit, RouteTable

from . import attrs
from .ip import RouteIpRules

EdgeRoutes = RouteTable[Route]


def build_routes(routes: dict[str, Route]) -> EdgeRoutes:
    # a versioned route compiles to one entry per way its version can be named (core/compose/versioning.py)
    return RouteTable.build(
        (name, match, r.spec.priority, r) for name, r in routes.items() for match in route_matches(r.spec)
    )


def request_host(request: Request) -> str:
    host = (request.host or request.headers.get("host") or "").lower()
    if host.startswith("["):  # [v6]:port
        return host.split("]", 1)[0] + "]"
    return host.rsplit(":", 1)[0] if ":" in host else host


def lookup(table: EdgeRoutes, request: Request, method: str | None = None) -> RouteHit[Route] | frozenset[str]:
    """The hit, or the Allow set of a miss (empty: 404)."""
    headers: dict[str, list[str]] = {}
    for name, value in request.headers:
        headers.setdefault(name, []).append(value)
    query: dict[str, list[str]] = {}
    for name, value in request.query:
        query.setdefault(name, []).append(value)
    found = table.match(method or request.method, request_host(request), request.route_path, headers, query)
    return found if isinstance(found, RouteHit) else found.allow


class RouteFilter:
    def __init__(self, table: EdgeRoutes, ip_rules: RouteIpRules | None = None) -> None:
        self._table = table
        self._ip_rules = ip_rules or None  # None when no route has ipRules: nothing to look up per request

    async def __call__(self, ctx: Context, next: Handler) -> Response:
        found = lookup(self._table, ctx.request)
        if isinstance(found, frozenset):
            if not found:
                return problem(404, "no route matches this request", request_id=ctx.request_id)
            allow = ", ".join(sorted(found))
            return problem(
                405,
                f"method {ctx.request.method} is not allowed here; allowed: {allow}",
                request_id=ctx.request_id,
                headers=Headers([("allow", allow)]),
            )
        if self._ip_rules is not None:
            refused = self._ip_rules.refusal(ctx, found.name)
            if refused is not None:
                ctx.attrs[attrs.ROUTE_NAME] = found.name  # the access log names the route that refused
                return refused
        route = found.payload
        ctx.attrs[attrs.ROUTE] = route
        ctx.attrs[attrs.ROUTE_NAME] = found.name
        ctx.attrs[attrs.PATH_PARAMS] = found.params
        limit = route.spec.max_body_bytes
        if limit is not None and len(ctx.request.body) > limit:
            return problem(413, f"body exceeds this route's {limit} bytes", request_id=ctx.request_id)
        return await next(ctx)
