"""The data of one HTTP/2 stream as it arrives (chunks, then trailers or a reset), and the response that streams it.

Flow control is the reader's pace: a chunk's bytes are acknowledged to the sender (WINDOW_UPDATE) only when the
reader takes it, so a slow reader holds at most one stream window of data per stream, never more.
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass

from portico.core.headers import Headers
from portico.core.http import Response
from portico.core.ports import UpstreamReset


class StreamReset(UpstreamReset):
    """The stream ended without its END_STREAM: the peer reset it, or the connection went away."""

    def __init__(self, detail: str, code: int = 0) -> None:
        super().__init__(detail)
        self.code = code


class H2Body:
    """Chunks of one stream in arrival order; `trailers` is set once the stream has ended with them."""

    __slots__ = ("_chunks", "_consumed", "_ended", "_error", "_waiter", "received", "trailers")

    def __init__(self, consumed: Callable[[int], None] | None = None) -> None:
        self._chunks: deque[bytes] = deque()
        self._consumed = consumed
        self._ended = False
        self._error: Exception | None = None
        self._waiter: asyncio.Future[None] | None = None
        self.trailers: Headers | None = None
        self.received = 0

    @classmethod
    def of(cls, data: bytes) -> H2Body:
        """A body that is already whole (an HTTP/1 request or a local reply carried on HTTP/2)."""
        body = cls()
        if data:
            body.feed(data, 0)
        body.end()
        return body

    # --- the connection's side
    def feed(self, data: bytes, flow: int) -> None:
        """`flow` is what the frame counted against the window (padding included): acknowledged when read."""
        self.received += len(data)
        self._chunks.append(data)
        if flow > len(data) and self._consumed is not None:
            self._consumed(flow - len(data))  # padding is nobody's to read: give it back at once
        self._wake()

    def end(self, trailers: Headers | None = None) -> None:
        self._ended = True
        self.trailers = trailers
        self._wake()

    def fail(self, exc: Exception) -> None:
        if not self._ended:
            self._error = exc
            self._ended = True
            self._wake()

    @property
    def ended(self) -> bool:
        return self._ended

    @property
    def failed(self) -> bool:
        return self._error is not None

    def _wake(self) -> None:
        waiter = self._waiter
        if waiter is not None and not waiter.done():
            waiter.set_result(None)

    # --- the reader's side
    async def read(self) -> bytes | None:
        """The next chunk, or None at the end; raises StreamReset if the stream was reset."""
        while not self._chunks:
            if self._error is not None:
                raise self._error
            if self._ended:
                return None
            self._waiter = asyncio.get_running_loop().create_future()
            try:
                await self._waiter
            finally:
                self._waiter = None
        chunk = self._chunks.popleft()
        if self._consumed is not None:
            self._consumed(len(chunk))
        return chunk

    def take_all(self) -> bytes | None:
        """Everything left, at once, if the stream has ended cleanly (a unary request has, by the time it is routed);
        None while more may come or after a reset."""
        if not self._ended or self._error is not None:
            return None
        chunks = self._chunks
        if not chunks:
            return b""
        data = chunks[0] if len(chunks) == 1 else b"".join(chunks)
        chunks.clear()
        if self._consumed is not None:
            self._consumed(len(data))
        return data

    # An async iterator of its own chunks, not an async generator: mypyc does not compile async generators
    # (docs/native.md).
    def __aiter__(self) -> H2Body:
        return self

    async def __anext__(self) -> bytes:
        chunk = await self.read()
        if chunk is None:
            raise StopAsyncIteration
        return chunk

    async def readall(self, limit: int) -> bytes:
        """The whole body (for an HTTP/1 hop), refused past `limit` bytes."""
        parts: list[bytes] = []
        size = 0
        while (chunk := await self.read()) is not None:
            size += len(chunk)
            if size > limit:
                raise ValueError(f"body larger than {limit} bytes")
            parts.append(chunk)
        return b"".join(parts)


class ReplayBody:
    """A request body that a retry can send again: what was read is kept up to `limit` bytes (Envoy's
    per_request_buffer_limit); past it, `replayable` turns False and the engine makes the outcome final."""

    __slots__ = ("_kept", "_limit", "_size", "_source", "replayable")

    def __init__(self, source: H2Body, limit: int) -> None:
        self._source = source
        self._limit = limit
        self._kept: list[bytes] = []
        self._size = 0
        self.replayable = True

    def chunks(self) -> AsyncIterator[bytes]:
        """What was kept so far, then the rest as it arrives (one reader at a time: tries do not overlap)."""
        return _Replay(self, deque(self._kept))

    def _keep(self, chunk: bytes) -> None:
        if self.replayable:
            self._size += len(chunk)
            if self._size > self._limit:
                self.replayable = False
                self._kept.clear()
            else:
                self._kept.append(chunk)

    def whole(self) -> bytes | None:
        """The whole body at once when the request has ended already (`H2Body.take_all`), kept for a retry as
        `chunks` keeps it; None while it is still arriving."""
        rest = self._source.take_all()
        if rest is None:
            return None
        data = b"".join([*self._kept, rest]) if self._kept else rest
        if rest:
            self._keep(rest)
        return data

    @property
    def trailers(self) -> Headers | None:
        return self._source.trailers


class _Replay:
    """One try's reading of a ReplayBody: the chunks kept when it began, then the source's, each kept for the next."""

    __slots__ = ("_body", "_kept")

    def __init__(self, body: ReplayBody, kept: deque[bytes]) -> None:
        self._body = body
        self._kept = kept

    def __aiter__(self) -> _Replay:
        return self

    async def __anext__(self) -> bytes:
        if self._kept:
            return self._kept.popleft()
        body = self._body
        chunk = await body._source.read()
        if chunk is None:
            raise StopAsyncIteration
        body._keep(chunk)
        return chunk


@dataclass(slots=True)
class StreamedResponse(Response):
    """A response whose body is read from `stream` (and whose trailers arrive at its end); `body` stays empty.
    `cancel` resets the upstream stream when the caller goes away before the end; past `deadline` (the event
    loop's clock) the stream is ended for the caller and reset upstream."""

    stream: H2Body | None = None
    cancel: Callable[[], None] | None = None
    deadline: float | None = None
