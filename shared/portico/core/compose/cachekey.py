"""The response cache key: method, normalised path, the selected query parameters and headers, and the consumer."""

from __future__ import annotations

from collections.abc import Iterable

from portico.core.config.compose import CachePolicy

CacheKey = tuple[str, str, tuple[tuple[str, str], ...], tuple[tuple[str, tuple[str, ...]], ...], str | None]


def cache_key(
    method: str,
    path: str,
    query: Iterable[tuple[str, str]],
    header_values: dict[str, list[str]],
    policy: CachePolicy,
    consumer: str | None,
) -> CacheKey:
    """Query order never splits the cache; unselected parameters and headers never split it either.

    `varyQuery` unset selects every parameter (two different searches are never one entry); a list selects those
    names only. `consumer` is ignored for a `shared` route and kept otherwise, so one consumer's answer is never
    served to another.
    """
    wanted = None if policy.vary_query is None else set(policy.vary_query)
    params = tuple(sorted((k, v) for k, v in query if wanted is None or k in wanted))
    headers = tuple((name, tuple(header_values.get(name, ()))) for name in sorted(policy.vary_headers))
    return (method.upper(), path, params, headers, None if policy.shared else consumer)
