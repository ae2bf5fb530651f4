"""The HTTP/2 upstream client: streams multiplexed on pooled connections (h2 over mTLS to peer sidecars, ALPN `h2`;
h2c with prior knowledge to the local app).

One connection per host carries every stream until it reaches the peer's SETTINGS_MAX_CONCURRENT_STREAMS or gets a
GOAWAY; then another is dialled. `send` returns once the response head arrives: a `StreamedResponse` whose body and
trailers follow, while the request body keeps streaming up (bidirectional calls need both at once).
"""

from __future__ import annotations

import asyncio
import contextlib
import ssl
from collections.abc import AsyncIterator, Callable
from typing import Any

import h2.connection
import h2.errors
import h2.events
import h2.exceptions

from portico.adapters.http1_client import ClientSettings
from portico.adapters.resolve import checked_addresses
from portico.core.headers import Headers
from portico.core.http import Request
from portico.core.ports import UpstreamConnectError, UpstreamReset, UpstreamTimeout
from portico.mesh.h2body import H2Body, StreamedResponse, StreamReset
from portico.mesh.h2codec import RESPONSE, TRAILERS, MalformedHeaders
from portico.mesh.h2conn import H2Wire, connection, decode, encode, latin1, local_settings

BodySource = AsyncIterator[bytes] | bytes
ALPN = ["h2"]


class _Pending:
    __slots__ = ("body", "head")

    def __init__(self, body: H2Body, loop: asyncio.AbstractEventLoop) -> None:
        self.head: asyncio.Future[tuple[int, Headers]] = loop.create_future()
        self.body = body


