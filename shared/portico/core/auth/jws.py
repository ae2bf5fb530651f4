"""Strict parsing of a compact JWS (RFC 7515) before any key is chosen: structure, header and payload JSON.

Refused here, whatever the issuer: over 8 KB, JWE (five parts), nested JWTs (`cty: JWT`), `alg: none` in any
spelling, unknown `crit` parameters, key-carrying headers (`jku`, `jwk`, `x5u`, `x5c`; RFC 8725 §3.10 — keys only
come from config), duplicate JSON members (RFC 7515 §5.2 lets a parser refuse them; we do).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from portico.core.auth.errors import InvalidToken
from portico.core.auth.keys import b64url_decode
from portico.core.untrusted import load_json

_BOM = b"\xef\xbb\xbf"

MAX_TOKEN_BYTES = 8192
KEY_CARRYING_HEADERS = ("jku", "jwk", "x5u", "x5c")
# RFC 7515 §4.1.11: a recipient must refuse crit names it does not process; we process none.
UNDERSTOOD_CRITICAL: frozenset[str] = frozenset()


@dataclass(frozen=True, slots=True)
class ParsedToken:
    """A structurally valid, not yet verified JWS: nothing in it may be trusted except to pick keys."""

    header: dict[str, Any]
    claims: dict[str, Any]
    signing_input: bytes
    signature: bytes

    @property
    def alg(self) -> str:
        return str(self.header["alg"])

    @property
    def kid(self) -> str | None:
        kid = self.header.get("kid")
        return kid if isinstance(kid, str) else None

    @property
    def unverified_issuer(self) -> str | None:
        """Read only to choose which issuer's keys to try; the token is then verified in full against that issuer."""
        iss = self.claims.get("iss")
        return iss if isinstance(iss, str) else None


def _unique_object(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    out = dict(pairs)
    if len(out) != len(pairs):
        raise ValueError("duplicate member")
    return out


def _json_object(segment: str, what: str) -> dict[str, Any]:
    try:
        raw = b64url_decode(segment)
    except ValueError:
        raise InvalidToken(f"the {what} is not canonical base64url") from None
    if raw.startswith(_BOM):  # RFC 8259 §8.1: JSON text exchanged between systems must not begin with a BOM
        raise InvalidToken(f"the {what} starts with a byte-order mark")
    try:
        value = load_json(raw, what=f"the {what}", object_pairs_hook=_unique_object)
    except ValueError:  # not base64url, or UntrustedInputError: malformed, too deep, duplicate members
        raise InvalidToken(f"the {what} is not base64url-encoded JSON without duplicate members") from None
    if not isinstance(value, dict):
        raise InvalidToken(f"the {what} is not a JSON object")
    return value


def _check_header(header: dict[str, Any]) -> None:
    alg = header.get("alg")
    if not isinstance(alg, str) or not alg:
        raise InvalidToken("the header has no alg")
    if alg.strip().lower() == "none":
        raise InvalidToken("unsigned tokens (alg none) are never accepted")
    carried = [name for name in KEY_CARRYING_HEADERS if name in header]
    if carried:
        raise InvalidToken(f"header parameter {carried[0]} is refused: keys come only from the issuer's config")
    if "enc" in header or "zip" in header:
        raise InvalidToken("encrypted tokens (JWE) are not accepted")
    if "crit" in header:  # RFC 7515 §4.1.11: when present, a non-empty array; `"crit": null` is refused too
        crit = header["crit"]
        if not isinstance(crit, list) or not crit or not all(isinstance(c, str) for c in crit):
            raise InvalidToken("crit must be a non-empty array of names")
        unknown = [c for c in crit if c not in UNDERSTOOD_CRITICAL]
        if unknown:
            raise InvalidToken(f"unknown critical header parameter {unknown[0]}")
    if "b64" in header:  # RFC 7797 unencoded payloads change what is signed; we do not process them
        raise InvalidToken("header parameter b64 is not supported")
    cty = header.get("cty")
    if cty is not None and (not isinstance(cty, str) or cty.lower().removeprefix("application/") == "jwt"):
        raise InvalidToken("nested tokens (cty JWT) are not accepted")
    for name in ("kid", "typ"):
        if name in header and not isinstance(header[name], str):
            raise InvalidToken(f"header parameter {name} must be a string")


def parse_token(token: str) -> ParsedToken:
    """Split and decode a compact JWS; raise InvalidToken with a short reason when it is not one we accept."""
    if len(token) > MAX_TOKEN_BYTES:
        raise InvalidToken(f"the token is larger than {MAX_TOKEN_BYTES} bytes")
    if not token.isascii():
        raise InvalidToken("the token is not in compact serialisation")
    parts = token.split(".")
    if len(parts) == 5:
        raise InvalidToken("encrypted tokens (JWE) are not accepted")
    if len(parts) != 3 or not parts[0] or not parts[1]:
        raise InvalidToken("the token is not a compact JWS (header.payload.signature)")
    header = _json_object(parts[0], "header")
    _check_header(header)
    if not parts[2]:
        raise InvalidToken("the token has no signature")
    try:
        signature = b64url_decode(parts[2])
    except ValueError:
        raise InvalidToken("the signature is not base64url") from None
    claims = _json_object(parts[1], "payload")
    signing_input = token[: len(parts[0]) + 1 + len(parts[1])].encode("ascii")
    return ParsedToken(header, claims, signing_input, signature)
