"""What composition needs from the verified identity (ctx.attrs["identity"], set by the auth filters), read by shape.

The auth filters own the Identity type; reading only `consumer`, `sub` and `headers()` keeps cache and aggregate
independent of its other fields.
"""

from __future__ import annotations

from typing import Any

from portico.core.chain import Context
from portico.core.config.documents import Route

from . import attrs


def identity_of(ctx: Context) -> Any:
    return ctx.attrs.get(attrs.IDENTITY)


def consumer_key(identity: Any) -> str | None:
    """A stable key for who is calling: the Consumer's name, else the token subject; None when anonymous."""
    if identity is None:
        return None
    consumer = getattr(identity, "consumer", None)
    if consumer:
        return f"consumer:{consumer}"
    sub = getattr(identity, "sub", None)
    issuer = getattr(identity, "issuer", None)
    return f"sub:{issuer or ''}:{sub}" if sub else "identified"


def identity_headers(identity: Any) -> list[tuple[str, str]]:
    """The x-portico-* fields that forward the verified identity upstream (empty when anonymous)."""
    render = getattr(identity, "headers", None)
    return list(render()) if callable(render) else []


def is_authenticated(ctx: Context, route: Route | None) -> bool:
    """A route that demands credentials, a verified identity, or credentials the client sent anyway all count:
    a response to any of them may be personal (RFC 9111 §3.5)."""
    if route is not None and route.spec.auth.none is None:
        return True
    if identity_of(ctx) is not None:
        return True
    return "authorization" in ctx.request.headers
