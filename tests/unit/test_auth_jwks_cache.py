"""The JWKS cache on a paused clock: Cache-Control, stale-on-error, and at most one fetch a minute."""

from __future__ import annotations

import asyncio
import itertools
import json
import random

import pytest

from portico.core.auth.errors import InvalidToken
from portico.core.auth.jwks_cache import CachePolicy, JwksCache, JwksFetchError, JwksResponse, ttl_from
from tests.auth_support import RFC7515_A2_RSA, RFC7515_A3_EC, public


class FakeFetcher:
    """An in-memory JWKS endpoint: a list of keys, a Cache-Control value, and a switch to fail."""

    def __init__(self, keys: list[dict[str, str]], cache_control: str | None = "max-age=300") -> None:
        self.keys = keys
        self.cache_control = cache_control
        self.down = False
        self.calls = 0

    async def fetch(self, url: str) -> JwksResponse:
        self.calls += 1
        if self.down:
            raise JwksFetchError("connection refused")
        return JwksResponse(json.dumps({"keys": self.keys}).encode(), self.cache_control)


RS = public(RFC7515_A2_RSA, kid="rs")
EC = public(RFC7515_A3_EC, kid="ec")
ALGS = frozenset({"RS256", "ES256"})


def run(coro):  # type: ignore[no-untyped-def]
    return asyncio.run(coro)


@pytest.mark.parametrize(
    ("header", "ttl"),
    [
        (None, 300.0),
        ("public, max-age=3600", 3600.0),
        ('max-age="120"', 120.0),
        ("max-age=5", 60.0),  # never below the fetch interval
        ("no-store", 60.0),
        ("max-age=99999999", 86400.0),
        ("s-maxage=10", 300.0),
    ],
)
def test_ttl_from_cache_control(header: str | None, ttl: float) -> None:
    assert ttl_from(header, CachePolicy()) == ttl


def test_keys_are_cached_for_max_age_then_refetched() -> None:
    fetcher = FakeFetcher([RS], "max-age=600")
    cache = JwksCache("https://idp/jwks", fetcher, ALGS)

    async def scenario() -> None:
        await cache.keys(0.0)
        await cache.keys(599.0)
        assert fetcher.calls == 1
        await cache.keys(600.0)
        assert fetcher.calls == 2

    run(scenario())


def test_stale_keys_keep_serving_while_the_endpoint_is_down() -> None:
    fetcher = FakeFetcher([RS], "max-age=60")
    cache = JwksCache("https://idp/jwks", fetcher, ALGS)

    async def scenario() -> None:
        first = await cache.keys(0.0)
        fetcher.down = True
        for t in range(60, 600, 7):
            assert await cache.keys(float(t)) is first
        assert fetcher.calls <= 1 + 540 // 60 + 1  # retried once a minute, not per request
        fetcher.down = False
        fetcher.keys = [RS, EC]
        assert len((await cache.keys(700.0)).keys) == 2

    run(scenario())


def test_no_keys_ever_is_an_invalid_token_never_an_exception_escaping() -> None:
    fetcher = FakeFetcher([RS])
    fetcher.down = True
    cache = JwksCache("https://idp/jwks", fetcher, ALGS)
    with pytest.raises(InvalidToken, match="unavailable"):
        run(cache.keys(0.0))


def test_garbage_or_empty_jwks_keeps_the_previous_set() -> None:
    fetcher = FakeFetcher([RS], "max-age=60")
    cache = JwksCache("https://idp/jwks", fetcher, ALGS)

    async def scenario() -> None:
        good = await cache.keys(0.0)
        fetcher.keys = [{"kty": "RSA", "n": "AQAB", "e": "AQAB"}]  # too small: skipped, set empty
        assert await cache.keys(61.0) is good
        fetcher.cache_control = None
        fetcher.keys = "not a list"  # type: ignore[assignment]
        assert await cache.keys(200.0) is good

    run(scenario())


def test_a_thousand_unknown_kids_cause_at_most_one_fetch_a_minute() -> None:
    fetcher = FakeFetcher([RS], "max-age=86400")
    cache = JwksCache("https://idp/jwks", fetcher, ALGS)
    rng = random.Random(7)

    async def scenario() -> list[float]:
        fetched_at: list[float] = []
        now = 1000.0
        await cache.keys(now)
        fetched_at.append(now)
        for _ in range(1000):
            now += rng.uniform(0.0, 1.0)  # ~500 s of traffic with random kids
            kid = f"{rng.getrandbits(64):x}"
            keys = await cache.keys(now)
            if not keys.candidates(kid, "RS256") and await cache.refresh(now):
                fetched_at.append(now)
        return fetched_at

    fetched_at = run(scenario())
    elapsed = fetched_at[-1] - fetched_at[0]
    assert fetcher.calls == len(fetched_at) <= elapsed // 60 + 1
    assert all(b - a >= 60.0 for a, b in itertools.pairwise(fetched_at))
    assert fetcher.calls >= 2  # the refetch does happen, once a minute


def test_concurrent_requests_share_one_fetch() -> None:
    class Slow(FakeFetcher):
        async def fetch(self, url: str) -> JwksResponse:
            await asyncio.sleep(0.01)
            return await super().fetch(url)

    fetcher = Slow([RS])
    cache = JwksCache("https://idp/jwks", fetcher, ALGS)

    async def scenario() -> None:
        sets = await asyncio.gather(*(cache.keys(0.0) for _ in range(20)))
        assert all(s is sets[0] for s in sets)

    run(scenario())
    assert fetcher.calls == 1


def test_keys_narrowed_to_the_issuers_algorithms() -> None:
    fetcher = FakeFetcher([RS, EC])
    cache = JwksCache("https://idp/jwks", fetcher, frozenset({"ES256"}))
    keys = run(cache.keys(0.0))
    assert [k.kid for k in keys.keys] == ["ec"]