class H2ClientConnection(asyncio.Protocol):
    """One upstream HTTP/2 connection and its streams."""

    def __init__(self) -> None:
        self.wire = H2Wire(connection(client_side=True))
        self._streams: dict[int, _Pending] = {}
        self.goaway = False
        self.idle_since = self.wire.loop.time()

    @property
    def usable(self) -> bool:
        wire = self.wire
        if wire.closed or self.goaway:
            return False
        # our own count: h2's open_outbound_streams walks every stream it knows on each call
        return len(self._streams) < wire.conn.remote_settings.max_concurrent_streams

    @property
    def active(self) -> int:
        return len(self._streams)

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        wire = self.wire
        wire.attach(transport)
        wire.conn.initiate_connection()
        local_settings(wire.conn)
        wire.flush()

    def connection_lost(self, exc: Exception | None) -> None:
        self.wire.lost()
        for pending in self._streams.values():
            self._fail(pending, StreamReset("the upstream connection closed"))
        self._streams.clear()

    def pause_writing(self) -> None:
        self.wire.pause_writing()

    def resume_writing(self) -> None:
        self.wire.resume_writing()

    def data_received(self, data: bytes) -> None:
        wire = self.wire
        try:
            self._events(wire.conn.receive_data(data))
        except h2.exceptions.ProtocolError as exc:  # h2's, or a malformed header block (MalformedHeaders)
            if isinstance(exc, MalformedHeaders):
                with contextlib.suppress(h2.exceptions.ProtocolError):
                    wire.conn.close_connection(h2.errors.ErrorCodes.PROTOCOL_ERROR)
            wire.flush()
            self.close()
            for broken in self._streams.values():
                self._fail(broken, StreamReset("the upstream broke the HTTP/2 protocol"))
            self._streams.clear()
            return
        wire.flush_soon()  # with what the woken streams write next: one write, not two

    def _events(self, events: list[h2.events.Event]) -> None:
        wire = self.wire
        for event in events:
            if isinstance(event, h2.events.ResponseReceived):
                pseudo, headers = decode(event.headers, RESPONSE)
                pending = self._streams.get(event.stream_id)
                if pending is not None and not pending.head.done():
                    pending.head.set_result((int(pseudo.get(":status", "0") or 0), headers))
            elif isinstance(event, h2.events.DataReceived):
                pending = self._streams.get(event.stream_id)
                if pending is None:
                    wire.conn.acknowledge_received_data(event.flow_controlled_length, event.stream_id)
                else:
                    pending.body.feed(event.data, event.flow_controlled_length)
            elif isinstance(event, h2.events.TrailersReceived):
                trailers = decode(event.headers, TRAILERS)[1]
                pending = self._streams.get(event.stream_id)
                if pending is not None:
                    pending.body.trailers = trailers
            elif isinstance(event, h2.events.InformationalResponseReceived):
                decode(event.headers, RESPONSE)  # checked as h2 would; a 1xx is not passed on
            elif isinstance(event, h2.events.StreamEnded):
                pending = self._streams.pop(event.stream_id, None)
                if pending is not None:
                    pending.body.end(pending.body.trailers)
                    self._touch()
            elif isinstance(event, h2.events.StreamReset):
                pending = self._streams.pop(event.stream_id, None)
                if pending is not None:
                    self._fail(
                        pending, StreamReset(f"the upstream reset the stream ({event.error_code!r})", event.error_code)
                    )
                    self._touch()
            elif isinstance(event, h2.events.WindowUpdated | h2.events.RemoteSettingsChanged):
                wire.window_opened()
            elif isinstance(event, h2.events.ConnectionTerminated):
                self._goaway(event.last_stream_id)

    def _goaway(self, last_stream_id: int | None) -> None:
        self.goaway = True
        last = last_stream_id or 0
        for sid in [s for s in self._streams if s > last]:  # never processed: a refused stream, safe to retry
            self._fail(self._streams.pop(sid), UpstreamConnectError("the upstream refused the stream (GOAWAY)"))

    def _fail(self, pending: _Pending, exc: Exception) -> None:
        if not pending.head.done():
            pending.head.set_exception(exc)
        pending.body.fail(exc)

    def _touch(self) -> None:
        if not self._streams:
            self.idle_since = self.wire.loop.time()

    def open_stream(self, fields: list[tuple[bytes, bytes]], end_stream: bool) -> tuple[int, _Pending]:
        conn = self.wire.conn
        sid = conn.get_next_available_stream_id()
        pending = _Pending(H2Body(lambda n: self._consumed(sid, n)), self.wire.loop)
        self._streams[sid] = pending
        conn.send_fields(sid, fields, end_stream=end_stream)
        if end_stream:  # else the body's pump flushes: HEADERS and the first DATA leave in one write
            self.wire.flush_soon()
        return sid, pending

    def send_whole(self, stream_id: int, data: bytes, trailers: Headers | None) -> bool:
        """Send a body that is all here at once: END_STREAM on its one DATA frame (or on the trailers), no pump
        task, the same write as the HEADERS. False when it does not fit the peer's windows and a frame: the
        caller pumps it instead."""
        wire = self.wire
        conn = wire.conn
        if not wire.fits(stream_id, len(data)):
            return False
        last = not trailers
        if data or last:
            conn.send_body(stream_id, data, end_stream=last)
        if trailers:
            conn.send_fields(stream_id, encode(trailers), end_stream=True)
        wire.flush_soon()
        return True

    def _consumed(self, stream_id: int, size: int) -> None:
        if size and not self.wire.closed:
            with contextlib.suppress(h2.exceptions.StreamClosedError, h2.exceptions.ProtocolError):
                self.wire.conn.acknowledge_received_data(size, stream_id)
                self.wire.flush_soon()

    async def pump(self, stream_id: int, body: AsyncIterator[bytes], trailers: Callable[[], Headers | None]) -> None:
        """Stream the request body up, then END_STREAM (with trailers when the caller sent some)."""
        wire = self.wire
        wire.flush_soon()  # runs after this first step: with what the body already holds, in one write
        try:
            async for chunk in body:
                await wire.send_data(stream_id, chunk)
            extra = trailers()
            if extra is not None and len(extra):
                wire.conn.send_fields(stream_id, encode(extra), end_stream=True)
            else:
                wire.conn.end_body(stream_id)
            wire.flush_soon()
        except StreamReset:
            wire.reset(stream_id, h2.errors.ErrorCodes.CANCEL)
        except (h2.exceptions.StreamClosedError, h2.exceptions.ProtocolError):
            return  # the response ended the stream first (a server may answer before reading everything)

    def cancel(self, stream_id: int) -> None:
        pending = self._streams.pop(stream_id, None)
        if pending is not None:
            pending.body.fail(StreamReset("cancelled"))
            self.wire.reset(stream_id, h2.errors.ErrorCodes.CANCEL)
            self._touch()

    def close(self) -> None:
        transport = self.wire.transport
        if transport is not None and not transport.is_closing():
            with contextlib.suppress(h2.exceptions.ProtocolError):
                self.wire.conn.close_connection()
                self.wire.flush()
            transport.close()


