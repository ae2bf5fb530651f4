"""Rate limit and quota: charge the request to its policy's counters, answer 429 when spent, say what is left.

Runs after authentication and authorisation, so only verified identities are counted per consumer (and a request
refused earlier never spends quota, which would let anyone probe or drain another consumer's counters).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from typing import Any

from portico.core.chain import Context, Handler
from portico.core.config.configset import ConfigSet
from portico.core.config.identity import ConsumerSpec
from portico.core.headers import Headers
from portico.core.http import Response
from portico.core.ports import StoreUnavailable
from portico.core.problem import problem
from portico.core.quota.headers import QUOTA_EXCEEDED, policy_field, ratelimit_field
from portico.core.quota.keys import identity_field, partition_value
from portico.core.quota.limiter import Decision, QuotaLimiter, QuotaStats
from portico.core.quota.plan import QuotaPolicy, effective_policy, policy_from_spec

from . import attrs

log = logging.getLogger("portico.quota")

QuotaFactory = Callable[[], QuotaLimiter]


def no_quota_store() -> QuotaLimiter:
    """The default when nothing wired a store: every limited route then takes its policy's failure mode."""
    raise StoreUnavailable("no quota store is configured")


class RateLimitFilter:
    """Built once per config version; the limiter (store, leases, stats) lives for the process."""

    def __init__(self, config: ConfigSet, limiter: QuotaFactory) -> None:
        self._policies = {name: policy_from_spec(name, doc.spec) for name, doc in config.rate_limit_policies.items()}
        self._consumers: Mapping[str, ConsumerSpec] = {name: doc.spec for name, doc in config.consumers.items()}
        self._limiter = limiter

    async def __call__(self, ctx: Context, next: Handler) -> Response:
        identity = ctx.attrs.get(attrs.IDENTITY)
        consumer_name = identity_field(identity, "consumer")
        consumer = self._consumers.get(consumer_name) if isinstance(consumer_name, str) else None
        policy = effective_policy(_route_policy(ctx.attrs.get(attrs.ROUTE)), consumer, self._policies)
        if policy is None:
            return await next(ctx)
        partition = partition_value(policy.key, ctx.request, identity)
        try:
            limiter = self._limiter()
        except StoreUnavailable as exc:
            return await self._store_failed(ctx, next, policy, _UNWIRED, exc)
        try:
            # not wait_for: a write already on a thread commits anyway; check_within settles it (docs/quota.md)
            decision = await limiter.check_within(policy, partition, ctx.now, policy.timeout)
        except (StoreUnavailable, TimeoutError) as exc:
            return await self._store_failed(ctx, next, policy, limiter, exc)
        if not decision.admitted:
            limiter.stats.limited += 1
            ctx.attrs[attrs.RATE_LIMIT] = "limited"
            return _too_many(ctx, policy, decision)
        limiter.stats.admitted += 1
        ctx.attrs[attrs.RATE_LIMIT] = "allowed"
        response = await next(ctx)
        response.headers.set("ratelimit-policy", policy_field(policy.limits))
        response.headers.set("ratelimit", ratelimit_field(decision.statuses))
        return response

    async def _store_failed(
        self, ctx: Context, next: Handler, policy: QuotaPolicy, limiter: QuotaLimiter | QuotaStats, exc: Exception
    ) -> Response:
        stats = limiter.stats if isinstance(limiter, QuotaLimiter) else limiter
        stats.store_failures += 1
        reason = str(exc) or f"no answer within {policy.timeout * 1000:g}ms (the policy's timeout)"
        unsaid = stats.warnings.due(policy.name, ctx.now)
        if unsaid is not None:  # rate-limited: one line per policy per interval, counting the ones in between
            log.warning(
                "rate limit failed %s: policy %s: quota store: %s; %d request(s) since the last warning",
                policy.failure_mode,
                policy.name,
                reason,
                unsaid,
                extra={"policy": policy.name, "reason": reason, "requestId": ctx.request_id, "count": unsaid},
            )
        if policy.failure_mode == "open":
            stats.failed_open += 1
            ctx.attrs[attrs.RATE_LIMIT] = "failed-open"
            return await next(ctx)  # no RateLimit headers: we do not know what is left, so we promise nothing
        stats.failed_closed += 1
        ctx.attrs[attrs.RATE_LIMIT] = "failed-closed"
        return problem(
            503,
            "rate limiting is temporarily unavailable and this API fails closed; try again shortly",
            request_id=ctx.request_id or None,
            headers=Headers([("retry-after", "1")]),
        )


_UNWIRED = QuotaStats()  # failures counted when no limiter could be built at all


def _too_many(ctx: Context, policy: QuotaPolicy, decision: Decision) -> Response:
    retry_after = max(1, decision.retry_after or 1)
    headers = Headers(
        [
            ("ratelimit-policy", policy_field(policy.limits)),
            ("ratelimit", ratelimit_field(decision.statuses)),
            ("retry-after", str(retry_after)),
        ]
    )
    violated = ", ".join(decision.violated)
    return problem(
        429,
        f"quota {violated} of policy {policy.name} is spent; retry in {retry_after}s",
        request_id=ctx.request_id or None,
        type_=QUOTA_EXCEEDED,
        title="Quota Exceeded",
        headers=headers,
        extra={"violated-policies": list(decision.violated)},
    )


def _route_policy(route: Any) -> str | None:
    spec = getattr(route, "spec", None)
    name = getattr(spec, "rate_limit", None)
    return name if isinstance(name, str) else None
