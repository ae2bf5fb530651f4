"""Whether a response may be stored by the edge's (shared) cache and for how long, from its Cache-Control and Vary."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

# Heuristically cacheable statuses (RFC 9110 §15.1) that an API answers; others are never stored.
CACHEABLE_STATUSES = frozenset({200, 203, 204, 300, 301, 404, 405, 410, 414, 501})


@dataclass(frozen=True, slots=True)
class Directives:
    no_store: bool = False
    no_cache: bool = False
    private: bool = False
    max_age: int | None = None
    s_maxage: int | None = None


def parse_cache_control(values: Iterable[str]) -> Directives:
    """Parse every Cache-Control field; unknown directives are ignored, a malformed age counts as 0 (RFC 9111)."""
    flags: dict[str, bool] = {}
    ages: dict[str, int | None] = {"max-age": None, "s-maxage": None}
    for value in values:
        for item in value.split(","):
            name, _, arg = item.strip().partition("=")
            name = name.strip().lower()
            if not name:
                continue
            if name in ages:
                text = arg.strip().strip('"')
                ages[name] = int(text) if text.isdigit() else 0
            else:
                flags[name] = True
    return Directives(
        no_store=flags.get("no-store", False),
        no_cache=flags.get("no-cache", False),
        private=flags.get("private", False),
        max_age=ages["max-age"],
        s_maxage=ages["s-maxage"],
    )


def storable_ttl(
    status: int,
    cache_control: Sequence[str],
    vary: Sequence[str],
    has_set_cookie: bool,
    route_ttl: float,
    varied_headers: Iterable[str],
    age: float = 0.0,
) -> float:
    """Seconds to keep the response, or 0 to not store it.

    The route's ttl is the ceiling; upstream `s-maxage` (for shared caches) or else `max-age` can only shorten it.
    `no-store`, `private` and `no-cache` (we do not revalidate) mean not stored, as does a `Set-Cookie` (one client's
    session must never reach another) or a `Vary` on a header that the cache key does not include.
    `age` is the upstream's own `Age`: time the response already spent in caches before us.
    """
    if status not in CACHEABLE_STATUSES or has_set_cookie:
        return 0.0
    directives = parse_cache_control(cache_control)
    if directives.no_store or directives.private or directives.no_cache:
        return 0.0
    keyed = {h.lower() for h in varied_headers}
    for value in vary:
        for name in value.split(","):
            name = name.strip().lower()
            if name and (name == "*" or name not in keyed):
                return 0.0
    ttl = route_ttl
    upstream = directives.s_maxage if directives.s_maxage is not None else directives.max_age
    if upstream is not None:
        ttl = min(ttl, float(upstream) - age)
    return max(ttl, 0.0)


def parse_age(value: str | None) -> float:
    """The `Age` field as seconds; absent or malformed counts as 0 (RFC 9111 §5.1)."""
    text = (value or "").strip()
    return float(text) if text.isdigit() else 0.0
