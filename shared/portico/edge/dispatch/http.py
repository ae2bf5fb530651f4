"""The http upstream: forwarding headers and the upstream path; the engine's attempts around one Transport."""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from dataclasses import replace

from portico.core.chain import Context
from portico.core.config.upstream import HttpUpstream
from portico.core.hop import hop_by_hop_names
from portico.core.http import Request, Response
from portico.core.mesh.policy import ClusterPolicy
from portico.core.mesh.registry import Instance
from portico.core.ports import Transport, UpstreamOverflow, UpstreamTimeout
from portico.core.routing.rewrite import UpstreamTarget
from portico.core.upstream.call import Send, UpstreamCall
from portico.core.upstream.cluster import ClusterState
from portico.core.upstream.retry import RetryOn, RetryRule
from portico.upstream_loop import drive


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
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self._spec = spec
        self._target = UpstreamTarget.compile(spec, route_prefix)
        if fixed_path:  # the URL's own path, placeholders filled, whatever the client's path was (aggregate parts)
            self._target = replace(self._target, has_placeholders=True)
        self._transport = transport
        self._rng = _Jitter(jitter)
        self._monotonic = monotonic
        retries = spec.retries
        # a connect failure never reached the upstream: the edge always retries it (idempotent or not)
        self._rule = RetryRule(
            attempts=retries.attempts,
            retry_on=RetryOn.parse(["connect-failure", *retries.retry_on]),
            per_try_timeout=retries.per_try_timeout,
            timeout=spec.timeout,
            backoff=retries.backoff,
        )
        # one URL is a cluster of one host: the engine still counts its requests and retries (Envoy's defaults)
        origin = self._target.origin
        self._instance = Instance(service=origin, instance_id=origin, address=origin, port=0)
        self._cluster = ClusterState(ClusterPolicy(service=origin, subset=None))

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

        async def attempt(send: Send) -> Response:
            return await self._transport.send(request, url, send.timeout)

        call = UpstreamCall(self._rule, request.method, self._cluster, (self._instance,), self._rng)
        result = await drive(call, attempt, self._monotonic)
        if result.response is not None:
            return clean_response(result.response)
        if result.finish.reason == "overflow":
            raise UpstreamOverflow("too many requests in flight to this upstream")
        if result.error is not None:
            raise result.error
        raise UpstreamTimeout(f"no answer within the route's timeout after {call.tries} tries")


class _Jitter(random.Random):
    """The engine's rng for a one-host cluster: only `random()` (the backoff jitter) is ever drawn."""

    def __init__(self, draw: Callable[[], float]) -> None:
        super().__init__(0)
        self._draw = draw

    def random(self) -> float:
        return self._draw()


def clean_response(response: Response) -> Response:
    for name in hop_by_hop_names(response.headers):
        response.headers.remove(name)
    return response
