"""Header hygiene for a proxy hop: hop-by-hop fields (RFC 9110 7.6.1) and those named in Connection are dropped."""

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


def strip_hop_by_hop(headers: Headers) -> Headers:
    """A copy without hop-by-hop fields. Content-Length is dropped too: the sender recomputes it from the body."""
    named = {t.strip().lower() for v in headers.get_all("connection") for t in v.split(",") if t.strip()}
    drop = HOP_BY_HOP | named | {"content-length"}
    return Headers((k, v) for k, v in headers if k not in drop)


def invalid_field(name: bytes, value: bytes) -> str | None:
    """Why a header field is unacceptable, or None. llhttp already rejects most; this is the belt to its braces."""
    if not name or any(c in name for c in b"\r\n\x00 \t:"):
        return "invalid header name"
    if any(c in value for c in b"\r\n\x00"):
        return "CR, LF or NUL in a header value"
    return None
