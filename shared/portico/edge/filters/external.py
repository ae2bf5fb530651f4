"""External authorisation: a Lambda REQUEST authorizer or an Envoy ext_authz HTTP service decides for the route.

The Lambda authorizer is invoked exactly as the lambda upstream is (the same FunctionInvoker); the HTTP service
is called through the edge's Transport, so its addresses are checked at connect time like any upstream's.
A missing identity source is 401 without a call (API Gateway does the same). Errors, timeouts and malformed
answers deny with `statusOnError` unless `failureMode: open`. Allowed decisions are cached by a hash of the
identity-source values for `cacheTtl`; the Lambda's `context` goes upstream as `x-portico-authz-<key>` headers
and the HTTP service's listed response headers go upstream as they are.
"""

from __future__ import annotations

import asyncio
import logging
import re
from collections.abc import Callable, Mapping
from urllib.parse import urlsplit

from portico.core.auth.decisions import AuthState
from portico.core.auth.external import (
    Decision,
    InvalidDecision,
    cache_key,
    check_request,
    http_decision,
    identity_values,
    lambda_decision,
    parse_identity_source,
)
from portico.core.auth.identity import Identity, header_value
from portico.core.chain import Context, Handler
from portico.core.config.documents import Route
from portico.core.config.protection import ExternalAuth
from portico.core.http import Response
from portico.core.ports import Transport, UpstreamError
from portico.core.problem import problem
from portico.edge.dispatch.lambda_ import FunctionInvoker
from portico.edge.events.outbound import event_for
from portico.edge.filters.attrs import AUTH_FAILED, IDENTITY, PATH_PARAMS, ROUTE_NAME

log = logging.getLogger("portico.edge.authz")
CONTEXT_HEADER_PREFIX = "x-portico-authz-"
_CONTEXT_KEY = re.compile(r"[A-Za-z0-9_-]{1,64}")


class ExternalAuthFilter:
    """Present in the chain only when some route has `auth.external`."""

    def __init__(
        self,
        routes: Mapping[str, Route],
        state: AuthState,
        invoker: Callable[[], FunctionInvoker],
        transport: Callable[[], Transport],
    ) -> None:
        self._specs = {n: r.spec.auth.external for n, r in routes.items() if r.spec.auth.external is not None}
        self._sources = {
            n: [parse_identity_source(s) for s in spec.identity_sources] for n, spec in self._specs.items()
        }
        self._state = state
        self._invoker = invoker
        self._transport = transport
        self.calls = 0

    async def __call__(self, ctx: Context, next: Handler) -> Response:
        name = ctx.attrs.get(ROUTE_NAME, "")
        spec = self._specs.get(name)
        if spec is None:
            return await next(ctx)
        values = identity_values(ctx.request, self._sources[name])
        if values is None:
            ctx.attrs[AUTH_FAILED] = True
            return problem(
                401, "the request lacks the credentials this route's authorizer needs", request_id=ctx.request_id
            )
        authoriser = _authoriser(spec)
        cache = self._state.decision_cache(authoriser)
        key = cache_key(name, values)
        decision = cache.get(key, ctx.now)
        if decision is None:
            try:
                decision = await self._ask(ctx, spec, values)
            except (UpstreamError, InvalidDecision, TimeoutError) as exc:
                log.warning("authorizer %s failed: %s: %s", authoriser, type(exc).__name__, exc)
                if spec.failure_mode == "open":
                    return await next(ctx)
                ctx.attrs[AUTH_FAILED] = True
                return problem(spec.status_on_error, "the authorizer did not decide", request_id=ctx.request_id)
            if decision.allowed or decision.denial is None:
                cache.put(key, decision, ctx.now, spec.cache_ttl)
        if not decision.allowed:
            ctx.attrs[AUTH_FAILED] = True
            if decision.denial is not None:
                return decision.denial
            return problem(403, "the authorizer denied this request", request_id=ctx.request_id)
        _apply(ctx, decision)
        return await next(ctx)

    async def _ask(self, ctx: Context, spec: ExternalAuth, values: tuple[str, ...]) -> Decision:
        self.calls += 1
        async with asyncio.timeout(spec.timeout):
            if spec.lambda_ is not None:
                event = _authorizer_event(ctx, values)
                invoker = self._invoker()
                result = await invoker.invoke(spec.lambda_.function_name, spec.lambda_.qualifier, event, spec.timeout)
                return lambda_decision(result)
            assert spec.http is not None  # ExternalAuth holds exactly one of lambda, http
            url = urlsplit(spec.http.url)
            request, target = check_request(ctx.request, ctx.request.route_path, spec.http.allowed_headers, url.path)
            request.headers.set("host", url.netloc)
            full = url._replace(path=target, query=ctx.request.raw_query).geturl()
            response = await self._transport().send(request, full, spec.timeout)
            return http_decision(response, spec.http.upstream_headers)


def _authoriser(spec: ExternalAuth) -> str:
    if spec.lambda_ is not None:
        return f"lambda:{spec.lambda_.function_name}:{spec.lambda_.qualifier or ''}"
    assert spec.http is not None
    return f"http:{spec.http.url}"


def _authorizer_event(ctx: Context, values: tuple[str, ...]) -> dict[str, object]:
    """API Gateway's HTTP API payload 2.0 REQUEST-authorizer event: the request image without its body."""
    event = event_for(ctx.request, ctx.request_id, ctx.now, ctx.attrs.get(PATH_PARAMS) or None)
    event.pop("body", None)
    event.pop("isBase64Encoded", None)
    route_arn = f"arn:aws:execute-api:local:123456789012:local/$default/{ctx.request.method}{ctx.request.route_path}"
    return {"type": "REQUEST", "routeArn": route_arn, "identitySource": list(values), **event}


def _apply(ctx: Context, decision: Decision) -> None:
    headers = ctx.request.headers
    for key, value in decision.context.items():
        if _CONTEXT_KEY.fullmatch(key):  # a key that cannot be a header name is not forwarded
            headers.set(CONTEXT_HEADER_PREFIX + key.lower(), header_value(value))
    for name, value in decision.upstream_headers:
        headers.set(name, value)
    consumer = decision.context.get("consumer")
    ctx.attrs[IDENTITY] = Identity(
        method="external",
        sub=decision.principal,
        consumer=consumer,
        scopes=frozenset(decision.context.get("scope", "").split()),
    )
