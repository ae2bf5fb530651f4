"""Cache keys and freshness: what splits the cache, and what upstream Cache-Control allows us to store."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from portico.core.compose.cachecontrol import parse_age, parse_cache_control, storable_ttl
from portico.core.compose.cachekey import cache_key
from portico.core.config.compose import CachePolicy


def ttl(cache_control: list[str], *, status: int = 200, vary: list[str] | None = None, cookie: bool = False) -> float:
    return storable_ttl(status, cache_control, vary or [], cookie, 60.0, ["accept-language"])


def test_no_store_private_and_no_cache_are_never_stored() -> None:
    assert ttl(["no-store"]) == 0
    assert ttl(["private, max-age=600"]) == 0
    assert ttl(["no-cache"]) == 0
    assert ttl(["public", "no-store"]) == 0  # directives from every field count


def test_upstream_max_age_only_shortens_the_route_ttl() -> None:
    assert ttl([]) == 60
    assert ttl(["max-age=10"]) == 10
    assert ttl(["max-age=3600"]) == 60
    assert ttl(["max-age=30, s-maxage=5"]) == 5  # s-maxage is the shared-cache value
    assert ttl(["max-age=abc"]) == 0  # malformed counts as already stale
    assert storable_ttl(200, ["max-age=10"], [], False, 60.0, [], age=4) == 6


def test_personal_or_unkeyed_responses_are_not_stored() -> None:
    assert ttl([], cookie=True) == 0
    assert ttl([], vary=["Accept-Language"]) == 60  # keyed by the route's varyHeaders
    assert ttl([], vary=["Cookie"]) == 0
    assert ttl([], vary=["*"]) == 0
    assert ttl([], status=500) == 0 and ttl([], status=404) == 60


def test_parse_helpers() -> None:
    d = parse_cache_control(['public, max-age="7"', "No-Store"])
    assert d.max_age == 7 and d.no_store
    assert parse_age("12") == 12 and parse_age("-1") == 0 and parse_age(None) == 0


pairs = st.lists(st.tuples(st.sampled_from("abcd"), st.text("xyz", max_size=2)), max_size=6, unique_by=lambda p: p[0])


@given(pairs, st.randoms())
def test_query_order_never_splits_the_cache(query: list[tuple[str, str]], rnd: object) -> None:
    policy = CachePolicy(ttl="60s")
    shuffled = list(query)
    rnd.shuffle(shuffled)  # type: ignore[attr-defined]
    assert cache_key("GET", "/p", query, {}, policy, None) == cache_key("GET", "/p", shuffled, {}, policy, None)


def test_selected_parameters_headers_and_consumer() -> None:
    only_q = CachePolicy(ttl="60s", varyQuery=["q"], varyHeaders=["Accept-Language"])
    assert cache_key("GET", "/s", [("q", "a"), ("utm", "1")], {}, only_q, None) == cache_key(
        "GET", "/s", [("q", "a"), ("utm", "2")], {}, only_q, None
    )
    everything = CachePolicy(ttl="60s")
    assert cache_key("GET", "/s", [("q", "a")], {}, everything, None) != cache_key(
        "GET", "/s", [("q", "b")], {}, everything, None
    )
    de = cache_key("GET", "/s", [], {"accept-language": ["de"]}, only_q, None)
    assert de != cache_key("GET", "/s", [], {"accept-language": ["en"]}, only_q, None)
    assert cache_key("GET", "/s", [], {}, everything, "consumer:a") != cache_key(
        "GET", "/s", [], {}, everything, "consumer:b"
    )
    shared = CachePolicy(ttl="60s", shared=True)
    assert cache_key("GET", "/s", [], {}, shared, "consumer:a") == cache_key("GET", "/s", [], {}, shared, "consumer:b")
    assert cache_key("GET", "/s", [], {}, everything, None) != cache_key("HEAD", "/s", [], {}, everything, None)
