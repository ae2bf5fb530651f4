"""Edge identity: authentication (JWT or API key), authorisation (scopes, claims), identity headers upstream.

Three filters, so the pipeline reads as its three steps. They need the matched route (`ctx.attrs["route"]`);
authentication sets `ctx.attrs["identity"]` (a portico.core.auth.identity.Identity) for every later filter.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from typing import TYPE_CHECKING

from portico.core.auth.authenticator import Authenticator
from portico.core.auth.authorize import authorize
from portico.core.auth.challenge import auth_response
from portico.core.auth.credentials import api_key, bearer_token
from portico.core.auth.errors import AuthError, AuthUnavailable
from portico.core.auth.identity import CLAIM_HEADER_PREFIX, CONSUMER_HEADER, SCOPES_HEADER, SUB_HEADER, Identity
from portico.core.chain import Context, Handler
from portico.core.config.documents import Route
from portico.core.http import Response
from portico.core.problem import problem
from portico.edge.filters.attrs import AUTH_FAILED, IDENTITY, ROUTE

if TYPE_CHECKING:
    from portico.edge.introspect import Introspector


def _scheme(route: Route) -> tuple[str, str | None]:
    """The challenge scheme of a route: Bearer for JWT routes; ApiKey (naming its header) for API-key routes."""
    if route.spec.auth.api_key is not None:
        return "ApiKey", route.spec.auth.api_key.header
    return "Bearer", None


def _refused(ctx: Context, route: Route, exc: AuthError, realm: str) -> Response:
    """The RFC 6750 answer, and the mark the access log counts as AuthFailed (whatever the status ends up being)."""
    ctx.attrs[AUTH_FAILED] = True
    scheme, header = _scheme(route)
    return auth_response(exc, scheme=scheme, realm=realm, header=header, request_id=ctx.request_id)


class AuthenticationFilter:
    """Verifies the route's credentials; answers 400/401 per RFC 6750, never a 5xx for anything a client sends."""

    def __init__(
        self,
        authenticator: Authenticator,
        realm: str = "portico",
        introspectors: Mapping[str, Introspector] | None = None,
    ) -> None:
        self._auth = authenticator
        self._realm = realm
        self._introspectors = introspectors or {}

    async def __call__(self, ctx: Context, next: Handler) -> Response:
        route: Route | None = ctx.attrs.get(ROUTE)
        # external authorisation decides in its own filter; a certificate alone was checked before this one
        if route is None or route.spec.auth.credential_free or route.spec.auth.external is not None:
            return await next(ctx)
        try:
            ctx.attrs[IDENTITY] = await self._identify(ctx, route)
        except AuthUnavailable as exc:
            ctx.attrs[AUTH_FAILED] = True  # deny by default: the token could not be checked
            return problem(503, exc.description or "the token could not be checked", request_id=ctx.request_id)
        except AuthError as exc:
            return _refused(ctx, route, exc, self._realm)
        return await next(ctx)

    async def _identify(self, ctx: Context, route: Route) -> Identity:
        auth = route.spec.auth
        if auth.jwt is not None:
            return await self._auth.token(bearer_token(ctx.request), auth.jwt.issuers, ctx.now)
        if auth.introspection is not None:
            found = await self._introspectors[route.metadata.name].identify(bearer_token(ctx.request), ctx.now)
            return replace(found, consumer=self._auth.consumer_of(found.sub))
        assert auth.api_key is not None  # RouteAuth holds exactly one of jwt, apiKey, none
        identity = self._auth.api_key(api_key(ctx.request, auth.api_key.header))
        # the key is a long-lived secret: the upstream learns who called from x-portico-consumer instead
        ctx.request.headers.remove(auth.api_key.header)
        return identity


class AuthorisationFilter:
    """Checks the route's required scopes and claim matchers against the verified identity: 403 when lacking."""

    def __init__(self, realm: str = "portico") -> None:
        self._realm = realm

    async def __call__(self, ctx: Context, next: Handler) -> Response:
        route: Route | None = ctx.attrs.get(ROUTE)
        identity: Identity | None = ctx.attrs.get(IDENTITY)
        if route is None or identity is None:
            return await next(ctx)
        auth = route.spec.auth
        scopes = _required_scopes(route)
        claims = auth.jwt.claims if auth.jwt else []
        try:
            authorize(identity, scopes, claims)
        except AuthError as exc:
            return _refused(ctx, route, exc, self._realm)
        return await next(ctx)


def _required_scopes(route: Route) -> list[str]:
    """The scopes a route demands, whichever credential brings them (JWT, API key or introspected token)."""
    auth = route.spec.auth
    for source in (auth.jwt, auth.api_key, auth.introspection):
        if source is not None:
            return source.scopes
    return []


class IdentityHeadersFilter:
    """Sends the verified identity upstream as x-portico-sub / -consumer / -scopes (and forwarded claims).

    Header hygiene already removed client x-portico-* fields; these are removed again here so that nothing but
    a verified identity can ever reach the upstream under these names, whatever the filter order becomes.
    """

    async def __call__(self, ctx: Context, next: Handler) -> Response:
        headers = ctx.request.headers
        for name in headers.names():
            if name in (SUB_HEADER, CONSUMER_HEADER, SCOPES_HEADER) or name.startswith(CLAIM_HEADER_PREFIX):
                headers.remove(name)
        identity: Identity | None = ctx.attrs.get(IDENTITY)
        if identity is not None:
            for name, value in identity.headers():
                headers.add(name, value)
        return await next(ctx)
