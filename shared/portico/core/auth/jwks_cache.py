"""One issuer's JWKS in memory: fetched through a port, kept per Cache-Control, refetched at most once a minute.

Time is passed in. The one rule that bounds load on the identity provider: whatever the reason (expiry or an
unknown `kid`), this cache starts at most one fetch per `min_interval` seconds once it holds keys (`empty_retry`
while it holds none). A failed fetch keeps the last good
keys (stale-on-error) and is retried after the same interval.
"""

from __future__ import annotations

import asyncio
import logging
import re
from dataclasses import dataclass
from typing import Protocol

from portico.core.auth.errors import InvalidToken
from portico.core.auth.keys import JwkError, KeySet, parse_jwks
from portico.core.untrusted import load_json

log = logging.getLogger("portico.auth")

_MAX_AGE = re.compile(r'(?:^|,)\s*max-age\s*=\s*"?(\d+)"?\s*(?:,|$)', re.IGNORECASE)
MAX_JWKS_BYTES = 256 * 1024  # MAX_KEYS (100) RSA-4096 keys fit in ~100 KB
_NO_CACHE = re.compile(r"(?:^|,)\s*(no-store|no-cache)\s*(?:,|=|$)", re.IGNORECASE)


@dataclass(frozen=True, slots=True)
class JwksResponse:
    body: bytes
    cache_control: str | None = None


class JwksFetchError(Exception):
    """The JWKS could not be fetched (timeout, refused, non-200, redirect, too large); the message says which."""


class JwksFetcher(Protocol):
    async def fetch(self, url: str) -> JwksResponse: ...


@dataclass(frozen=True, slots=True)
class CachePolicy:
    """`min_interval` bounds every fetch; a max-age below it is raised to it, above `max_ttl` lowered to it."""

    min_interval: float = 60.0
    default_ttl: float = 300.0
    max_ttl: float = 86400.0
    # while no key was ever fetched every request fails anyway, so a cold-start failure retries sooner
    empty_retry: float = 10.0


def ttl_from(cache_control: str | None, policy: CachePolicy) -> float:
    if cache_control is None:
        return policy.default_ttl
    if _NO_CACHE.search(cache_control):
        return policy.min_interval
    found = _MAX_AGE.search(cache_control)
    seconds = float(found.group(1)) if found else policy.default_ttl
    return min(max(seconds, policy.min_interval), policy.max_ttl)


class JwksCache:
    def __init__(
        self, url: str, fetcher: JwksFetcher, algorithms: frozenset[str], policy: CachePolicy | None = None
    ) -> None:
        self.url = url
        self._fetcher = fetcher
        self._algorithms = algorithms
        self._policy = policy or CachePolicy()
        self._keys: KeySet | None = None
        self._expires_at = float("-inf")
        self._last_attempt = float("-inf")
        self._inflight: asyncio.Future[bool] | None = None
        self.fetches = 0

    async def keys(self, now: float) -> KeySet:
        """The current keys, fetching first when they have expired (and the interval allows)."""
        if self._keys is None or now >= self._expires_at:
            await self._fetch_if_allowed(now)
        if self._keys is None:
            raise InvalidToken("the issuer's signing keys are unavailable")
        return self._keys

    async def refresh(self, now: float) -> bool:
        """After an unknown kid: refetch if the interval allows. True when a new key set arrived."""
        return await self._fetch_if_allowed(now)

    async def _fetch_if_allowed(self, now: float) -> bool:
        if self._inflight is not None:  # one fetch at a time; others wait for its outcome
            return await asyncio.shield(self._inflight)
        interval = self._policy.min_interval if self._keys is not None else self._policy.empty_retry
        if now - self._last_attempt < interval:
            return False
        self._last_attempt = now
        inflight: asyncio.Future[bool] = asyncio.get_running_loop().create_future()
        self._inflight = inflight
        ok = False
        try:
            ok = await self._fetch(now)
        finally:
            inflight.set_result(ok)
            self._inflight = None
        return ok

    async def _fetch(self, now: float) -> bool:
        self.fetches += 1
        try:
            response = await self._fetcher.fetch(self.url)
            document = load_json(response.body, what="the JWKS", max_bytes=MAX_JWKS_BYTES)
            keys = parse_jwks(document, sorted(self._algorithms))
        except (JwksFetchError, JwkError, ValueError) as exc:  # ValueError: UntrustedInputError (size, depth, JSON)
            kept = "serving the stale keys" if self._keys else "no keys yet"
            log.error("JWKS %s: fetch failed (%s); %s", self.url, exc, kept)
            return False
        for reason in keys.skipped:
            log.warning("JWKS %s: skipped %s", self.url, reason)
        if not keys.keys:
            log.error("JWKS %s: no usable key in the response; keeping the previous set", self.url)
            return False
        self._keys = keys
        self._expires_at = now + ttl_from(response.cache_control, self._policy)
        return True


class StaticKeys:
    """Inline `jwks` or an HMAC secret: the same interface, nothing to fetch."""

    def __init__(self, keys: KeySet) -> None:
        self._keys = keys

    async def keys(self, now: float) -> KeySet:
        return self._keys

    async def refresh(self, now: float) -> bool:
        return False
