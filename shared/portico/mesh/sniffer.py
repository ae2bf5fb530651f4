"""A listener connection that has not yet said which HTTP version it speaks: ALPN, else its first bytes, decide
(core.mesh.sniff.speaks), then the connection is handed to that version's protocol with the bytes read so far."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

from portico.core.mesh.sniff import PREFACE, speaks
from portico.mesh.http1 import ConnectionTracker


class ProtocolSniffer(asyncio.Protocol):
    """Costs one extra `data_received` call per connection; the chosen protocol then owns the transport."""

    def __init__(
        self,
        http1: Callable[[], asyncio.Protocol],
        http2: Callable[[], asyncio.Protocol],
        timeout: float,
        tracker: ConnectionTracker,
        max_connections: int,
    ) -> None:
        self._factories = {"http/1.1": http1, "h2": http2}
        self._timeout = timeout
        self._tracker = tracker
        self._max = max_connections
        self._transport: asyncio.BaseTransport | None = None
        self._head = b""
        self._timer: asyncio.TimerHandle | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self._transport = transport
        if len(self._tracker.connections) >= self._max:
            self._hand_over("http/1.1")  # HTTP/1.1's answer to one connection too many: 503, then close
            return
        self._tracker.add(self)  # a connection still being sniffed counts against the listener's cap too
        ssl_object = transport.get_extra_info("ssl_object")
        alpn = ssl_object.selected_alpn_protocol() if ssl_object is not None else None
        chosen = speaks(alpn, b"") if alpn else None
        if chosen is not None:
            self._hand_over(chosen)
            return
        # a client that never sends its first bytes holds no socket past the request headers timeout
        self._timer = asyncio.get_running_loop().call_later(self._timeout, transport.close)

    def data_received(self, data: bytes) -> None:
        self._head += data
        chosen = speaks(None, self._head[: len(PREFACE)])
        if chosen is not None:
            self._hand_over(chosen)

    def eof_received(self) -> bool | None:
        if self._transport is not None:
            self._transport.close()
        return None

    def connection_lost(self, exc: Exception | None) -> None:
        self._tracker.discard(self)
        if self._timer is not None:
            self._timer.cancel()

    def close_if_idle(self) -> None:
        if self._transport is not None:
            self._transport.close()

    def _hand_over(self, chosen: str) -> None:
        self._tracker.discard(self)
        if self._timer is not None:
            self._timer.cancel()
        transport = self._transport
        assert transport is not None
        protocol = self._factories[chosen]()
        transport.set_protocol(protocol)
        protocol.connection_made(transport)
        if self._head and not transport.is_closing():
            protocol.data_received(self._head)
        self._head = b""
