"""One proxied opaque-TCP connection: the app's plain socket joined to the mTLS hop, bytes pumped both ways.

Each side is an asyncio BufferedProtocol reading into its own 256 KiB buffer (no per-read allocation on the
receive path). Flow control is end to end: when one side's transport buffers past its high-water mark, the other
side stops reading until it drains, so a fast sender never grows the sidecar's memory. Half-close is carried:
the app's FIN becomes an end frame (l4frame.END), and an end frame becomes write_eof() toward the app. The pipe
closes when both directions have ended, when either socket is lost, or when it stayed idle past idle_timeout.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
import typing
from collections.abc import Callable
from typing import Any

from portico.core.mesh.l4frame import END, FrameDecoder, FrameError
from portico.core.telemetry.prometheus import Labels, Registry

READ_SIZE = 256 * 1024
EARLY_LIMIT = 16 * 1024  # bytes held before a stream is routed (a ClientHello fits)
HIGH_WATER = 1024 * 1024


SENT = "portico_tcp_sent_bytes_total"  # client -> server, as Istio's istio_tcp_sent_bytes_total
RECEIVED = "portico_tcp_received_bytes_total"  # server -> client


_POOL: list[bytearray] = []
POOL_SIZE = 16  # spare read buffers kept for new streams (a fresh 256 KiB buffer is zeroed); 4 MiB at most


def _buffer() -> bytearray:
    return _POOL.pop() if _POOL else bytearray(4 + READ_SIZE)


def _release(buf: bytearray) -> None:
    if len(buf) == 4 + READ_SIZE and len(_POOL) < POOL_SIZE:  # only pool buffers go back (not placeholders)
        _POOL.append(buf)


class Flow:
    """Byte counts of one stream, added to /stats as they pass (`registry`), and kept for the access log."""

    __slots__ = ("_down", "_labels", "_registry", "_up", "from_app", "to_app")

    def __init__(self, registry: Registry | None = None, labels: Labels = (), app_is_client: bool = True) -> None:
        self.from_app = 0  # bytes the app sent into the mesh
        self.to_app = 0  # bytes the mesh delivered to the app
        self._registry = registry
        self._labels = labels
        self._up, self._down = (SENT, RECEIVED) if app_is_client else (RECEIVED, SENT)

    def app_sent(self, n: int) -> None:
        self.from_app += n
        if self._registry is not None:
            self._registry.inc(self._up, self._labels, n)

    def app_got(self, n: int) -> None:
        self.to_app += n
        if self._registry is not None:
            self._registry.inc(self._down, self._labels, n)


class Pipe:
    """Joins `app` (plain) and `mesh` (mTLS, framed). Create the sides, then `join` when both are connected."""

    def __init__(
        self, on_close: Callable[[Pipe], None], idle_timeout: float | None = None, flow: Flow | None = None
    ) -> None:
        self.app = AppSide(self)
        self.mesh = MeshSide(self)
        self.flow = flow or Flow()
        self.labels: Labels = ()  # the stream's metric labels, once it is routed
        self.key: tuple[str, str | None] | None = None  # the cluster whose connection count it holds
        self.on_close = on_close
        self.idle_timeout = idle_timeout if idle_timeout else None
        self.app_done = False  # the app half-closed: the end frame went to the mesh
        self.mesh_done = False  # the peer half-closed: write_eof went to the app
        self.closed = False
        self.joined = False
        self._loop = asyncio.get_running_loop()
        self._last = self._loop.time()
        self._timer: asyncio.TimerHandle | None = None
        self._expiry: asyncio.TimerHandle | None = None

    def expire_after(self, seconds: float) -> None:
        """DestinationRule maxConnectionDuration: the stream is reset at this age."""
        self._expiry = self._loop.call_later(seconds, self.abort)

    def join(self) -> None:
        """Both transports are up: send what the app wrote meanwhile, then let bytes flow."""
        self.joined = True
        if self.app.early:
            self.mesh.send(bytes(self.app.early))
            self.app.early.clear()
        if self.app.eof_pending:
            self.app.finish()
        if self.app.transport is not None and not self.closed:
            self.app.transport.resume_reading()
        if self.idle_timeout is not None:
            self._timer = self._loop.call_later(self.idle_timeout, self._check_idle)

    def touch(self) -> None:
        self._last = self._loop.time()

    def _check_idle(self) -> None:
        if self.closed or self.idle_timeout is None:
            return
        quiet = self._loop.time() - self._last
        if quiet >= self.idle_timeout:
            self.abort()
        else:
            self._timer = self._loop.call_later(self.idle_timeout - quiet, self._check_idle)

    def maybe_finish(self) -> None:
        if self.app_done and self.mesh_done:
            self.close()

    def close(self) -> None:
        """Both directions ended cleanly: flush and close both sockets."""
        if self.closed:
            return
        self._end()
        for t in (self.app.transport, self.mesh.transport):
            if t is not None:
                t.close()

    def abort(self) -> None:
        """Something broke (or idle timeout): reset both sides so neither mistakes it for a clean end."""
        if self.closed:
            return
        self._end()
        for t in (self.app.transport, self.mesh.transport):
            if t is not None:
                t.abort()

    def _end(self) -> None:
        self.closed = True
        for handle in (self._timer, self._expiry):
            if handle is not None:
                handle.cancel()
        self.on_close(self)


class AppSide(asyncio.BufferedProtocol):
    """The app's plain socket: whatever it reads goes to the mesh as one frame (header written in place)."""

    def __init__(self, pipe: Pipe) -> None:
        self.pipe = pipe
        self.transport: asyncio.Transport | None = None
        self._buf = bytearray(4)  # the read buffer comes from the pool once connected (connection_made)
        self._view = memoryview(self._buf)
        self._tail = self._view[4:]
        self.early = bytearray()  # bytes read before the mesh side joined (a ClientHello to route by SNI)
        self.reading_early = False  # read before joining (outbound /tls upstreams); else wait paused
        self.eof_pending = False
        self._loop = asyncio.get_running_loop()
        self.connected: asyncio.Future[None] = self._loop.create_future()
        self._more: asyncio.Future[None] | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = typing.cast(asyncio.Transport, transport)  # uvloop's transports do not subclass it
        self.transport.set_write_buffer_limits(high=HIGH_WATER)
        self._buf = _buffer()
        self._view = memoryview(self._buf)
        self._tail = self._view[4:]
        _nodelay(transport)
        if not self.pipe.joined and not self.reading_early:
            self.transport.pause_reading()
        if not self.connected.done():
            self.connected.set_result(None)

    def get_buffer(self, sizehint: int) -> memoryview:
        return self._tail

    def buffer_updated(self, nbytes: int) -> None:
        pipe = self.pipe
        if not pipe.joined:
            self.early += self._tail[:nbytes]
            if len(self.early) >= EARLY_LIMIT and self.transport is not None:
                self.transport.pause_reading()  # bounded: what routing needs has arrived by now, or never will
            self._wake()
            return
        pipe.flow.app_sent(nbytes)
        pipe.touch()
        mesh = pipe.mesh.transport
        if mesh is not None:
            self._buf[0:4] = nbytes.to_bytes(4, "big")
            mesh.write(bytes(self._view[: 4 + nbytes]))  # a copy: the TLS transport may hold on to it

    def _give_back(self) -> None:
        """The transport is gone, so nothing reads into the buffer any more: another stream may use it."""
        self._tail.release()
        self._view.release()
        _release(self._buf)
        self._buf = bytearray(4)
        self._view = memoryview(self._buf)
        self._tail = self._view[4:]

    async def more(self) -> None:
        """Until the next read (or EOF) of a connection not yet joined."""
        self._more = self._loop.create_future()
        await self._more

    def _wake(self) -> None:
        if self._more is not None and not self._more.done():
            self._more.set_result(None)

    def eof_received(self) -> bool:
        if not self.pipe.joined:
            self.eof_pending = True
            self._wake()
            return True
        self.finish()
        return True  # keep the socket open: the other direction may still be flowing

    def finish(self) -> None:
        pipe = self.pipe
        if pipe.mesh.transport is not None and not pipe.app_done:
            pipe.mesh.transport.write(END)
        pipe.app_done = True
        pipe.maybe_finish()

    def pause_writing(self) -> None:
        if self.pipe.mesh.transport is not None:
            self.pipe.mesh.transport.pause_reading()

    def resume_writing(self) -> None:
        if self.pipe.mesh.transport is not None and not self.pipe.closed:
            self.pipe.mesh.transport.resume_reading()

    def connection_lost(self, exc: Exception | None) -> None:
        if not self.connected.done():
            self.connected.set_exception(ConnectionError("the app connection closed"))
        self._wake()
        self._give_back()
        pipe = self.pipe
        if not pipe.closed:
            if exc is None and pipe.mesh_done and pipe.app_done:
                pipe.close()
            else:
                pipe.abort()


