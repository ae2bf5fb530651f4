"""CORS, per route or global: preflights are answered at the edge; actual responses get the allow headers and Vary."""

from __future__ import annotations

from portico.core.chain import Context, Handler
from portico.core.config.route import CorsPolicy
from portico.core.headers import Headers
from portico.core.http import Request, Response
from portico.core.problem import problem
from portico.core.routing.table import RouteHit

from . import attrs
from .route import EdgeRoutes, lookup

_PREFLIGHT_VARY = "Origin, Access-Control-Request-Method, Access-Control-Request-Headers"


def _origin_allowed(policy: CorsPolicy, origin: str) -> bool:
    return "*" in policy.allow_origins or origin in policy.allow_origins


def _allow_origin_value(policy: CorsPolicy, origin: str) -> str:
    # '*' is only sent when credentials are off; otherwise the origin is echoed and responses Vary on it
    return "*" if "*" in policy.allow_origins and not policy.allow_credentials else origin


class CorsFilter:
    def __init__(self, table: EdgeRoutes, default: CorsPolicy | None) -> None:
        self._table = table
        self._default = default

    def _policy_for(self, request: Request, method: str) -> CorsPolicy | None:
        found = lookup(self._table, request, method)
        if isinstance(found, RouteHit) and found.payload.spec.cors is not None:
            return found.payload.spec.cors
        return self._default

    async def __call__(self, ctx: Context, next: Handler) -> Response:
        request = ctx.request
        origin = request.headers.get("origin")
        wanted = request.headers.get("access-control-request-method")
        if request.method == "OPTIONS" and origin and wanted:
            policy = self._policy_for(request, wanted.strip().upper())
            if policy is not None:
                return self._preflight(ctx, policy, origin, wanted.strip().upper())
        response = await next(ctx)
        route = ctx.attrs.get(attrs.ROUTE)
        policy = route.spec.cors if route is not None and route.spec.cors is not None else self._default
        if policy is not None:
            self._decorate(response, policy, origin)
        return response

    def _preflight(self, ctx: Context, policy: CorsPolicy, origin: str, method: str) -> Response:
        vary = Headers([("vary", _PREFLIGHT_VARY)])
        asked = [
            h.strip().lower() for h in (ctx.request.headers.get("access-control-request-headers") or "").split(",")
        ]
        asked = [h for h in asked if h]
        allowed_headers = {h.lower() for h in policy.allow_headers}
        if not _origin_allowed(policy, origin):
            return problem(403, f"CORS: origin {origin} is not allowed", request_id=ctx.request_id, headers=vary)
        if method not in policy.allow_methods:
            return problem(403, f"CORS: method {method} is not allowed", request_id=ctx.request_id, headers=vary)
        refused = [h for h in asked if h not in allowed_headers and "*" not in allowed_headers]
        if refused:
            detail = f"CORS: header(s) {', '.join(refused)} not allowed"
            return problem(403, detail, request_id=ctx.request_id, headers=vary)
        headers = vary
        headers.add("access-control-allow-origin", _allow_origin_value(policy, origin))
        headers.add("access-control-allow-methods", ", ".join(policy.allow_methods))
        if asked:
            headers.add("access-control-allow-headers", ", ".join(asked))
        if policy.allow_credentials:
            headers.add("access-control-allow-credentials", "true")
        if policy.max_age is not None:
            headers.add("access-control-max-age", str(int(policy.max_age)))
        return Response(status=204, headers=headers)

    def _decorate(self, response: Response, policy: CorsPolicy, origin: str | None) -> None:
        headers = response.headers
        if not ("*" in policy.allow_origins and not policy.allow_credentials):
            vary = headers.get("vary")
            if vary is None:
                headers.set("vary", "Origin")
            elif "origin" not in vary.lower() and vary.strip() != "*":
                headers.set("vary", f"{vary}, Origin")
        if not origin or not _origin_allowed(policy, origin):
            return
        headers.set("access-control-allow-origin", _allow_origin_value(policy, origin))
        if policy.allow_credentials:
            headers.set("access-control-allow-credentials", "true")
        if policy.expose_headers:
            headers.set("access-control-expose-headers", ", ".join(policy.expose_headers))
