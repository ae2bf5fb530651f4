"""The per-route response cache: in memory per instance, GET and HEAD only, honouring upstream Cache-Control."""

from __future__ import annotations

from portico.core.chain import Context, Handler
from portico.core.compose.cachecontrol import parse_age, storable_ttl
from portico.core.compose.cachekey import CacheKey, cache_key
from portico.core.compose.lru import TtlLru
from portico.core.config.compose import CachePolicy
from portico.core.config.documents import Route
from portico.core.http import Response

from . import attrs
from .identity_view import consumer_key, identity_of, is_authenticated

CACHEABLE_METHODS = frozenset({"GET", "HEAD"})


class _RouteCache:
    def __init__(self, policy: CachePolicy) -> None:
        self.policy = policy
        self.store: TtlLru[CacheKey, tuple[Response, float]] = TtlLru(policy.max_entries)


class CacheFilter:
    """One bounded LRU+TTL store per cached route, created with the pipeline (a config change starts them empty).

    A hit answers with `Age` and `X-Cache: HIT` without calling anything further in; a miss goes on and stores the
    answer when it may. A request that is (or may be) authenticated is neither served from nor stored in the cache
    unless the route says `shared`; otherwise the key includes the consumer. Client Cache-Control is ignored, so
    clients cannot force origin load through the cache.
    """

    def __init__(self, routes: dict[str, Route]) -> None:
        self._caches = {name: _RouteCache(r.spec.cache) for name, r in routes.items() if r.spec.cache is not None}

    async def __call__(self, ctx: Context, next: Handler) -> Response:
        cache = self._caches.get(ctx.attrs.get(attrs.ROUTE_NAME) or "")
        request = ctx.request
        if cache is None or request.method not in CACHEABLE_METHODS:
            return await next(ctx)
        policy = cache.policy
        if not policy.shared and is_authenticated(ctx, ctx.attrs.get(attrs.ROUTE)):
            return _marked(ctx, await next(ctx), "MISS")
        headers: dict[str, list[str]] = {name: request.headers.get_all(name) for name in policy.vary_headers}
        key = cache_key(
            request.method, request.route_path, request.query, headers, policy, consumer_key(identity_of(ctx))
        )
        found = cache.store.get(key, ctx.now)
        if found is not None:
            stored, initial_age = found.value
            hit = _copy(stored)
            hit.headers.set("age", str(int(initial_age + max(ctx.now - found.stored_at, 0.0))))  # clocks may step back
            return _marked(ctx, hit, "HIT")
        response = await next(ctx)
        age = parse_age(response.headers.get("age"))
        ttl = storable_ttl(
            response.status,
            response.headers.get_all("cache-control"),
            response.headers.get_all("vary"),
            bool(response.cookies) or "set-cookie" in response.headers,
            policy.ttl,
            policy.vary_headers,
            age,
        )
        if ttl > 0:
            # a copy: filters further out add per-request fields (request id, rate-limit state) to this object
            cache.store.put(key, (_copy(response), age), ctx.now, ttl)
        return _marked(ctx, response, "MISS")


def _copy(response: Response) -> Response:
    return Response(response.status, response.headers.copy(), response.body, list(response.cookies))


def _marked(ctx: Context, response: Response, state: str) -> Response:
    ctx.attrs[attrs.CACHE] = state.lower()  # the access log's "hit"/"miss"; X-Cache keeps its usual HIT/MISS
    response.headers.set("x-cache", state)
    return response
