"""The LRU+TTL store against a reference model: bounded, never returns an expired entry, evicts least recent."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from portico.core.compose.lru import TtlLru

ops = st.lists(
    st.tuples(st.sampled_from(["get", "put", "tick"]), st.integers(0, 7), st.integers(0, 5)),
    max_size=80,
)


@given(st.integers(1, 5), ops)
def test_matches_a_reference_model(size: int, steps: list[tuple[str, int, int]]) -> None:
    cache: TtlLru[int, int] = TtlLru(size)
    now = 0.0
    model: dict[int, tuple[int, float]] = {}  # key -> (value, expires_at), in recency order
    for op, key, n in steps:
        if op == "tick":
            now += n
        elif op == "put":
            model.pop(key, None)
            if n > 0:
                model[key] = (key * 10 + n, now + n)
                live = {k: v for k, v in model.items() if v[1] > now}
                if len(model) > size:
                    model = live
                while len(model) > size:
                    model.pop(next(iter(model)))
            cache.put(key, key * 10 + n, now, n)
        else:
            got = cache.get(key, now)
            expected = model.get(key)
            if expected is None or expected[1] <= now:
                assert got is None
                model.pop(key, None)
            else:
                assert got is not None and got.value == expected[0]
                model[key] = model.pop(key)
        assert len(cache) <= size


@given(st.integers(1, 4), st.lists(st.integers(0, 20), max_size=50))
def test_never_exceeds_its_bound(size: int, keys: list[int]) -> None:
    cache: TtlLru[int, int] = TtlLru(size)
    for i, key in enumerate(keys):
        cache.put(key, key, float(i), 100.0)
        assert len(cache) <= size


def test_expiry_and_recency() -> None:
    cache: TtlLru[str, int] = TtlLru(2)
    cache.put("a", 1, 0.0, 10.0)
    cache.put("b", 2, 0.0, 10.0)
    assert cache.get("a", 1.0) is not None  # a is now the most recent
    cache.put("c", 3, 1.0, 10.0)  # evicts b, the least recently used
    assert cache.get("b", 1.0) is None and cache.get("a", 1.0) is not None
    assert cache.get("a", 10.0) is None  # expired exactly at ttl
    entry = cache.get("c", 5.0)
    assert entry is not None and entry.stored_at == 1.0
