"""Which client-sent header fields a proxy drops: hop-by-hop (RFC 9110 7.6.1), internal and underscore spellings.

One definition for the edge and both directions of the sidecar (docs/edge.md "Header hygiene").
"""

from __future__ import annotations

from typing import Literal

from portico.core.headers import Headers
from portico.core.http import Response
from portico.core.problem import problem

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


# --- spellings: CGI, WSGI, PHP, Rails and many others read `X_Portico_Sub` as `X-Portico-Sub`
INTERNAL_PREFIX = "x-portico-"  # fields only Portico sets; a client's are removed in every spelling
UnderscoreAction = Literal["drop", "reject", "allow"]
UNDERSCORE_ACTIONS: tuple[UnderscoreAction, ...] = ("drop", "reject", "allow")


def canonical(name: str) -> str:
    """The name as a framework that treats `_` and `-` alike reads it."""
    return name.lower().replace("_", "-")


def with_underscores(headers: Headers) -> set[str]:
    return {n for n in headers.names() if "_" in n}


def forged_names(headers: Headers, *, keep: frozenset[str] = frozenset(), underscores: UnderscoreAction) -> set[str]:
    """Every field a proxy must drop from what a client sent before forwarding it.

    - hop-by-hop fields and those the sender lists in Connection (never one in `keep`, which the proxy sets);
    - x-portico-* fields, in any spelling;
    - any `_` spelling of a hop-by-hop, listed or `keep` field (only the proxy's own spelling may pass);
    - with `underscores="drop"` (the default, Envoy's DROP_HEADER), every name containing `_`.
    `reject` is the caller's to answer (400) before this runs; `allow` keeps harmless `_` names.
    """
    listed = connection_tokens(headers)
    protected = HOP_BY_HOP | keep | {canonical(t) for t in listed}
    drop = hop_by_hop_names(headers, keep=keep)
    for name in headers.names():
        alias = canonical(name)
        internal = alias.startswith(INTERNAL_PREFIX)
        alias_of_protected = alias != name and alias in protected
        if internal or alias_of_protected or (underscores == "drop" and "_" in name):
            drop.add(name)
    return drop


def underscore_refusal(
    headers: Headers, underscores: UnderscoreAction, request_id: str | None = None
) -> Response | None:
    """The 400 for `underscores="reject"` (Envoy's REJECT_REQUEST) when a name has `_`, else None."""
    odd = with_underscores(headers) if underscores == "reject" else set()
    if not odd:
        return None
    return problem(400, f"header names with underscores are refused: {', '.join(sorted(odd))}", request_id=request_id)


def underscore_action(value: str | None, name: str) -> UnderscoreAction:
    """Parse a PORTICO_HEADERS_WITH_UNDERSCORES value (empty = drop); ValueError names `name` when invalid."""
    raw = (value or "").strip().lower() or "drop"
    for action in UNDERSCORE_ACTIONS:
        if raw == action:
            return action
    raise ValueError(f"{name}={value!r} must be one of drop, reject, allow")
