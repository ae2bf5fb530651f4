"""What the HTTP/2 server and client connections share: the h2 state machine, batched writes and flow-controlled
sends.

h2 (python-hyper) is sans-I/O: it turns bytes into events and calls into bytes, and this class owns the socket
side. Writes are batched: everything h2 produced during one loop turn goes out in one `transport.write`.
"""

from __future__ import annotations

import asyncio
import typing
from collections.abc import Iterable

import h2.config
import h2.connection
import h2.errors
import h2.events
import h2.exceptions
import h2.settings

from portico.core.headers import Headers
from portico.mesh.h2body import StreamReset
from portico.mesh.h2codec import BlockKind, PlainDecoder, StatelessEncoder, inbound
from portico.mesh.h2fast import FastConnection

# Per-stream receive window: a slow reader holds at most this much per stream (Envoy's default is 256 MiB; gRPC's
# own BDP probing starts at 64 KiB). 1 MiB keeps a large message moving at LAN speed without unbounded memory.
STREAM_WINDOW = 1024 * 1024
CONNECTION_WINDOW = 16 * 1024 * 1024
MAX_CONCURRENT_STREAMS = 128  # per connection, each way (Go's net/http2 allows 250, nginx 128)
MAX_HEADER_LIST_SIZE = 60 * 1024  # Envoy's max_request_headers_kb default
# RFC 9113 8.2.2: connection-specific fields never cross an HTTP/2 hop; `te` may only say "trailers"
CONNECTION_FIELDS = frozenset({"connection", "keep-alive", "proxy-connection", "transfer-encoding", "upgrade", "host"})
_HTTP1_ONLY = frozenset({"content-length"})  # framing is HTTP/2's own; a stale length would be wrong after changes


def config(*, client_side: bool) -> h2.config.H2Configuration:
    """Received header blocks are checked by `decode` below (`h2codec.inbound`: RFC 9113 8.2-8.3 in one pass, the
    same verdicts as h2's validation, held to them by a property test); outbound ones are built by `encode` (lower-case
    names, no connection-specific fields, no CR/LF/NUL). h2's own per-field generators, in and out, were a third of
    its per-frame cost when profiled."""
    return h2.config.H2Configuration(
        client_side=client_side,
        header_encoding=None,
        validate_inbound_headers=False,
        normalize_inbound_headers=False,
        validate_outbound_headers=False,
        normalize_outbound_headers=False,
    )


def local_settings(conn: h2.connection.H2Connection) -> None:
    conn.update_settings(
        {
            h2.settings.SettingCodes.MAX_CONCURRENT_STREAMS: MAX_CONCURRENT_STREAMS,
            h2.settings.SettingCodes.INITIAL_WINDOW_SIZE: STREAM_WINDOW,
            h2.settings.SettingCodes.MAX_HEADER_LIST_SIZE: MAX_HEADER_LIST_SIZE,
            h2.settings.SettingCodes.ENABLE_PUSH: 0,
        }
    )
    conn.increment_flow_control_window(CONNECTION_WINDOW - 65535)


def decode(fields: Iterable[tuple[bytes, bytes]], kind: BlockKind) -> tuple[dict[str, str], Headers]:
    """Pseudo-header fields and the others, names lower-case; raises MalformedHeaders (a ProtocolError: the
    connection ends with GOAWAY PROTOCOL_ERROR) for a block h2's validation would refuse."""
    pseudo, pairs = inbound(fields, kind)
    return pseudo, Headers.lowered(pairs)


def encode(headers: Headers) -> list[tuple[bytes, bytes]]:
    """Fields to send on an HTTP/2 hop: connection-specific ones dropped, `te` only as "trailers". Bytes, back in
    the latin-1 they were decoded from (h2 would encode a str as UTF-8 and change any byte above 0x7f)."""
    out: list[tuple[bytes, bytes]] = []
    for name, value in headers:
        if name in CONNECTION_FIELDS or name in _HTTP1_ONLY or name.startswith(":"):
            continue
        if name == "te" and value.strip().lower() != "trailers":
            continue
        if "\r" in value or "\n" in value or "\x00" in value:
            continue  # never forward a field h2 would reject mid-stream
        out.append((latin1(name), latin1(value)))
    return out