class MeshSide(asyncio.BufferedProtocol):
    """The mTLS hop: frames in, raw bytes out to the app; the end frame is the peer's half-close."""

    def __init__(self, pipe: Pipe) -> None:
        self.pipe = pipe
        self.transport: asyncio.Transport | None = None
        self._buf = bytearray()  # from the pool once connected: a dial attempt that fails never takes one
        self._view = memoryview(self._buf)
        self.decoder = FrameDecoder()
        self.raw: Callable[[memoryview], None] | None = None  # inbound: the preamble reader, before frames

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = typing.cast(asyncio.Transport, transport)
        self.transport.set_write_buffer_limits(high=HIGH_WATER)
        self._buf = _buffer()
        self._view = memoryview(self._buf)[:READ_SIZE]

    def send(self, data: bytes) -> None:
        if self.transport is not None and data:
            self.pipe.flow.app_sent(len(data))
            self.transport.write(len(data).to_bytes(4, "big") + data)

    def get_buffer(self, sizehint: int) -> memoryview:
        return self._view

    def buffer_updated(self, nbytes: int) -> None:
        if self.raw is not None:
            self.raw(self._view[:nbytes])
            return
        self.frames(self._view[:nbytes])

    def frames(self, data: memoryview) -> None:
        pipe = self.pipe
        app = pipe.app.transport
        if app is None or pipe.closed:
            return
        pipe.touch()
        write = app.write
        count = pipe.flow.app_got

        def emit(payload: memoryview) -> None:
            write(bytes(payload))  # a copy: uvloop queues what it cannot send at once, and this buffer is reused
            count(len(payload))

        try:
            ended = self.decoder.feed(data, emit)
        except FrameError:
            pipe.abort()
            return
        if ended and not pipe.mesh_done:
            pipe.mesh_done = True
            if app.can_write_eof():
                app.write_eof()
            pipe.maybe_finish()

    def eof_received(self) -> bool | None:
        # close_notify without the end frame: the stream was cut, not finished
        if self.pipe.mesh is self and not self.pipe.mesh_done:
            self.pipe.abort()
        return None

    def pause_writing(self) -> None:
        if self.pipe.app.transport is not None:
            self.pipe.app.transport.pause_reading()

    def resume_writing(self) -> None:
        if self.pipe.app.transport is not None and self.pipe.joined and not self.pipe.closed:
            self.pipe.app.transport.resume_reading()

    def _give_back(self) -> None:
        """The transport is gone, so nothing reads into the buffer any more: another stream may use it."""
        self._view.release()
        _release(self._buf)
        self._buf = bytearray()
        self._view = memoryview(self._buf)

    def connection_lost(self, exc: Exception | None) -> None:
        self._give_back()
        pipe = self.pipe
        if pipe.mesh is not self:  # a dial attempt that was given up
            return
        if not pipe.closed:
            if exc is None and pipe.mesh_done and pipe.app_done:
                pipe.close()
            else:
                pipe.abort()


def _nodelay(transport: asyncio.BaseTransport) -> None:
    sock: Any = transport.get_extra_info("socket")
    if sock is not None:
        with contextlib.suppress(OSError):
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
