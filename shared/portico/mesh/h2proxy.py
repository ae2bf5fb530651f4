"""HTTP/2 and gRPC through the sidecar: the outbound router for HTTP/2 streams and the inbound forwarder to the app.

The filters are the HTTP/1 chain's own (telemetry, hygiene, VirtualService route, faults, authorisation); only the
last step differs, because the body streams. Attempts go through the one engine (core/upstream, upstream_loop.drive):
a try ends at the response head, so retries happen only before anything was passed back to the caller, and only
while the request body still fits the replay buffer. A gRPC answer whose head already carries `grpc-status`
(trailers-only) is judged by that status: Istio's gRPC retryOn names and outlier detection read it.
"""

from __future__ import annotations

import asyncio
import logging
import random
import weakref
from collections.abc import Callable
from dataclasses import replace

from portico.adapters.http1_client import ClientSettings
from portico.core.chain import Context, Filter, Handler, build_chain
from portico.core.grpc.wire import GRPC_DEADLINE_EXCEEDED, grpc_timeout, is_grpc, status_of
from portico.core.headers import Headers
from portico.core.hop import UnderscoreAction
from portico.core.http import Request, Response
from portico.core.mesh.vsmatch import CompiledRoute, rewrite_path
from portico.core.ports import Transport, UpstreamError, UpstreamRefused
from portico.core.problem import problem
from portico.core.upstream.call import Send, UpstreamCall
from portico.mesh.cluster import Cluster
from portico.mesh.h2body import H2Body, ReplayBody, StreamedResponse
from portico.mesh.h2client import H2Client
from portico.mesh.inbound import AppForwarder
from portico.mesh.outbound import (
    ATTEMPT_HEADER,
    FaultFilter,
    HygieneFilter,
    RouteFilter,
    _failure_response,
    overloaded,
    pick_target,
)
from portico.mesh.state import MeshState
from portico.mesh.telemetry import MeshTelemetry, TelemetryFilter
from portico.upstream_loop import drive

log = logging.getLogger("portico.mesh.h2proxy")

BODY = "h2_body"  # ctx.attrs: the H2Body of a request that arrived on HTTP/2
# Envoy's per_request_buffer_limit_bytes default: a streamed request body up to this size can be sent again
REPLAY_LIMIT = 1024 * 1024
MAX_BUFFERED_BODY = 16 * 1024 * 1024  # an HTTP/2 request to an HTTP/1.1 app is buffered, as any HTTP/1 body


def classify(replay: ReplayBody) -> Callable[[Response], tuple[int | None, bool]]:
    """For the engine: a trailers-only gRPC status, and whether the request can still be sent again."""

    def judge(resp: Response) -> tuple[int | None, bool]:
        grpc = None
        stream = resp.stream if isinstance(resp, StreamedResponse) else None
        if stream is not None and stream.ended and stream.received == 0:
            grpc = status_of(resp.headers)  # trailers-only: nothing of this answer has reached anyone yet
        return grpc, replay.replayable

    return judge


class H2Dispatcher:
    """The outbound router for HTTP/2 streams: weighted subset, then the engine's tries over the cluster's HTTP/2
    pool to peer sidecars."""

    def __init__(self, state: MeshState, rng: random.Random, client_settings: ClientSettings) -> None:
        self._state = state
        self._rng = rng
        self._settings = client_settings
        # one HTTP/2 pool per cluster, living as long as the cluster does (clusters survive reloads)
        self._clients: weakref.WeakKeyDictionary[Cluster, H2Client] = weakref.WeakKeyDictionary()

    def client(self, cluster: Cluster) -> H2Client:
        found = self._clients.get(cluster)
        if found is None:
            base = cluster.client.settings
            settings = replace(base, tls=self._settings.tls) if self._settings.tls is not None else base
            found = self._clients[cluster] = H2Client(settings, scheme_tls=self._state.scheme == "https")
        return found

    def housekeeping(self, now: float) -> None:
        for client in list(self._clients.values()):
            client.reap_idle(now)

    def close(self) -> None:
        for client in list(self._clients.values()):
            client.close()

    async def __call__(self, ctx: Context) -> Response:
        target = pick_target(ctx, self._state, self._rng)
        if isinstance(target, Response):
            return target
        route, service, cluster, labels = target
        body: H2Body = ctx.attrs[BODY]
        return await self._call(ctx.request, body, service, cluster, route, labels)

    async def _call(
        self,
        req: Request,
        body: H2Body,
        service: str,
        cluster: Cluster,
        route: CompiledRoute,
        labels: tuple[tuple[str, str], ...],
    ) -> Response:
        state = self._state
        stats = state.stats
        loop = asyncio.get_running_loop()
        instances = await state.discovery.instances(service)
        path = rewrite_path(req.path, route.prefix_for(req) if route.rewrite else None, route.rewrite)
        target = path + ("?" + req.raw_query if req.raw_query else "")
        host = route.rewrite.authority if route.rewrite and route.rewrite.authority else req.host
        headers = req.headers
        headers.set("host", host)
        grpc = is_grpc(req)
        if grpc:
            headers.set("te", "trailers")  # gRPC servers require it; hop hygiene removed the app's
        rule = route.retry
        budget = grpc_timeout(headers.get("grpc-timeout")) if grpc else None
        if budget is not None and (rule.timeout is None or budget < rule.timeout):
            rule = replace(rule, timeout=budget)  # the caller's deadline bounds every try, as in Envoy
        deadline = None if rule.timeout is None else loop.time() + rule.timeout
        replay = ReplayBody(body, REPLAY_LIMIT)
        client = self.client(cluster)

        async def attempt(send: Send) -> Response:
            if send.retry and not replay.replayable:
                raise UpstreamRefused("the request body outgrew the replay buffer")
            headers.set(ATTEMPT_HEADER, str(send.attempt))
            if send.retry:
                stats.inc("portico_upstream_retries_total", labels)
            whole = replay.whole()
            return await client.send(
                req,
                cluster.origin(send.instance) + target,
                send.timeout,
                replay.chunks() if whole is None else whole,
                lambda: replay.trailers,
            )

        def observe(send: Send, status: int | None, ejected: object) -> None:
            stats.inc("portico_upstream_requests_total", (*labels, ("code", str(status or 0))))
            if ejected is not None:
                stats.inc("portico_outlier_ejections_total", labels)

        call = UpstreamCall(rule, req.method, cluster.state, instances, self._rng)
        result = await drive(call, attempt, state.clock.monotonic, observe, classify(replay))
        finish = result.finish
        if result.response is not None and finish.reason in ("answered", "retry-overflow"):
            resp = result.response
            if isinstance(resp, StreamedResponse):
                resp.deadline = deadline
            return resp
        if finish.reason == "overflow":
            stats.inc("portico_upstream_overflow_total", labels)
            return overloaded(str(result.error) if result.error else f"too many requests in flight to {service}")
        if finish.reason == "no-healthy":
            return problem(503, f"no healthy upstream for {service}")
        if finish.reason == "deadline" or (grpc and finish.failure == "timeout"):
            return _deadline(service, grpc)
        return _failure_response(finish.failure, service)


