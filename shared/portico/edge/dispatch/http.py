"""The http upstream: forwarding headers, the upstream path, and retries around one Transport."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from dataclasses import replace

from portico.core.chain import Context
from portico.core.config.upstream import HttpUpstream
from portico.core.hop import hop_by_hop_names
from portico.core.http import Request, Response
from portico.core.ports import Transport, UpstreamConnectError, UpstreamTimeout
from portico.core.retry import Outcome, RetryRule, retry_delay
from portico.core.routing.rewrite import UpstreamTarget


class HttpRoute:
    """One route's http upstream, compiled once per config version."""

    def __init__(
        self,
        spec: HttpUpstream,
        route_prefix: str | None,
        transport: Transport,
        jitter: Callable[[], float],
        *,
        fixed_path: bool = False,
    ) -> None:
        self._spec = spec
        self._target = UpstreamTarget.compile(spec, route_prefix)
        if fixed_path:  # the URL's own path, placeholders filled, whatever the client's path was (aggregate parts)
            self._target = replace(self._target, has_placeholders=True)
        self._transport = transport
        self._jitter = jitter
        self._rule = RetryRule(
            attempts=spec.retries.attempts,
            retry_on=frozenset(spec.retries.retry_on),
            backoff=spec.retries.backoff,
            deadline=spec.timeout,
        )

    def upstream_request(self, ctx: Context, params: dict[str, str]) -> tuple[Request, str]:
        req = ctx.request
        path = self._target.path(req.route_path, params)
        url = self._target.origin + path + (f"?{req.raw_query}" if req.raw_query else "")
        headers = req.headers.copy()
        # Set from the verified request context (the front door's view), never from what the client claimed.
        headers.set("x-forwarded-for", req.source_ip) if req.source_ip else headers.remove("x-forwarded-for")
        headers.set("x-forwarded-proto", req.scheme)
        original_host = req.host or req.headers.get("host") or ""
        if original_host:
            headers.set("x-forwarded-host", original_host)
        if not self._spec.preserve_host:
            headers.set("host", self._target.host_header)
        headers.remove("content-length")
        return Request(method=req.method, path=path, headers=headers, body=req.body, raw_query=req.raw_query), url

    async def __call__(self, ctx: Context, params: dict[str, str]) -> Response:
        request, url = self.upstream_request(ctx, params)
        start = time.monotonic()
        per_try = self._spec.retries.per_try_timeout
        tries = 0
        while True:
            tries += 1
            remaining = self._spec.timeout - (time.monotonic() - start)
            budget = min(per_try, remaining) if per_try else remaining
            outcome: Outcome
            response: Response | None = None
            try:
                response = await self._transport.send(request, url, max(budget, 0.001))
                outcome = response.status
            except UpstreamTimeout:
                if per_try is None or time.monotonic() - start >= self._spec.timeout:
                    raise
                outcome = "timeout"
            except UpstreamConnectError:
                outcome = "connect"
            delay = retry_delay(self._rule, request.method, tries, outcome, time.monotonic() - start, self._jitter())
            if delay is None:
                if response is not None:
                    return clean_response(response)
                if outcome == "timeout":
                    raise UpstreamTimeout(f"no answer within the per-try timeout after {tries} tries")
                raise UpstreamConnectError(f"could not connect after {tries} tries")
            await asyncio.sleep(delay)


def clean_response(response: Response) -> Response:
    for name in hop_by_hop_names(response.headers):
        response.headers.remove(name)
    return response
