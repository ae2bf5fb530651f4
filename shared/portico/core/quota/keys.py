"""Who a request is counted as: the partition value of a policy key, from the verified identity or the socket peer.

Only two sources are trusted: the identity that an authentication filter verified (ctx.attrs["identity"]) and the
source address the front door saw (requestContext sourceIp). X-Forwarded-For and unverified token claims are
client-controlled, so they are never read here. A consumer/sub/claim key with no verified identity falls back to
the source IP, so an anonymous caller is still limited and can never spend someone else's quota.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Mapping
from typing import Any

from portico.core.http import Request
from portico.core.quota.window import Window

# Counter keys are DynamoDB partition keys; arbitrary client text (headers) is hashed to keep them short and safe.
_SAFE = re.compile(r"^[A-Za-z0-9_.:@+/=-]{1,200}$")


def identity_field(identity: Any, name: str) -> Any:
    """Read `name` from an identity that may be a mapping or an object (the identity filter owns its shape)."""
    if identity is None:
        return None
    if isinstance(identity, Mapping):
        return identity.get(name)
    return getattr(identity, name, None)


def partition_value(key: str, request: Request, identity: Any) -> str:
    """The value a policy's `key` takes for this request, prefixed by its kind so values of two kinds never meet."""
    if key in ("consumer", "sub"):
        value = identity_field(identity, key)
        if isinstance(value, str) and value:
            return f"{key}:{_safe(value)}"
    elif key.startswith("claim:"):
        claims = identity_field(identity, "claims")
        value = claims.get(key[6:]) if isinstance(claims, Mapping) else None
        if isinstance(value, str | int) and not isinstance(value, bool) and str(value):
            return f"{key}:{_safe(str(value))}"
    elif key.startswith("header:"):
        value = request.headers.get(key[7:])
        if value:
            return f"{key}:{_safe(value)}"
    return f"ip:{_safe(request.source_ip or 'unknown')}"


def counter_key(policy: str, window: Window, partition: str) -> str:
    """One counter item per policy, window length, partition and window index."""
    return f"{policy}|{window.length}|{partition}|{window.index}"


def _safe(value: str) -> str:
    if _SAFE.match(value):
        return value
    return "sha256-" + hashlib.sha256(value.encode("utf-8", "surrogatepass")).hexdigest()[:32]
