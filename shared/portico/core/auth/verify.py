"""`verify(token, keys, now, policy)`: one JWT checked in full against one issuer. Pure: no I/O, no clock."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from portico.core.auth.claims import TokenPolicy, check_claims, media_type
from portico.core.auth.errors import InvalidToken, UnknownKey
from portico.core.auth.jws import ParsedToken, parse_token
from portico.core.auth.keys import KeySet
from portico.core.auth.signatures import signature_valid


@dataclass(frozen=True, slots=True)
class VerifiedToken:
    header: dict[str, Any]
    claims: dict[str, Any]


def verify(token: str | ParsedToken, keys: KeySet, now: float, policy: TokenPolicy) -> VerifiedToken:
    """Return the verified header and claims, or raise InvalidToken (UnknownKey when no key fits kid and alg).

    Order: structure, then the issuer's algorithm list, typ, key choice and signature, and only then the claims,
    so nothing from an unsigned payload is acted on.
    """
    parsed = parse_token(token) if isinstance(token, str) else token
    alg = parsed.alg
    if alg not in policy.algorithms:
        raise InvalidToken(f"alg {alg} is not accepted for this issuer")
    if policy.typ is not None:
        typ = parsed.header.get("typ")
        if typ is None or media_type(typ) != media_type(policy.typ):
            raise InvalidToken(f"the token's typ must be {policy.typ}")
    candidates = keys.candidates(parsed.kid, alg)
    if not candidates:
        raise UnknownKey("no key of this issuer matches the token's kid and alg")
    if not any(signature_valid(alg, key, parsed.signing_input, parsed.signature) for key in candidates):
        raise InvalidToken("the signature does not verify")
    check_claims(parsed.claims, now, policy)
    return VerifiedToken(parsed.header, parsed.claims)
