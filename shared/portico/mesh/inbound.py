"""The inbound data path (peer -> app): hygiene, peer identity, authorisation hook, then forward to the local app."""

from __future__ import annotations

from collections.abc import Awaitable
from dataclasses import dataclass

from portico.adapters.tls.peer import PeerPolicy, PeerRejected, identity_from_cert
from portico.core.chain import Context, Handler, answer
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
        ours = frozenset([n for n, _ in headers if n.startswith(INTERNAL_PREFIX) and n != PEER_HEADER])
        ctx.request.headers = clean_request(headers, self._underscores, internal_ok=ours)
        resp = await next(ctx)
        resp.headers = strip_hop_by_hop(resp.headers)
        return resp


@dataclass(frozen=True, slots=True)
class _Verdict:
    """The peer identity of one connection: the SPIFFE ID (mTLS), its text, or why the certificate was refused."""

    spiffe: SpiffeId | None
    peer: str | None
    refused: str | None = None


class PeerIdentityFilter:
    """Surfaces who is calling: ctx.attrs["peer"] (the SPIFFE ID as text) and ctx.attrs["spiffe_id"].

    With mTLS (`policy` given) the identity comes only from the certificate OpenSSL verified; a certificate that
    names no acceptable identity (none, several, another trust domain) is answered 403 before anything else runs.
    The certificate is read once per connection (ConnInfo.peer_identity): it is the same for every request on it.
    """

    def __init__(self, policy: PeerPolicy | None = None) -> None:
        self._policy = policy

    def __call__(self, ctx: Context, next: Handler) -> Awaitable[Response]:
        info: ConnInfo = ctx.attrs[CONN]
        verdict: _Verdict | None = info.peer_identity
        if verdict is None:
            verdict = info.peer_identity = self._verdict(info)
        if verdict.refused is not None:
            return answer(problem(403, f"peer identity not accepted: {verdict.refused}", request_id=ctx.request_id))
        if verdict.spiffe is not None:
            ctx.attrs[SPIFFE_ID] = verdict.spiffe
        ctx.attrs[PEER] = verdict.peer
        if verdict.peer is not None:
            ctx.request.headers.set(PEER_HEADER, verdict.peer)
        return next(ctx)

    def _verdict(self, info: ConnInfo) -> _Verdict:
        if self._policy is None:
            return _Verdict(None, identity_of(info))
        try:
            spiffe = identity_from_cert(info.peer_cert, self._policy)
        except PeerRejected as exc:
            return _Verdict(None, None, str(exc))
        return _Verdict(spiffe, str(spiffe))


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
