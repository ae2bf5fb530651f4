"""Counts TLS handshakes for /stats: inbound on the mTLS listener, outbound in the peer connection pools.

Inbound, asyncio tells the app protocol only about handshakes that completed. A ClientHello is seen earlier, in
the listening context's SNI callback (OpenSSL runs it for every hello, with or without SNI). A connection whose
TLS object is freed without having completed therefore failed: a plaintext client never sends a hello and is not
counted here (the peer gets the TLS alert or a reset; see `portico_tls_handshakes_total` in docs/observability.md).
"""

from __future__ import annotations

import ssl
import weakref
from typing import Any

from portico.core.telemetry.prometheus import Registry

HANDSHAKES = "portico_tls_handshakes_total"


class HandshakeCounter:
    def __init__(self, registry: Registry) -> None:
        self._registry = registry
        self._pending: set[int] = set()

    def count(self, listener: str, result: str) -> None:
        self._registry.inc(HANDSHAKES, (("listener", listener), ("result", result)))

    def watch(self, context: ssl.SSLContext) -> None:
        """Wrap the listening context's SNI callback so every inbound ClientHello is noted."""
        inner = context.sni_callback

        def hello(ssl_object: Any, server_name: Any, ctx: ssl.SSLContext) -> int | None:
            self._hello(ssl_object)
            return inner(ssl_object, server_name, ctx) if inner is not None else None

        context.sni_callback = hello

    def _hello(self, ssl_object: Any) -> None:
        key = id(ssl_object)
        if key in self._pending:
            return
        self._pending.add(key)
        # freed while still pending = the handshake never completed (bad certificate, other CA, expired, ...)
        weakref.finalize(ssl_object, self._freed, key)

    def _freed(self, key: int) -> None:
        if key in self._pending:
            self._pending.discard(key)
            self.count("inbound", "failed")

    def inbound_done(self, ssl_object: Any) -> None:
        self._pending.discard(id(ssl_object))
        self.count("inbound", "ok")

    def outbound(self, result: str) -> None:
        self.count("outbound", result)
