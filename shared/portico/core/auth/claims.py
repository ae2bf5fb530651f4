"""Registered-claim checks (RFC 7519 §4.1, RFC 8725 §3.8-3.9): types first, then times, issuer and audience.

A claim of the wrong type makes the whole token invalid (a string `exp` is not "no expiry"). `exp` is required:
a bearer token that never expires is refused. `iss` and `aud` are compared exactly, byte for byte.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from portico.core.auth.errors import InvalidToken

_NUMERIC = ("exp", "nbf", "iat")
_STRINGS = ("iss", "sub", "jti", "scope", "azp", "client_id")


@dataclass(frozen=True, slots=True)
class TokenPolicy:
    """What one issuer's tokens must satisfy; built once from its Issuer document."""

    issuer: str
    audiences: frozenset[str]
    algorithms: frozenset[str]
    leeway: float = 60.0
    typ: str | None = None


# A NumericDate is seconds since 1970; past the year 9999 it is no date at all (and an int of 400 digits would
# overflow every float comparison after it), so such a claim makes the token invalid: 401, never 500.
MAX_NUMERIC_DATE = 253_402_300_799


def _is_number(value: Any) -> bool:
    # the range first: math.isfinite of a 400-digit int raises OverflowError; NaN and inf fail the range too
    return isinstance(value, int | float) and not isinstance(value, bool) and 0 <= value <= MAX_NUMERIC_DATE


def check_types(claims: Mapping[str, Any]) -> None:
    for name in _NUMERIC:
        if name in claims and not _is_number(claims[name]):
            raise InvalidToken(f"claim {name} must be a NumericDate (a number of seconds from 1970 to 9999)")
    for name in _STRINGS:
        if name in claims and not isinstance(claims[name], str):
            raise InvalidToken(f"claim {name} must be a string")
    aud = claims.get("aud")
    if aud is not None and not (
        isinstance(aud, str) or (isinstance(aud, list) and aud and all(isinstance(a, str) for a in aud))
    ):
        raise InvalidToken("claim aud must be a string or a non-empty array of strings")
    scp = claims.get("scp")
    scp_ok = isinstance(scp, str) or (isinstance(scp, list) and all(isinstance(s, str) for s in scp))
    if scp is not None and not scp_ok:
        raise InvalidToken("claim scp must be a string or an array of strings")


def check_claims(claims: Mapping[str, Any], now: float, policy: TokenPolicy) -> None:
    """Raise InvalidToken unless the verified claims are well typed, current, ours by issuer and for our audience."""
    check_types(claims)
    leeway = policy.leeway
    exp = claims.get("exp")
    if exp is None:
        raise InvalidToken("the token has no exp")
    if now >= exp + leeway:
        raise InvalidToken("the token has expired")
    nbf = claims.get("nbf")
    if nbf is not None and now + leeway < nbf:
        raise InvalidToken("the token is not valid yet (nbf)")
    iat = claims.get("iat")
    if iat is not None and now + leeway < iat:
        raise InvalidToken("the token was issued in the future (iat)")
    if claims.get("iss") != policy.issuer:
        raise InvalidToken("the token's issuer is not accepted here")
    aud = claims.get("aud")
    if aud is None:
        raise InvalidToken("the token has no aud")
    audiences = [aud] if isinstance(aud, str) else aud
    if not any(a in policy.audiences for a in audiences):
        raise InvalidToken("the token is not for this audience")


def media_type(value: str) -> str:
    """RFC 7515 §4.1.9: typ compares case-insensitively, and `application/` may be left out."""
    lowered = value.lower()
    return lowered.removeprefix("application/")