def latin1(text: str) -> bytes:
    try:
        return text.encode("latin-1")
    except UnicodeEncodeError:  # set by configuration, never received: UTF-8 as h2 would
        return text.encode("utf-8")


def connection(*, client_side: bool) -> FastConnection:
    """An h2 state machine with the sidecar's configuration, the short way for plain frames (h2fast) and the
    stateless header encoder."""
    conn = FastConnection(config(client_side=client_side))
    conn.encoder = StatelessEncoder()
    decoder = PlainDecoder()  # before any SETTINGS, which set their limits on this one
    decoder.max_header_list_size = conn.decoder.max_header_list_size
    decoder.max_allowed_table_size = conn.decoder.max_allowed_table_size
    conn.decoder = decoder
    return conn


class H2Wire:
    """The connection's state machine, its transport and the waiting senders; subclasses handle events."""

    def __init__(self, conn: FastConnection) -> None:
        self.conn = conn
        self.transport: asyncio.Transport | None = None
        self.loop = asyncio.get_running_loop()
        self.closed = False
        self._flush_pending = False
        self._window_waiters: list[asyncio.Future[None]] = []
        self._paused = False
        self._drain_waiters: list[asyncio.Future[None]] = []

    def attach(self, transport: asyncio.BaseTransport) -> None:
        self.transport = typing.cast(asyncio.Transport, transport)

    # --- writes
    def flush(self) -> None:
        self._flush_pending = False
        data = self.conn.data_to_send()
        if data and self.transport is not None and not self.transport.is_closing():
            self.transport.write(data)

    def flush_soon(self) -> None:
        if not self._flush_pending:
            self._flush_pending = True
            self.loop.call_soon(self.flush)

    def pause_writing(self) -> None:
        self._paused = True

    def resume_writing(self) -> None:
        self._paused = False
        _wake_all(self._drain_waiters)

    def window_opened(self) -> None:
        _wake_all(self._window_waiters)

    def lost(self) -> None:
        self.closed = True
        _wake_all(self._window_waiters)
        _wake_all(self._drain_waiters)

    def fits(self, stream_id: int, size: int) -> bool:
        """Whether `size` bytes can go out now in one DATA frame on this stream."""
        if self.closed:
            return False
        try:
            window = self.conn.local_flow_control_window(stream_id)
        except (h2.exceptions.StreamClosedError, h2.exceptions.NoSuchStreamError, KeyError):
            return False
        return size <= window and size <= self.conn.max_outbound_frame_size

    async def send_data(self, stream_id: int, data: bytes) -> None:
        """Send `data` on a stream as the peer's windows allow; raises StreamReset when the stream or the
        connection goes away first."""
        conn = self.conn
        view = memoryview(data)
        while view:
            if self.closed:
                raise StreamReset("the connection closed")
            try:
                window = conn.local_flow_control_window(stream_id)
            except (h2.exceptions.StreamClosedError, h2.exceptions.NoSuchStreamError, KeyError):
                raise StreamReset("the stream was reset") from None
            size = min(window, len(view), conn.max_outbound_frame_size)
            if size <= 0:
                await self._wait(self._window_waiters)
                continue
            try:
                conn.send_body(stream_id, view[:size].tobytes())
            except h2.exceptions.StreamClosedError:
                raise StreamReset("the stream was reset") from None
            view = view[size:]
            self.flush_soon()
            if self._paused:
                self.flush()
                await self._wait(self._drain_waiters)

    async def _wait(self, waiters: list[asyncio.Future[None]]) -> None:
        fut = self.loop.create_future()
        waiters.append(fut)
        try:
            await fut
        finally:
            if fut in waiters:
                waiters.remove(fut)

    def reset(self, stream_id: int, code: int = h2.errors.ErrorCodes.CANCEL) -> None:
        """RST_STREAM, if the stream is still open on our side (cancellation travels as a reset)."""
        try:
            self.conn.reset_stream(stream_id, code)
        except (h2.exceptions.StreamClosedError, h2.exceptions.NoSuchStreamError, h2.exceptions.ProtocolError):
            return
        self.flush_soon()


def _wake_all(waiters: list[asyncio.Future[None]]) -> None:
    for fut in waiters:
        if not fut.done():
            fut.set_result(None)
    waiters.clear()
