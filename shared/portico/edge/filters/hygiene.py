"""Header hygiene: hop-by-hop fields (and those a client names in Connection) and client x-portico-* are removed."""

from __future__ import annotations

from portico.core.chain import Context, Handler
from portico.core.http import Response

HOP_BY_HOP = frozenset(
    {
        "connection",
        "keep-alive",
        "proxy-connection",
        "proxy-authenticate",
        "proxy-authorization",
        "te",
        "trailer",
        "transfer-encoding",
        "upgrade",
    }
)
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


def connection_listed(value: str | None) -> set[str]:
    if not value:
        return set()
    return {token.strip().lower() for token in value.split(",") if token.strip()}


def strip_hop_by_hop(headers_names: frozenset[str], connection: str | None) -> set[str]:
    """The field names to remove from a message before it is forwarded."""
    listed = connection_listed(connection) - PORTICO_SET
    return {n for n in headers_names if n in HOP_BY_HOP or n in listed or n.startswith("x-portico-")}


class HeaderHygieneFilter:
    async def __call__(self, ctx: Context, next: Handler) -> Response:
        headers = ctx.request.headers
        for name in strip_hop_by_hop(headers.names(), headers.get("connection")):
            headers.remove(name)
        # Forwarded is replaced by the X-Forwarded-* fields Portico derives from the verified request context
        headers.remove("forwarded")
        return await next(ctx)
