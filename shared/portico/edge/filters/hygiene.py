"""Header hygiene: hop-by-hop fields (and those a client names in Connection), client x-portico-* in any spelling,
and header names with `_` (PORTICO_HEADERS_WITH_UNDERSCORES: drop, the default; reject; allow) are removed."""

from __future__ import annotations

from portico.core.chain import Context, Handler
from portico.core.headers import Headers
from portico.core.hop import UnderscoreAction, forged_names, underscore_refusal
from portico.core.http import Response

# Headers Portico sets itself: a client naming them in Connection must not make Portico drop its own values.
PORTICO_SET = frozenset(
    {
        "host",
        "x-request-id",
        "traceparent",
        "tracestate",
        "x-amzn-trace-id",
        "x-forwarded-for",
        "x-forwarded-proto",
        "x-forwarded-host",
        "x-forwarded-port",
        "content-length",
        "authorization",
    }
)


def client_fields_to_drop(headers: Headers, underscores: UnderscoreAction = "drop") -> set[str]:
    """Hop-by-hop fields (never one Portico sets itself), every client-sent x-portico-* field in any spelling, any
    `_` spelling of a field Portico sets, and (by default) every name with `_` (see core.hop.forged_names)."""
    return forged_names(headers, keep=PORTICO_SET, underscores=underscores)


class HeaderHygieneFilter:
    def __init__(self, underscores: UnderscoreAction = "drop") -> None:
        self._underscores = underscores

    async def __call__(self, ctx: Context, next: Handler) -> Response:
        headers = ctx.request.headers
        if refused := underscore_refusal(headers, self._underscores, ctx.request_id or None):
            return refused
        for name in client_fields_to_drop(headers, self._underscores):
            headers.remove(name)
        # Forwarded is replaced by the X-Forwarded-* fields Portico derives from the verified request context
        headers.remove("forwarded")
        return await next(ctx)
