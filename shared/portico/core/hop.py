"""Hop-by-hop header fields (RFC 9110 7.6.1): one definition for the edge and the sidecar."""

from __future__ import annotations

from portico.core.headers import Headers

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


def connection_tokens(headers: Headers) -> set[str]:
    """The field names a sender lists in its Connection header(s), lower-cased."""
    return {t.strip().lower() for v in headers.get_all("connection") for t in v.split(",") if t.strip()}


def hop_by_hop_names(headers: Headers, *, keep: frozenset[str] = frozenset()) -> set[str]:
    """Names to drop before forwarding: the hop-by-hop set and what Connection lists, except `keep`.

    `keep` protects fields the proxy sets itself, so a client naming them in Connection cannot strip them.
    """
    listed = connection_tokens(headers) - keep
    return {n for n in headers.names() if n in HOP_BY_HOP or n in listed}