_GRPC_PROBE = (("content-type", "application/grpc"), ("te", "trailers"))


def _deadline(service: str, grpc: bool) -> Response:
    extra = Headers([("grpc-status", str(GRPC_DEADLINE_EXCEEDED))]) if grpc else None
    return problem(504, f"{service} did not answer within the deadline", headers=extra)


def outbound_h2_chain(
    state: MeshState,
    telemetry: MeshTelemetry,
    rng: random.Random,
    dispatcher: H2Dispatcher,
    underscores: UnderscoreAction = "drop",
) -> Handler:
    """The app -> peer chain for HTTP/2 streams; the same steps as HTTP/1's, less mirroring (a streamed body
    cannot be copied without buffering it)."""
    filters: list[Filter] = [
        TelemetryFilter(telemetry, "source"),  # outermost: the whole hop is timed, logged and counted
        HygieneFilter(underscores),  # hop-by-hop, `_` names, app-sent x-portico-*: never cross a hop
        RouteFilter(state),  # VirtualService match on :authority and :path (/package.Service/Method)
        FaultFilter(rng),  # faults (httpStatus or grpcStatus) act before any upstream work
    ]
    return build_chain(filters, dispatcher)


class AppH2Forwarder:
    """The inbound router for HTTP/2 streams: h2c to an app that speaks HTTP/2 (grpc, http2), else the request is
    buffered and sent over the HTTP/1.1 pool."""

    def __init__(self, app_port: int, h2c: bool, http1: Transport, timeout: float | None = None) -> None:
        self._origin = f"http://127.0.0.1:{app_port}"
        self._h2c = h2c
        self._client = H2Client(ClientSettings(allow_loopback=True), scheme_tls=False) if h2c else None
        self._http1 = AppForwarder(http1, app_port, timeout)
        self._timeout = timeout

    async def __call__(self, ctx: Context) -> Response:
        req = ctx.request
        body: H2Body = ctx.attrs[BODY]
        if self._client is None:
            try:
                req.body = await body.readall(MAX_BUFFERED_BODY)
            except ValueError:
                return problem(413, "request body too large for an HTTP/1.1 app")
            return await self._http1(ctx)
        target = req.path + ("?" + req.raw_query if req.raw_query else "")
        if req.headers.get("host") is None:
            req.headers.set("host", req.host or "localhost")
        if is_grpc(req):
            req.headers.set("te", "trailers")
        try:
            whole = body.take_all()
            return await self._client.send(
                req,
                self._origin + target,
                self._timeout,
                body if whole is None else whole,
                lambda: body.trailers,
            )
        except UpstreamError as exc:
            log.info("local app (h2c) failed: %s", exc)
            return problem(503, "the local app is not reachable")

    async def probe(self, path: str, timeout: float, *, grpc: bool) -> int:
        """The app's health over h2c: the status of a GET, or for a gRPC app of a gRPC health Check (grpcio resets
        a non-gRPC request; any gRPC answer, UNIMPLEMENTED included, shows the server is up)."""
        assert self._client is not None
        req = Request("GET", path, headers=Headers([("host", "localhost")]), host="localhost")
        body = b""
        if grpc:
            path = "/grpc.health.v1.Health/Check"
            body = b"\x00\x00\x00\x00\x00"  # one empty, uncompressed message
            req = Request("POST", path, headers=Headers([("host", "localhost"), *_GRPC_PROBE]), host="localhost")
        resp = await self._client.send(req, self._origin + path, timeout, body)
        if resp.cancel is not None:
            resp.cancel()
        return resp.status

    @property
    def h2c(self) -> bool:
        return self._client is not None

    def housekeeping(self, now: float) -> None:
        if self._client is not None:
            self._client.reap_idle(now)

    def close(self) -> None:
        if self._client is not None:
            self._client.close()
