"""OAuth2 token introspection (RFC 7662), pure parts: reading the answer into an Identity, and the result cache.

The cache is keyed by a SHA-256 of the token, never the token: a heap dump or a debug view of the cache shows no
credential. A result lives until the token's `exp` (and at most `cacheTtl`); an inactive answer is kept briefly
too, so one bad token repeated cannot turn every request into an introspection call.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Any

from portico.core.auth.errors import InvalidToken
from portico.core.auth.identity import Identity, scopes_of
from portico.core.compose.lru import TtlLru

NEGATIVE_TTL = 10.0  # seconds an inactive or refused token's answer is remembered


@dataclass(frozen=True, slots=True)
class IntrospectionPolicy:
    issuer: str | None
    audiences: frozenset[str]
    cache_ttl: float
    leeway: float = 0.0


def token_digest(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8", "surrogateescape")).hexdigest()


def _number(claims: dict[str, Any], name: str) -> float | None:
    value = claims.get(name)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise InvalidToken(f"the introspection answer's {name} is not a number")
    return float(value)


def _audiences(claims: dict[str, Any]) -> set[str]:
    aud = claims.get("aud")
    if isinstance(aud, str):
        return {aud}
    if isinstance(aud, list):
        return {a for a in aud if isinstance(a, str)}
    return set()


def read_answer(answer: Any, policy: IntrospectionPolicy, now: float) -> tuple[Identity, float]:
    """The identity an introspection answer vouches for, and until when; InvalidToken when it vouches for none.

    `active` must be exactly true; `exp` (if present) in the future and `nbf` past; `iss` equal to the policy's
    issuer when one is set; `aud` sharing one of the policy's audiences when any are set.
    """
    if not isinstance(answer, dict):
        raise InvalidToken("the introspection answer is not a JSON object")
    if answer.get("active") is not True:
        raise InvalidToken("the token is not active")
    exp, nbf = _number(answer, "exp"), _number(answer, "nbf")
    if exp is not None and now >= exp + policy.leeway:
        raise InvalidToken("the token has expired")
    if nbf is not None and now + policy.leeway < nbf:
        raise InvalidToken("the token is not valid yet")
    if policy.issuer is not None and answer.get("iss") != policy.issuer:
        raise InvalidToken("the token's issuer is not accepted here")
    if policy.audiences and not _audiences(answer) & policy.audiences:
        raise InvalidToken("the token is not meant for this audience")
    until = now + policy.cache_ttl if exp is None else min(exp, now + policy.cache_ttl)
    sub = answer.get("sub") if isinstance(answer.get("sub"), str) else None
    username = answer.get("username") if isinstance(answer.get("username"), str) else None
    identity = Identity(
        method="introspection",
        sub=sub or username,
        consumer=None,
        scopes=scopes_of(answer),
        claims={k: v for k, v in answer.items() if k in ("client_id", "iss", "aud", "exp", "scope", "sub")},
    )
    return identity, until


@dataclass(frozen=True, slots=True)
class CachedAnswer:
    identity: Identity | None  # None: refused, with `reason`
    reason: str = ""


class IntrospectionCache:
    """Bounded LRU of answers keyed by token digest; expiry is each token's own (`exp`, capped by cacheTtl)."""

    def __init__(self, max_entries: int) -> None:
        self._lru: TtlLru[str, CachedAnswer] = TtlLru(max_entries)

    def get(self, digest: str, now: float) -> CachedAnswer | None:
        entry = self._lru.get(digest, now)
        return entry.value if entry is not None else None

    def put(self, digest: str, answer: CachedAnswer, now: float, until: float) -> None:
        self._lru.put(digest, answer, now, until - now)

    def __len__(self) -> int:
        return len(self._lru)
