"""The one place where listening sockets (and, for mTLS, their SSLContext) are set up."""

from __future__ import annotations

import asyncio
import ssl
import typing
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from portico.mesh.alpn import AlpnRoutes, AlpnSwitch
from portico.mesh.http1 import ConnectionTracker, HttpServerProtocol, RequestHandler, ServerLimits

if TYPE_CHECKING:
    from portico.mesh.h2server import H2Handler


@dataclass(slots=True)
class Listener:
    name: str
    server: asyncio.Server
    tracker: ConnectionTracker

    @property
    def port(self) -> int:
        return int(self.server.sockets[0].getsockname()[1])


async def listen(
    name: str,
    handler: RequestHandler,
    host: str,
    port: int,
    *,
    ssl_context: ssl.SSLContext | None = None,
    limits: ServerLimits | None = None,
    on_tls: Callable[[Any], None] | None = None,
    h2: H2Handler | None = None,
    alpn: AlpnRoutes | None = None,
) -> Listener:
    """Bind `host:port` (0 = a free port). Pass `ssl_context` to serve TLS; with a context that sets
    `verify_mode = CERT_REQUIRED`, the peer certificate reaches filters through ConnInfo.peer_cert. With `h2`, the
    listener also serves HTTP/2 (ALPN `h2`, or prior knowledge): each connection is sniffed (mesh/sniffer.py)."""
    tracker = ConnectionTracker()
    tracker.on_tls = on_tls  # set before the socket accepts, so no handshake goes uncounted
    lim = limits or ServerLimits()
    loop = asyncio.get_running_loop()

    def http1() -> asyncio.Protocol:
        # a BufferedProtocol (uvloop reads into its buffer only when it is not an asyncio.Protocol) that also takes
        # data_received, which is all the sniffer's hand-over calls
        return typing.cast(asyncio.Protocol, HttpServerProtocol(handler, lim, tracker))

    # `h2`: HTTP/2 too, by ALPN h2 or the h2c preface (mesh/sniffer.py)
    http = _sniffing(http1, h2, lim, tracker) if h2 is not None else http1
    # `alpn`: other protocols on the same TLS port, chosen by the negotiated ALPN (mesh/alpn.py)
    factory: Callable[[], asyncio.BaseProtocol] = (lambda: AlpnSwitch(http, alpn, on_tls)) if alpn else http
    server = await loop.create_server(
        factory,
        host,
        port,
        ssl=ssl_context,
        ssl_handshake_timeout=lim.tls_handshake_timeout if ssl_context is not None else None,
        reuse_address=True,
        backlog=1024,
    )
    return Listener(name, server, tracker)


def _sniffing(
    http1: Callable[[], asyncio.Protocol], h2: H2Handler, lim: ServerLimits, tracker: ConnectionTracker
) -> Callable[[], asyncio.Protocol]:
    from portico.mesh.sniffer import ProtocolSniffer

    def http2() -> asyncio.Protocol:
        # h2 loads on the first connection that speaks HTTP/2 (ALPN h2 or the h2c preface), not before
        from portico.mesh.h2server import H2ServerProtocol

        return H2ServerProtocol(h2, lim, tracker)

    return lambda: ProtocolSniffer(http1, http2, lim.header_timeout, tracker, lim.max_connections)