class H2Client:
    """Pooled HTTP/2 connections per origin, for one cluster (or the app). `settings.tls` must offer ALPN h2."""

    def __init__(self, settings: ClientSettings, *, scheme_tls: bool) -> None:
        self.settings = settings
        self._tls = scheme_tls
        self._pools: dict[str, list[H2ClientConnection]] = {}
        self._dialing: dict[str, asyncio.Future[H2ClientConnection]] = {}

    async def send(
        self,
        request: Request,
        url: str,
        timeout: float | None,
        body: BodySource,
        trailers: Callable[[], Headers | None] = lambda: None,
    ) -> StreamedResponse:
        """Open a stream, send the head, stream the body in the background, and return at the response head."""
        origin, target = _split(url)
        loop = asyncio.get_running_loop()
        deadline = None if timeout is None else loop.time() + timeout
        conn = self._pooled(origin)  # the usual case: no await, no timeout scope
        if conn is None:
            try:
                async with asyncio.timeout_at(deadline):
                    conn = await self._connection(origin)
            except TimeoutError:
                raise UpstreamTimeout(f"no HTTP/2 connection to {origin} within the try's timeout") from None
        fields = [
            (b":method", latin1(request.method)),
            (b":scheme", b"https" if self._tls else b"http"),
            (b":authority", latin1(request.headers.get("host") or request.host or origin.partition("://")[2])),
            (b":path", latin1(target)),
            *encode(request.headers),
        ]
        whole = body if isinstance(body, bytes) else None
        extra = trailers() if whole is not None else None
        empty = whole is not None and not whole and not extra
        sid, pending = conn.open_stream(fields, end_stream=empty)
        pump: asyncio.Task[None] | None = None
        if not empty and not (whole is not None and conn.send_whole(sid, whole, extra)):
            source = _Once(whole) if whole is not None else body
            assert not isinstance(source, bytes)
            pump = loop.create_task(conn.pump(sid, source, trailers))
        try:
            if deadline is None:
                status, headers = await pending.head
            else:
                async with asyncio.timeout_at(deadline):
                    status, headers = await pending.head
        except TimeoutError:
            conn.cancel(sid)
            _stop(pump)
            raise UpstreamTimeout(f"{origin} did not answer within the try's timeout") from None
        except BaseException:
            conn.cancel(sid)
            _stop(pump)
            raise

        def cancel() -> None:
            conn.cancel(sid)
            _stop(pump)

        return StreamedResponse(status, headers, stream=pending.body, cancel=cancel)

    def _pooled(self, origin: str) -> H2ClientConnection | None:
        for conn in self._pools.get(origin, ()):
            if conn.usable:
                return conn
        return None

    async def _connection(self, origin: str) -> H2ClientConnection:
        pool = self._pools.setdefault(origin, [])
        for conn in pool:
            if conn.usable:
                return conn
        pool[:] = [c for c in pool if not c.wire.closed]
        dialing = self._dialing.get(origin)
        if dialing is None:
            dialing = asyncio.ensure_future(self._dial(origin))
            self._dialing[origin] = dialing
            dialing.add_done_callback(lambda _: self._dialing.pop(origin, None))
        conn = await asyncio.shield(dialing)
        return conn

    async def _dial(self, origin: str) -> H2ClientConnection:
        s = self.settings
        host, port = _host_port(origin, 443 if self._tls else 80)
        ctx: ssl.SSLContext | None = None
        if self._tls:
            ctx = s.tls() if callable(s.tls) else s.tls
            if ctx is None:
                raise UpstreamConnectError("no TLS context for an HTTPS origin")
        loop = asyncio.get_running_loop()
        try:
            async with asyncio.timeout(s.connect_timeout):
                addresses = await checked_addresses(host, port, s.resolver, allow_loopback=s.allow_loopback)
                transport, conn = await _connect(loop, addresses, host, port, ctx)
        except TimeoutError:
            raise UpstreamConnectError(f"cannot connect to {host}:{port} within {s.connect_timeout:g}s") from None
        except OSError as exc:
            if isinstance(exc, ssl.SSLError) and s.on_handshake is not None:
                s.on_handshake("failed")
            raise UpstreamConnectError(f"cannot connect to {host}:{port}: {exc}") from exc
        if ctx is not None:
            ssl_object: Any = transport.get_extra_info("ssl_object")
            problem = _refusal(ssl_object, s, host)
            if problem is not None:
                transport.close()
                if s.on_handshake is not None:
                    s.on_handshake("rejected")
                raise UpstreamConnectError(f"refused {host}:{port}: {problem}")
            if s.on_handshake is not None:
                s.on_handshake("ok")
        self._pools.setdefault(origin, []).append(conn)
        return conn

    def reap_idle(self, now: float) -> None:
        """Close connections without streams for longer than idle_timeout (`now`: the event loop's clock)."""
        for pool in self._pools.values():
            for conn in list(pool):
                if conn.wire.closed or (conn.active == 0 and now - conn.idle_since > self.settings.idle_timeout):
                    conn.close()
                    pool.remove(conn)

    def close(self) -> None:
        for pool in self._pools.values():
            for conn in pool:
                conn.close()
        self._pools.clear()


