"""The inbound mTLS listener speaks more than one protocol: the ALPN the peer negotiated picks which.

asyncio creates the app protocol before the handshake and calls connection_made after it, so the switch reads the
negotiated ALPN there and hands the transport to the protocol registered for it (set_protocol), or to the HTTP/1.1
protocol it was built with. After the hand-over the switch is out of the data path.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Mapping
from typing import Any

# an ALPN value -> a protocol for the connection (given the transport, so it can read the peer certificate)
AlpnRoutes = Mapping[str, Callable[[asyncio.BaseTransport], asyncio.BaseProtocol]]


class AlpnSwitch(asyncio.Protocol):
    def __init__(
        self,
        default: Callable[[], asyncio.BaseProtocol],
        routes: AlpnRoutes,
        on_tls: Callable[[Any], None] | None = None,
    ) -> None:
        self._default = default
        self._routes = routes
        self._on_tls = on_tls

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        ssl_object = transport.get_extra_info("ssl_object")
        chosen = ssl_object.selected_alpn_protocol() if ssl_object is not None else None
        make = self._routes.get(chosen) if chosen is not None else None
        if make is None:
            protocol = self._default()  # HTTP/1.1 counts its own handshake (ConnectionTracker.on_tls)
        else:
            if ssl_object is not None and self._on_tls is not None:
                self._on_tls(ssl_object)
            protocol = make(transport)
        transport.set_protocol(protocol)
        protocol.connection_made(transport)

    def connection_lost(self, exc: Exception | None) -> None:  # only before the hand-over (never, in practice)
        pass
