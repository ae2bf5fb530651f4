"""HTTP/2 server connections (h2c from the app, h2 over mTLS from peers): each stream runs the listener's chain.

A stream's request head becomes a `Request` whose body streams (`H2Body`); the chain answers with a `Response`, or a
`StreamedResponse` whose data and trailers are passed on as they arrive, with flow control both ways. A client's
RST_STREAM cancels the stream's task, which resets the upstream stream in turn.

Hardening (docs/mesh-protocols.md "HTTP/2 limits"): h2 enforces the frame rules and answers protocol errors with
GOAWAY; CONTINUATION runs are capped by h2 (64 frames) and header lists by HPACK (MAX_HEADER_LIST_SIZE, answered
GOAWAY ENHANCE_YOUR_CALM); streams reset by the client before they were answered are counted, and a connection
where they dominate (CVE-2023-44487, "rapid reset") gets GOAWAY ENHANCE_YOUR_CALM and is closed. A stream reset in
the same read as its HEADERS never starts any work at all.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import h2.connection
import h2.errors
import h2.events
import h2.exceptions

from portico.core.grpc.wire import GRPC_DEADLINE_EXCEEDED, is_grpc, local_reply
from portico.core.http import Request, Response
from portico.core.problem import problem
from portico.mesh.h2body import H2Body, StreamedResponse, StreamReset
from portico.mesh.h2codec import REQUEST, TRAILERS, MalformedHeaders
from portico.mesh.h2conn import H2Wire, connection, decode, encode, local_settings
from portico.mesh.http1 import ConnectionTracker, ConnInfo, ServerLimits

log = logging.getLogger("portico.mesh.h2")

H2Handler = Callable[[Request, ConnInfo, H2Body], Awaitable[Response]]
# rapid reset: after this many streams, a connection whose streams were mostly reset early is closed (Envoy's
# overload heuristic for premature resets: at least 100 streams, half of them reset)
RESET_FLOOR = 100


@dataclass(slots=True)
class _Stream:
    body: H2Body
    request: Request | None = None
    task: asyncio.Task[None] | None = None
    answered: bool = False
    deadline: float | None = None
    grpc: bool = False


class H2ServerProtocol(asyncio.Protocol):
    def __init__(self, handler: H2Handler, limits: ServerLimits, tracker: ConnectionTracker) -> None:
        self._handler = handler
        self._limits = limits
        self._tracker = tracker
        self._wire = H2Wire(connection(client_side=False))
        self._info = ConnInfo(peer=None)
        self._streams: dict[int, _Stream] = {}
        self._opened = 0
        self._early_resets = 0
        self._idle: asyncio.TimerHandle | None = None
        self._closing = False

    # --- connection events
    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        wire = self._wire
        wire.attach(transport)
        self._info = _conn_info(transport)
        ssl_object = transport.get_extra_info("ssl_object")
        if ssl_object is not None and self._tracker.on_tls is not None:
            self._tracker.on_tls(ssl_object)
        if len(self._tracker.connections) >= self._limits.max_connections:
            self._tracker.overflow += 1
            transport.close()
            self._closing = True
            return
        self._tracker.add(self)
        wire.conn.initiate_connection()
        local_settings(wire.conn)
        wire.flush()
        self._arm_idle()

    def connection_lost(self, exc: Exception | None) -> None:
        self._closing = True
        self._wire.lost()
        self._tracker.discard(self)
        if self._idle is not None:
            self._idle.cancel()
        for stream in self._streams.values():
            stream.body.fail(StreamReset("the client connection closed"))
            if stream.task is not None:
                stream.task.cancel()
        self._streams.clear()

    def pause_writing(self) -> None:
        self._wire.pause_writing()

    def resume_writing(self) -> None:
        self._wire.resume_writing()

    def data_received(self, data: bytes) -> None:
        if self._closing:
            return
        wire = self._wire
        try:
            events = wire.conn.receive_data(data)
        except h2.exceptions.ProtocolError as exc:  # h2 has queued the GOAWAY with the right code
            self._tracker.rejected += 1
            log.info("HTTP/2 connection from %s closed: %s", self._info.peer, exc)
            self._close()
            return
        started: list[int] = []
        try:
            self._events(events, started)
        except MalformedHeaders as exc:  # what h2's own validation would have answered: GOAWAY PROTOCOL_ERROR
            self._tracker.rejected += 1
            log.info("HTTP/2 connection from %s closed: %s", self._info.peer, exc)
            self._goaway(h2.errors.ErrorCodes.PROTOCOL_ERROR)
            return
        if self._early_resets >= RESET_FLOOR and self._early_resets * 2 >= self._opened:
            self._calm("too many streams reset by the client (rapid reset)")
            return
        for stream_id in started:  # a stream reset within this same read never starts
            stream = self._streams.get(stream_id)
            if stream is not None and stream.task is None:
                stream.task = wire.loop.create_task(self._serve(stream_id, stream))
        wire.flush_soon()  # after the new streams' first steps: acknowledgements ride with what they write
        if self._closing and not self._streams:
            self._close()

    def _events(self, events: list[h2.events.Event], started: list[int]) -> None:
        for event in events:
            if isinstance(event, h2.events.RequestReceived):
                self._request(event, started)
            elif isinstance(event, h2.events.DataReceived):
                self._data(event)
            elif isinstance(event, h2.events.TrailersReceived):
                self._trailers(event)
            elif isinstance(event, h2.events.StreamEnded):
                stream = self._streams.get(event.stream_id)
                if stream is not None:
                    stream.body.end(stream.body.trailers)
            elif isinstance(event, h2.events.StreamReset):
                self._reset_by_client(event.stream_id)
            elif isinstance(event, h2.events.WindowUpdated | h2.events.RemoteSettingsChanged):
                self._wire.window_opened()
            elif isinstance(event, h2.events.ConnectionTerminated):
                self._closing = True

    # --- stream events
    def _request(self, event: h2.events.RequestReceived, started: list[int]) -> None:
        sid = event.stream_id
        self._opened += 1
        wire = self._wire
        body = H2Body(lambda n: self._consumed(sid, n))
        stream = self._streams[sid] = _Stream(body)
        if self._idle is not None:
            self._idle.cancel()
            self._idle = None
        pseudo, headers = decode(event.headers, REQUEST)
        if len(headers) > self._limits.max_headers:
            stream.task = wire.loop.create_task(self._answer(sid, stream, problem(431, "too many header fields")))
            return
        method = pseudo.get(":method", "")
        if method == "CONNECT":
            stream.task = wire.loop.create_task(self._answer(sid, stream, problem(501, "CONNECT is not supported")))
            return
        target = pseudo.get(":path", "/")
        path, _, raw_query = target.partition("?")
        authority = pseudo.get(":authority") or headers.get("host") or ""
        if authority and headers.get("host") is None:
            headers.set("host", authority)
        query = [tuple(p.split("=", 1)) if "=" in p else (p, "") for p in raw_query.split("&") if p]
        stream.request = Request(
            method=method,
            path=path or "/",
            query=query,  # type: ignore[arg-type]
            headers=headers,
            source_ip=self._info.peer[0] if self._info.peer else "",
            scheme=pseudo.get(":scheme", "http"),
            host=authority,
            raw_query=raw_query,
        )
        stream.grpc = is_grpc(stream.request)
        if event.stream_ended is not None:
            body.end()
        started.append(sid)

    def _data(self, event: h2.events.DataReceived) -> None:
        stream = self._streams.get(event.stream_id)
        if stream is None or stream.body.ended:
            self._wire.conn.acknowledge_received_data(event.flow_controlled_length, event.stream_id)
            return
        stream.body.feed(event.data, event.flow_controlled_length)

    def _trailers(self, event: h2.events.TrailersReceived) -> None:
        stream = self._streams.get(event.stream_id)
        if stream is not None:
            stream.body.end(decode(event.headers, TRAILERS)[1])

    def _consumed(self, stream_id: int, size: int) -> None:
        if size and not self._closing:
            try:
                self._wire.conn.acknowledge_received_data(size, stream_id)
            except (h2.exceptions.StreamClosedError, h2.exceptions.ProtocolError):
                return
            self._wire.flush_soon()

    def _reset_by_client(self, stream_id: int) -> None:
        stream = self._streams.pop(stream_id, None)
        if stream is None:
            return
        if not stream.answered:
            self._early_resets += 1
        stream.body.fail(StreamReset("the client reset the stream"))
        if stream.task is not None:
            stream.task.cancel()  # cancellation reaches the upstream call, which resets its own stream
        self._stream_done()

    # --- answering
    async def _serve(self, stream_id: int, stream: _Stream) -> None:
        request = stream.request
        assert request is not None
        self._tracker.in_flight += 1
        try:
            try:
                response = await self._handler(request, self._info, stream.body)
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("HTTP/2 stream %d failed", stream_id)
                response = problem(500, "the sidecar failed to handle this request")
            await self._answer(stream_id, stream, response)
        finally:
            self._tracker.in_flight -= 1

    async def _answer(self, stream_id: int, stream: _Stream, response: Response) -> None:
        wire = self._wire
        streamed = response.stream if isinstance(response, StreamedResponse) else None
        try:
            if stream.grpc and streamed is None and not (response.content_type or "").startswith("application/grpc"):
                response = local_reply(response)  # the mesh's own answer, in gRPC's terms
            fields = [(b":status", _STATUS.get(response.status) or b"%d" % response.status), *encode(response.headers)]
            end_now = streamed is None and not response.body
            if streamed is not None and streamed.ended and not streamed.failed and _bare(streamed):
                end_now, streamed = True, None  # trailers-only upstream (gRPC's status in the head): keep it so
            wire.conn.send_fields(stream_id, fields, end_stream=end_now)
            stream.answered = True
            wire.flush_soon()
            if streamed is not None:
                await self._relay(stream_id, stream, response, streamed)
            elif response.body:
                await wire.send_data(stream_id, response.body)
                wire.conn.end_body(stream_id)
                wire.flush_soon()
        except StreamReset:
            if isinstance(response, StreamedResponse) and response.cancel is not None:
                response.cancel()
        except asyncio.CancelledError:
            if isinstance(response, StreamedResponse) and response.cancel is not None:
                response.cancel()  # the client went away: the upstream stream is reset too
            raise
        except h2.exceptions.ProtocolError:
            pass
        finally:
            if self._streams.pop(stream_id, None) is not None:
                self._stream_done()

    async def _relay(self, stream_id: int, stream: _Stream, response: Response, body: H2Body) -> None:
        """Pass on a streamed body and then its trailers; a deadline that passes ends the stream (gRPC:
        DEADLINE_EXCEEDED in the trailers), and an upstream reset resets this stream."""
        wire = self._wire
        whole = body.take_all()
        if whole is not None and wire.fits(stream_id, len(whole)):  # all here (a unary answer, usually): no await
            trailers = body.trailers
            if trailers is not None and len(trailers):
                if whole:
                    wire.conn.send_body(stream_id, whole)
                wire.conn.send_fields(stream_id, encode(trailers), end_stream=True)
            else:
                wire.conn.send_body(stream_id, whole, end_stream=True)
            wire.flush_soon()
            return
        deadline = response.deadline if isinstance(response, StreamedResponse) else None
        try:
            async with asyncio.timeout_at(deadline):
                if whole is not None:
                    await wire.send_data(stream_id, whole)
                while (chunk := await body.read()) is not None:
                    await wire.send_data(stream_id, chunk)
        except TimeoutError:
            if isinstance(response, StreamedResponse) and response.cancel is not None:
                response.cancel()
            if stream.grpc:
                late = [(b"grpc-status", b"%d" % GRPC_DEADLINE_EXCEEDED), (b"grpc-message", b"deadline exceeded")]
                wire.conn.send_fields(stream_id, late, end_stream=True)
            else:
                wire.reset(stream_id, h2.errors.ErrorCodes.CANCEL)
            wire.flush_soon()
            return
        except StreamReset as exc:  # the upstream reset its stream: so does this one, with its code when known
            wire.reset(stream_id, exc.code or h2.errors.ErrorCodes.INTERNAL_ERROR)
            return
        trailers = body.trailers
        if trailers is not None and len(trailers):
            wire.conn.send_fields(stream_id, encode(trailers), end_stream=True)
        else:
            wire.conn.end_body(stream_id)
        wire.flush_soon()

    # --- connection upkeep
    def _stream_done(self) -> None:
        if not self._streams:
            if self._closing or self._tracker.draining:
                self._goaway(h2.errors.ErrorCodes.NO_ERROR)
            else:
                self._arm_idle()

    def _arm_idle(self) -> None:
        if self._idle is not None:
            self._idle.cancel()
        self._idle = self._wire.loop.call_later(self._limits.keepalive_timeout, self._idle_out)

    def _idle_out(self) -> None:
        if not self._streams:
            self._goaway(h2.errors.ErrorCodes.NO_ERROR)

    def _calm(self, why: str) -> None:
        self._tracker.rejected += 1
        log.warning("HTTP/2 connection from %s closed: %s", self._info.peer, why)
        for stream in self._streams.values():
            if stream.task is not None:
                stream.task.cancel()
        self._goaway(h2.errors.ErrorCodes.ENHANCE_YOUR_CALM)

    def _goaway(self, code: int) -> None:
        with contextlib.suppress(h2.exceptions.ProtocolError):
            self._wire.conn.close_connection(code)
        self._close()

    def _close(self) -> None:
        self._closing = True
        self._wire.flush()
        transport = self._wire.transport
        if transport is not None and not transport.is_closing():
            transport.close()

    def close_if_idle(self) -> None:
        """Drain: an idle connection gets GOAWAY and closes now; a busy one when its last stream is answered
        (GOAWAY waits for that, because h2 clients stop reading a connection once it arrives)."""
        if not self._streams:
            self._goaway(h2.errors.ErrorCodes.NO_ERROR)


def _conn_info(transport: Any) -> ConnInfo:
    peer = transport.get_extra_info("peername")
    ssl_object = transport.get_extra_info("ssl_object")
    return ConnInfo(
        peer=tuple(peer[:2]) if peer else None,
        tls=ssl_object is not None,
        peer_cert=ssl_object.getpeercert() if ssl_object is not None else None,
        peer_der=ssl_object.getpeercert(binary_form=True) if ssl_object is not None else None,
    )


_STATUS = {code: b"%d" % code for code in range(100, 600)}


def _bare(body: H2Body) -> bool:
    """An ended body with neither data nor trailers."""
    return body.received == 0 and body.trailers is None
