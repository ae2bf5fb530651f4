"""IP rules at the edge: the global policy before any other work, a route's own rules right after route match.

Both judge the address API Gateway saw (`requestContext.http.sourceIp`). X-Forwarded-For is read only when that
address is a trusted proxy (PORTICO_TRUSTED_PROXIES, e.g. CloudFront's ranges); see portico.core.iprules.
A refusal is a 403 problem and happens before authentication and quota, so it costs no key lookup and no write.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from portico.core.chain import Context, Handler
from portico.core.config.documents import Route
from portico.core.http import Response
from portico.core.iprules import IpAddress, IpNetwork, IpRuleSet, client_address, parse_address
from portico.core.problem import problem
from portico.edge.filters.attrs import CLIENT_IP, ROUTE_NAME


def _refused(ctx: Context) -> Response:
    return problem(403, "requests from this address are not allowed", request_id=ctx.request_id)


class ClientIpFilter:
    """Finds the client address once (trusted proxies honoured) and applies the global policy to it."""

    def __init__(self, policy: IpRuleSet, trusted: Sequence[IpNetwork]) -> None:
        self._policy = policy
        self._trusted = tuple(trusted)

    async def __call__(self, ctx: Context, next: Handler) -> Response:
        request = ctx.request
        forwarded = request.headers.get("x-forwarded-for") if self._trusted else None
        address = client_address(request.source_ip, forwarded, self._trusted)
        ctx.attrs[CLIENT_IP] = address
        if self._trusted and address is not None:
            request.source_ip = str(address)  # the `ip` rate-limit key and X-Forwarded-For upstream use it too
        if not self._policy.empty and not self._policy.admits(address):
            return _refused(ctx)
        return await next(ctx)


class RouteIpFilter:
    """The matched route's `ipRules`; present in the chain only when some route has them."""

    def __init__(self, routes: Mapping[str, Route]) -> None:
        self._rules = {name: r.spec.ip_rules.rule_set() for name, r in routes.items() if r.spec.ip_rules is not None}

    async def __call__(self, ctx: Context, next: Handler) -> Response:
        rules = self._rules.get(ctx.attrs.get(ROUTE_NAME, ""))
        if rules is not None:
            address: IpAddress | None = (
                ctx.attrs[CLIENT_IP] if CLIENT_IP in ctx.attrs else parse_address(ctx.request.source_ip)
            )
            if not rules.admits(address):
                return _refused(ctx)
        return await next(ctx)
