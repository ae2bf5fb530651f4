"""The inbound data path (peer -> app): hygiene, peer identity, authorisation hook, then forward to the local app."""

from __future__ import annotations

from typing import Any

from portico.adapters.tls.peer import PeerPolicy, PeerRejected, identity_from_cert
from portico.core.chain import Context, Handler
from portico.core.headers import Headers
from portico.core.hop import INTERNAL_PREFIX, UnderscoreAction, underscore_refusal
from portico.core.http import Response
from portico.core.mesh.hop import clean_request, strip_hop_by_hop
from portico.core.mtls.spiffe import SpiffeId
from portico.core.ports import (
    Transport,
    UpstreamConnectError,
    UpstreamOverflow,
    UpstreamRefused,
    UpstreamReset,
    UpstreamTimeout,
)
from portico.core.problem import problem
from portico.mesh.attrs import CONN, PEER, SPIFFE_ID
from portico.mesh.http1 import ConnInfo

MAX_VERDICTS = 1024  # distinct peer certificates remembered; bounded by the mesh's size, never by traffic
PEER_HEADER = "x-portico-peer"  # the verified peer identity as the app sees it; never taken from the wire


class InboundHygieneFilter:
    """Drop hop-by-hop fields, `_` names, and any peer-identity header a caller tried to set itself, in any
    spelling; the calling sidecar's own x-portico-* fields (attempt count) pass as it spelled them."""

    def __init__(self, underscores: UnderscoreAction = "drop") -> None:
        self._underscores = underscores

    async def __call__(self, ctx: Context, next: Handler) -> Response:
        headers = ctx.request.headers
        if refused := underscore_refusal(headers, self._underscores):
            return refused
        ours = frozenset(n for n in headers.names() if n.startswith(INTERNAL_PREFIX) and n != PEER_HEADER)
        ctx.request.headers = clean_request(headers, self._underscores, internal_ok=ours)
        resp = await next(ctx)
        resp.headers = strip_hop_by_hop(resp.headers)
        return resp


class PeerIdentityFilter:
    """Surfaces who is calling: ctx.attrs["peer"] (the SPIFFE ID as text) and ctx.attrs["spiffe_id"].

    With mTLS (`policy` given) the identity comes only from the certificate OpenSSL verified; a certificate that
    names no acceptable identity (none, several, another trust domain) is answered 403 before anything else runs.
    """

    def __init__(self, policy: PeerPolicy | None = None) -> None:
        self._policy = policy
        # verdicts by the certificate's SANs: every request on a connection (and every connection of one peer)
        # presents the same verified certificate, so it is read once, not per request
        self._verdicts: dict[object, SpiffeId | PeerRejected] = {}

    def _verdict(self, cert: dict[str, Any] | None, policy: PeerPolicy) -> SpiffeId | PeerRejected:
        key = cert.get("subjectAltName") if cert else None
        found = self._verdicts.get(key) if key is not None else None
        if found is None:
            try:
                found = identity_from_cert(cert, policy)
            except PeerRejected as exc:
                found = exc
            if key is not None:
                if len(self._verdicts) >= MAX_VERDICTS:
                    self._verdicts.clear()
                self._verdicts[key] = found
        return found

    async def __call__(self, ctx: Context, next: Handler) -> Response:
        info: ConnInfo = ctx.attrs[CONN]
        peer: str | None
        if self._policy is not None:
            spiffe = self._verdict(info.peer_cert, self._policy)
            if isinstance(spiffe, PeerRejected):
                return problem(403, f"peer identity not accepted: {spiffe}", request_id=ctx.request_id)
            ctx.attrs[SPIFFE_ID] = spiffe
            peer = str(spiffe)
        else:
            peer = identity_of(info)
        ctx.attrs[PEER] = peer
        if peer is not None:
            ctx.request.headers.set(PEER_HEADER, peer)
        return await next(ctx)


def identity_of(info: ConnInfo) -> str | None:
    if not info.peer_cert:
        return None
    for kind, value in info.peer_cert.get("subjectAltName", ()):
        if kind == "URI" and str(value).startswith("spiffe://"):
            return str(value)
    return None


class AppForwarder:
    """The inbound router: one keep-alive pool to 127.0.0.1:<app port>, through the Transport port."""

    def __init__(self, transport: Transport, app_port: int, timeout: float | None = None) -> None:
        self._transport = transport
        self._origin = f"http://127.0.0.1:{app_port}"
        self._timeout = timeout

    async def __call__(self, ctx: Context) -> Response:
        req = ctx.request
        host = req.host or "localhost"  # the absolute-form authority when the request had one (RFC 9112 3.2.2)
        if req.headers.get("host") != host:
            req.headers.set("host", host)
        target = req.path + ("?" + req.raw_query if req.raw_query else "")
        try:
            return await self._transport.send(req, self._origin + target, self._timeout)
        except UpstreamOverflow as exc:
            return problem(503, str(exc), headers=Headers([("x-portico-overloaded", "1")]))
        except (UpstreamConnectError, UpstreamReset, UpstreamRefused):
            return problem(503, "the local app is not reachable")
        except UpstreamTimeout:
            return problem(504, "the local app did not answer in time")
