"""Header hygiene for a sidecar hop: hop-by-hop fields are dropped (see core.hop) and header bytes are checked."""

from __future__ import annotations

from portico.core.headers import Headers
from portico.core.hop import HOP_BY_HOP, INTERNAL_PREFIX, UnderscoreAction, forged_names, hop_by_hop_names

# Both run twice per proxied request. Most requests carry no field they drop but Content-Length, so one pass that
# finds nothing to look at more closely (no hop-by-hop name, which includes Connection, no `_`, no foreign
# x-portico-*) skips building the drop sets; the result is the same pairs either way (tests/unit/test_hop.py).


def strip_hop_by_hop(headers: Headers) -> Headers:
    """A copy without hop-by-hop fields. Content-Length is dropped too: the sender recomputes it from the body."""
    for k, _ in headers:  # a loop, not any() over a generator: one less object per call
        if k in HOP_BY_HOP:
            break
    else:
        return Headers.lowered([(k, v) for k, v in headers if k != "content-length"])
    drop = hop_by_hop_names(headers) | {"content-length"}
    return Headers.lowered([(k, v) for k, v in headers if k not in drop])


def clean_request(headers: Headers, underscores: UnderscoreAction, *, internal_ok: frozenset[str]) -> Headers:
    """A copy of a request's fields fit to cross a hop: without hop-by-hop fields, Content-Length, `_` names (when
    dropped), and x-portico-* in any spelling except the exact names in `internal_ok` (what a sidecar set)."""
    for k, _ in headers:
        if k in HOP_BY_HOP or "_" in k or (k.startswith(INTERNAL_PREFIX) and k not in internal_ok):
            break
    else:
        return Headers.lowered([(k, v) for k, v in headers if k != "content-length"])
    drop = forged_names(headers, underscores=underscores) - internal_ok
    drop.add("content-length")
    return Headers.lowered([(k, v) for k, v in headers if k not in drop])


_BAD_NAME = b"\r\n\x00 \t:"
_BAD_VALUE = b"\r\n\x00"


def invalid_field(name: bytes, value: bytes) -> str | None:
    """Why a header field is unacceptable, or None. llhttp already rejects most; this is the belt to its braces.

    Runs for every header of every request, so each scan is one C pass (bytes.translate deleting the bad bytes
    changes the length when any is there) instead of a Python loop per byte class (~2 us per field).
    """
    if not name or len(name.translate(None, _BAD_NAME)) != len(name):
        return "invalid header name"
    if len(value.translate(None, _BAD_VALUE)) != len(value):
        return "CR, LF or NUL in a header value"
    return None
