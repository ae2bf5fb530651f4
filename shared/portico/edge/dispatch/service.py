"""The `service` upstream: a mesh service called from the edge with the edge's own mTLS identity.

The mesh client (registry lookup, instance pick, mTLS with SPIFFE verification of the destination) is made on the
first call, so a config without service routes never imports TLS or registry code at cold start.
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable
from typing import Protocol

from portico.core.chain import Context
from portico.core.config.upstream import ServiceUpstream
from portico.core.http import Request, Response
from portico.edge.dispatch.http import clean_response

_PLACEHOLDER = re.compile(r"\{([A-Za-z_][A-Za-z0-9_]*)\+?\}")


class MeshCaller(Protocol):
    """What portico.mesh.client.MeshServiceClient offers the edge."""

    async def call(self, service: str, request: Request, path: str, timeout: float) -> Response: ...


MeshCallerFactory = Callable[[], Awaitable[MeshCaller]]


class ServiceRoute:
    """One route's (or aggregate part's) `service` upstream, compiled once per config version.

    `path` with `{param}` placeholders is filled from the route's path parameters; a `path` without any is a base
    that the normalised request path is appended to (as for http upstreams); no `path` forwards the request path.
    Aggregate parts (`fixed_path`) use their `path` as written, `/` when it is absent.
    """

    def __init__(self, spec: ServiceUpstream, client: MeshCallerFactory, *, fixed_path: bool = False) -> None:
        self._spec = spec
        self._client = client
        self._base = spec.path or ("/" if fixed_path else "")
        self._fill = fixed_path or bool(_PLACEHOLDER.search(self._base))

    def upstream_path(self, normalized_path: str, params: dict[str, str]) -> str:
        if self._fill:
            return _PLACEHOLDER.sub(lambda m: params.get(m.group(1), ""), self._base) or "/"
        return self._base.rstrip("/") + normalized_path

    def upstream_request(self, ctx: Context, params: dict[str, str]) -> tuple[Request, str]:
        req = ctx.request
        path = self.upstream_path(req.route_path, params)
        target = path + (f"?{req.raw_query}" if req.raw_query else "")
        headers = req.headers.copy()  # traceparent and x-request-id were set by RequestIdFilter: the trace goes on
        headers.set("x-forwarded-for", req.source_ip) if req.source_ip else headers.remove("x-forwarded-for")
        headers.set("x-forwarded-proto", req.scheme)
        if req.host:
            headers.set("x-forwarded-host", req.host)
        headers.set("host", self._spec.name)  # the peer sidecar's app sees the service name, as through a sidecar
        headers.remove("content-length")
        request = Request(
            method=req.method, path=path, headers=headers, body=req.body, host=self._spec.name, raw_query=req.raw_query
        )
        return request, target

    async def __call__(self, ctx: Context, params: dict[str, str]) -> Response:
        request, target = self.upstream_request(ctx, params)
        client = await self._client()
        return clean_response(await client.call(self._spec.name, request, target, self._spec.timeout))
