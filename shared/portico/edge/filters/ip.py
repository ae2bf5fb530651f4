"""IP rules at the edge: the global policy before any other work, a route's own rules inside route match, and a
screen that answers a refused client's repeated request before any other work too.

Both judge the address API Gateway saw (`requestContext.http.sourceIp`). X-Forwarded-For is read only when that
address is a trusted proxy (PORTICO_TRUSTED_PROXIES, e.g. CloudFront's ranges); see portico.core.iprules.
A refusal is a 403 problem and happens before authentication and quota, so it costs no key lookup and no write.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from portico.core.chain import Context, Handler
from portico.core.config.documents import Route
from portico.core.http import Response
from portico.core.iprules import IpAddress, IpNetwork, IpRuleSet, client_address
from portico.core.problem import CannedProblem
from portico.edge.filters.attrs import CLIENT_IP, ROUTE_NAME, SCREEN_KEY

# encoded once: a refusal must cost less than the 404 it spares a refused client (docs/protection.md, bench.edge)
_REFUSED = CannedProblem(403, "requests from this address are not allowed")
_UNREAD: Any = object()  # no global IP filter ran: the route reads the source address itself


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
            return _REFUSED.response(ctx.request_id)
        return await next(ctx)


class RouteIpRules:
    """Each route's `ipRules`, judged by the route filter the moment a route matches, before anything else is
    built for the request: a refusal costs the match and a few integer comparisons, then a body encoded once.

    Without a global filter, the verdict for a source address is remembered per route (the rules are fixed for
    the config version this lives in; at most `MEMO` addresses, then forgotten at once): a refused client that
    keeps trying costs a dictionary lookup per request.
    """

    MEMO = 4096

    def __init__(self, routes: Mapping[str, Route]) -> None:
        self._rules = {name: r.spec.ip_rules.rule_set() for name, r in routes.items() if r.spec.ip_rules is not None}
        self._verdicts: dict[str, dict[str, bool]] = {name: {} for name in self._rules}
        self._refused: dict[ScreenKey, str] = {}  # screen key -> the route that refused it (RefusedClientScreen)

    def screened(self, key: ScreenKey) -> str | None:
        """The route that refused a request with this key before, if any."""
        return self._refused.get(key)

    def __bool__(self) -> bool:
        return bool(self._rules)

    def refusal(self, ctx: Context, route: str) -> Response | None:
        """The 403 when `route` has rules that refuse this client, else None."""
        rules = self._rules.get(route)
        if rules is None:
            return None
        # the global filter already found the client address (trusted proxies honoured); else the source's
        address: IpAddress | None = ctx.attrs.get(CLIENT_IP, _UNREAD)
        if address is _UNREAD:
            source = ctx.request.source_ip
            verdicts = self._verdicts[route]
            admitted = verdicts.get(source)
            if admitted is None:
                if len(verdicts) >= self.MEMO:
                    verdicts.clear()
                admitted = verdicts[source] = rules.admits_source(source)
        else:
            admitted = rules.admits(address)
        if admitted:
            return None
        key: ScreenKey | None = ctx.attrs.get(SCREEN_KEY)
        if key is not None:
            if len(self._refused) >= self.MEMO:
                self._refused.clear()
            self._refused[key] = route
        return _REFUSED.response(ctx.request_id)


# (source address, X-Forwarded-For when proxies are trusted, method, host, Host header, raw path)
ScreenKey = tuple[str, str | None, str, str, str | None, str]


class RefusedClientScreen:
    """Answers a request that a route's `ipRules` refused before, byte for byte the same, ahead of header hygiene,
    limits, path normalisation and route match: a refused client that keeps trying costs a tuple and a dictionary
    lookup, so a refusal costs less than the 404 every other client pays for a path no route has.

    Sound only while a route match depends on nothing but the method, the host and the raw path (normalisation is
    a function of it), so the pipeline builds it only when no route matches on header or query values (versioned
    routes do, through the version header); the address judged is a function of the source address and, with
    trusted proxies, X-Forwarded-For, which are in the key. OPTIONS is left to the CORS filter's preflights. Built
    per config version with the route rules it reads, so a reload forgets what it remembered; bounded like the
    verdicts (`RouteIpRules.MEMO` keys, then forgotten at once). A new path from a refused client pays the normal
    route match and refusal, about what a 404 costs (docs/protection.md).
    """

    def __init__(self, rules: RouteIpRules, trusted: bool) -> None:
        self._rules = rules
        self._trusted = trusted

    async def __call__(self, ctx: Context, next: Handler) -> Response:
        request = ctx.request
        if request.method == "OPTIONS":
            return await next(ctx)
        headers = request.headers
        key: ScreenKey = (
            request.source_ip,
            headers.get("x-forwarded-for") if self._trusted else None,
            request.method,
            request.host,
            headers.get("host"),
            request.path,
        )
        route = self._rules.screened(key)
        if route is not None:
            ctx.attrs[ROUTE_NAME] = route  # the access log names the route that refused, as the route filter does
            return _REFUSED.response(ctx.request_id)
        ctx.attrs[SCREEN_KEY] = key
        return await next(ctx)