def _refusal(ssl_object: Any, s: ClientSettings, host: str) -> str | None:
    alpn = ssl_object.selected_alpn_protocol() if ssl_object is not None else None
    if alpn not in (None, "h2"):  # no ALPN: a Portico listener sniffs the preface, so prior knowledge works
        return f"the peer chose {alpn!r} over h2"
    if s.peer_check is not None:
        try:
            s.peer_check(ssl_object, s.expected_peer or host)
        except Exception as exc:  # the server is not who we meant to call: never send it a request
            return str(exc)
    return None


async def _connect(
    loop: asyncio.AbstractEventLoop, addresses: list[str], host: str, port: int, ctx: ssl.SSLContext | None
) -> tuple[asyncio.BaseTransport, H2ClientConnection]:
    last: OSError | None = None
    for address in addresses:  # the checked address itself, so a second lookup cannot rebind the name
        try:
            return await loop.create_connection(
                H2ClientConnection, address, port, ssl=ctx, server_hostname=host if ctx else None
            )
        except OSError as exc:
            last = exc
    raise last or OSError(f"no address for {host}")


class _Once:
    """One chunk as an async iterator (a class, not an async generator, for mypyc: docs/native.md)."""

    __slots__ = ("_data",)

    def __init__(self, data: bytes) -> None:
        self._data: bytes | None = data

    def __aiter__(self) -> _Once:
        return self

    async def __anext__(self) -> bytes:
        data = self._data
        if data is None:
            raise StopAsyncIteration
        self._data = None
        return data


def _stop(task: asyncio.Task[None] | None) -> None:
    if task is not None and not task.done():
        task.cancel()


def _split(url: str) -> tuple[str, str]:
    start = url.find("://") + 3
    slash = url.find("/", start)
    if slash < 0:
        return url, "/"
    return url[:slash], url[slash:]


def _host_port(origin: str, default: int) -> tuple[str, int]:
    authority = origin.partition("://")[2]
    if authority.startswith("["):
        end = authority.find("]")
        rest = authority[end + 1 :]
        return authority[1:end], int(rest[1:]) if rest.startswith(":") else default
    name, _, port = authority.rpartition(":")
    if name and port.isdigit():
        return name, int(port)
    return authority, default


__all__ = ["H2Client", "H2ClientConnection", "UpstreamReset"]
