"""Authentication for one config version: issuers with their key sources, API-key index, subject mapping.

Shared by the edge filters and the Lambda authorizer. Key sources outlive config versions (`KeySources`), so a
config reload never throws away fetched JWKS or resets the refetch rate limit.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Protocol

from portico.core.auth.apikeys import ApiKeyIndex, subjects_index
from portico.core.auth.claims import TokenPolicy
from portico.core.auth.errors import InvalidToken, UnknownKey
from portico.core.auth.identity import Identity, scopes_of
from portico.core.auth.jwks_cache import CachePolicy, JwksCache, JwksFetcher, JwksResponse, StaticKeys
from portico.core.auth.jws import parse_token
from portico.core.auth.keys import KeySet, hmac_key, parse_jwks
from portico.core.auth.verify import verify
from portico.core.config.configset import ConfigSet
from portico.core.config.identity import IssuerSpec


class KeySource(Protocol):
    async def keys(self, now: float) -> KeySet: ...

    async def refresh(self, now: float) -> bool: ...


class KeySources:
    """One JwksCache per (jwksUri, algorithms), kept for the life of the process; the fetcher is made on first use."""

    def __init__(self, fetcher: Callable[[], JwksFetcher], policy: CachePolicy | None = None) -> None:
        self._fetcher = fetcher
        self._policy = policy
        self._caches: dict[tuple[str, frozenset[str]], JwksCache] = {}

    def for_issuer(self, spec: IssuerSpec) -> KeySource:
        algorithms = frozenset(spec.algorithms)
        if spec.hmac_secret is not None:
            return StaticKeys(hmac_key(spec.hmac_secret, spec.hmac_kid))
        if spec.jwks is not None:
            return StaticKeys(parse_jwks(spec.jwks, sorted(algorithms)))
        assert spec.jwks_uri is not None  # IssuerSpec guarantees exactly one key source
        key = (spec.jwks_uri, algorithms)
        if key not in self._caches:
            self._caches[key] = JwksCache(spec.jwks_uri, _Lazy(self._fetcher), algorithms, self._policy)
        return self._caches[key]


class _Lazy:
    """Defers building the HTTP fetcher until a JWKS is first needed (no sockets at import or config load)."""

    def __init__(self, make: Callable[[], JwksFetcher]) -> None:
        self._make = make
        self._made: JwksFetcher | None = None

    async def fetch(self, url: str) -> JwksResponse:
        if self._made is None:
            self._made = self._make()
        return await self._made.fetch(url)


@dataclass(frozen=True, slots=True)
class IssuerEntry:
    name: str
    policy: TokenPolicy
    source: KeySource
    forward_claims: tuple[str, ...]


def policy_of(spec: IssuerSpec) -> TokenPolicy:
    return TokenPolicy(
        issuer=spec.issuer,
        audiences=frozenset(spec.audiences),
        algorithms=frozenset(spec.algorithms),
        leeway=spec.leeway,
        typ=spec.typ,
    )


class Authenticator:
    def __init__(self, config: ConfigSet, sources: KeySources) -> None:
        self._issuers = {
            name: IssuerEntry(name, policy_of(doc.spec), sources.for_issuer(doc.spec), tuple(doc.spec.forward_claims))
            for name, doc in config.issuers.items()
        }
        self._subjects = subjects_index(config.consumers)
        self.api_keys = ApiKeyIndex.from_consumers(config.consumers)

    async def token(self, token: str, issuers: Sequence[str], now: float) -> Identity:
        """Verify a bearer JWT against the first of `issuers` whose `issuer` equals the token's (unverified) iss."""
        parsed = parse_token(token)
        iss = parsed.unverified_issuer
        entry = next(
            (self._issuers[n] for n in issuers if n in self._issuers and self._issuers[n].policy.issuer == iss), None
        )
        if entry is None:
            raise InvalidToken("the token's issuer is not accepted here")
        try:
            verified = verify(parsed, await entry.source.keys(now), now, entry.policy)
        except UnknownKey:
            # a new kid may mean the issuer rotated keys: refetch (rate-limited by the cache), then decide for good
            if not await entry.source.refresh(now):
                raise
            verified = verify(parsed, await entry.source.keys(now), now, entry.policy)
        claims = verified.claims
        sub = claims.get("sub")
        return Identity(
            method="jwt",
            sub=sub,
            consumer=self._subjects.get(sub) if sub is not None else None,
            scopes=scopes_of(claims),
            claims=claims,
            issuer=entry.name,
            forward_claims=entry.forward_claims,
        )

    def api_key(self, key: str) -> Identity:
        owner = self.api_keys.lookup(key)
        return Identity(method="apiKey", sub=None, consumer=owner.consumer, scopes=owner.scopes, key_id=owner.key_id)

    def consumer_of(self, subject: str | None) -> str | None:
        """The Consumer whose `subjects` lists this subject (a JWT sub, an introspected sub, a certificate name)."""
        return self._subjects.get(subject) if subject is not None else None

    def issuer_names(self) -> Mapping[str, IssuerEntry]:
        return self._issuers
