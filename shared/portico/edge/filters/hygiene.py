"""Header hygiene: hop-by-hop fields (and those a client names in Connection) and client x-portico-* are removed."""

from __future__ import annotations

from portico.core.chain import Context, Handler
from portico.core.headers import Headers
from portico.core.hop import hop_by_hop_names
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


def client_fields_to_drop(headers: Headers) -> set[str]:
    """Hop-by-hop fields (never one Portico sets itself) and every client-sent x-portico-* field."""
    return hop_by_hop_names(headers, keep=PORTICO_SET) | {n for n in headers.names() if n.startswith("x-portico-")}


class HeaderHygieneFilter:
    async def __call__(self, ctx: Context, next: Handler) -> Response:
        headers = ctx.request.headers
        for name in client_fields_to_drop(headers):
            headers.remove(name)
        # Forwarded is replaced by the X-Forwarded-* fields Portico derives from the verified request context
        headers.remove("forwarded")
        return await next(ctx)
