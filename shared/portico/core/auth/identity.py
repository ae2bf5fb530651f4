"""The verified identity one request carries to later filters and, as x-portico-* headers, to the upstream."""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal
from urllib.parse import quote

# RFC 6749 §3.3 scope-token: printable ASCII except space, double quote and backslash
_SCOPE_TOKEN = re.compile(r"[\x21\x23-\x5b\x5d-\x7e]+")
_HEADER_SAFE = "".join(chr(c) for c in range(0x21, 0x7F) if chr(c) != "%")

SUB_HEADER = "x-portico-sub"
CONSUMER_HEADER = "x-portico-consumer"
SCOPES_HEADER = "x-portico-scopes"
CLAIM_HEADER_PREFIX = "x-portico-claim-"


@dataclass(frozen=True, slots=True)
class Identity:
    """Who is calling. `consumer` is the Consumer document's name (API key, or a JWT subject mapped by `subjects`)."""

    method: Literal["jwt", "apiKey", "introspection", "external", "clientCert"]
    sub: str | None
    consumer: str | None
    scopes: frozenset[str]
    claims: Mapping[str, Any] = field(default_factory=dict)
    issuer: str | None = None  # the Issuer document's name
    key_id: str | None = None  # the API key's id (never the key)
    forward_claims: tuple[str, ...] = ()

    def headers(self) -> list[tuple[str, str]]:
        """The x-portico-* fields for the upstream; values made header-safe (percent-encoded when needed)."""
        out: list[tuple[str, str]] = []
        if self.sub is not None:
            out.append((SUB_HEADER, header_value(self.sub)))
        if self.consumer is not None:
            out.append((CONSUMER_HEADER, header_value(self.consumer)))
        if self.scopes:
            out.append((SCOPES_HEADER, " ".join(sorted(self.scopes))))
        for name in self.forward_claims:
            if name in self.claims:
                value = self.claims[name]
                text = value if isinstance(value, str) else json.dumps(value, separators=(",", ":"))
                out.append((CLAIM_HEADER_PREFIX + name.lower(), header_value(text)))
        return out


def header_value(text: str) -> str:
    """Printable ASCII passes as is; anything else (CR, LF, non-ASCII, `%`) is percent-encoded as UTF-8."""
    return quote(text, safe=_HEADER_SAFE + " ")


def scopes_of(claims: Mapping[str, Any]) -> frozenset[str]:
    """Scopes from the space-delimited `scope` claim (RFC 8693/9068) or an `scp` array (or string), merged."""
    found: set[str] = set()
    scope = claims.get("scope")
    if isinstance(scope, str):
        found.update(scope.split())
    scp = claims.get("scp")
    if isinstance(scp, str):
        found.update(scp.split())
    elif isinstance(scp, list):
        found.update(s for s in scp if isinstance(s, str))
    # a token can only carry well-formed scope tokens to the upstream header
    return frozenset(s for s in found if _SCOPE_TOKEN.fullmatch(s))
