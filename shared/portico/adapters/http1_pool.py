"""HTTP/1.1 client connections to peers, pooled per upstream host with keep-alive and cluster-wide limits."""

from __future__ import annotations

import asyncio
import contextlib
import ssl
import typing
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import httptools

from portico.adapters.resolve import Resolver, checked_addresses, system_resolver
from portico.core.headers import Headers
from portico.core.http import Request, Response
from portico.core.mesh.circuit import CircuitBreaker
from portico.core.ports import UpstreamConnectError, UpstreamError, UpstreamTimeout

MAX_RESPONSE_BYTES = 64 * 1024 * 1024


class UpstreamReset(UpstreamError):
    """The upstream closed the connection before a whole response arrived."""


class PoolOverflow(UpstreamError):
    """The cluster's connection and pending limits are both reached: fail fast (circuit breaking)."""


def encode_request(req: Request, path: str, host: str) -> bytes:
    target = path + (f"?{req.raw_query}" if req.raw_query else "")
    lines = [f"{req.method} {target} HTTP/1.1", f"host: {host}"]
    lines += [f"{k}: {v}" for k, v in req.headers if k != "host"]
    if req.body or req.method in ("POST", "PUT", "PATCH"):
        lines.append(f"content-length: {len(req.body)}")
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + req.body


class UpstreamConnection(asyncio.Protocol):
    """One keep-alive connection; one request at a time (no pipelining: a failure could not be attributed)."""

    def __init__(self) -> None:
        self.transport: asyncio.Transport | None = None
        self.closed = False
        self.uses = 0
        self._waiter: asyncio.Future[Response] | None = None
        self._parser = httptools.HttpResponseParser(self)
        self._headers: list[tuple[str, str]] = []
        self._body: list[bytes] = []
        self._size = 0
        self._keep_alive = True
        self._head = False

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = typing.cast(asyncio.Transport, transport)  # uvloop's transports do not subclass it

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        if self._waiter is not None and not self._waiter.done():
            self._waiter.set_exception(UpstreamReset("upstream closed the connection mid-response"))

    def data_received(self, data: bytes) -> None:
        try:
            self._parser.feed_data(data)
        except httptools.HttpParserError as exc:
            self._fail(UpstreamReset(f"malformed upstream response: {exc}"))

    def on_header(self, name: bytes, value: bytes) -> None:
        self._headers.append((name.decode("latin-1").lower(), value.decode("latin-1")))

    def on_headers_complete(self) -> None:
        if self._head:  # a HEAD response has no body whatever its Content-Length says
            self._keep_alive = False
            self._complete()

    def on_body(self, body: bytes) -> None:
        self._size += len(body)
        if self._size > MAX_RESPONSE_BYTES:
            raise UpstreamReset("upstream response body is too large")
        self._body.append(body)

    def on_message_complete(self) -> None:
        self._keep_alive = bool(self._parser.should_keep_alive())
        self._complete()

    def _complete(self) -> None:
        if self._waiter is not None and not self._waiter.done():
            status = self._parser.get_status_code()
            self._waiter.set_result(Response(status=status, headers=Headers(self._headers), body=b"".join(self._body)))

    def _fail(self, exc: Exception) -> None:
        if self._waiter is not None and not self._waiter.done():
            self._waiter.set_exception(exc)
        self.close()

    @property
    def reusable(self) -> bool:
        return not self.closed and self._keep_alive and self.transport is not None and not self.transport.is_closing()

    def send(self, data: bytes, head: bool) -> asyncio.Future[Response]:
        assert self.transport is not None
        self._parser = httptools.HttpResponseParser(self)
        self._headers, self._body, self._size, self._head = [], [], 0, head
        self._waiter = asyncio.get_running_loop().create_future()
        self.uses += 1
        self.transport.write(data)
        return self._waiter

    def close(self) -> None:
        self.closed = True
        if self.transport is not None:
            self.transport.close()


@dataclass(slots=True)
class PoolSettings:
    connect_timeout: float = 10.0
    idle_timeout: float = 3600.0
    max_requests_per_connection: int = 0
    # mTLS: a context, or a callable giving the current one (rotation: each new connection takes the newest)
    ssl_context: ssl.SSLContext | Callable[[], ssl.SSLContext] | None = None
    server_hostname: str | None = None
    # mTLS: called with (ssl_object, expected_peer) after each handshake; raising refuses the connection.
    # The peer is checked by its SPIFFE ID, not its hostname, so `expected_peer` is the destination service.
    peer_check: Callable[[Any, str], object] | None = None
    expected_peer: str | None = None
    # telemetry: told "ok", "failed" (TLS error) or "rejected" (wrong peer identity) after each TLS connect
    on_handshake: Callable[[str], None] | None = None
    # Every dial is checked at connect time (adapters/resolve.py): metadata and link-local addresses are always
    # refused. Loopback stays allowed here: peers come from the registry and the app from the sidecar's own flags,
    # and on one development host every sidecar is on 127.0.0.1.
    allow_loopback: bool = True
    resolver: Resolver | None = None


class HostPool:
    """Connections to one upstream host. Connection and pending counts are the cluster's (shared breaker)."""

    def __init__(self, host: str, port: int, breaker: CircuitBreaker, settings: PoolSettings) -> None:
        self.host, self.port = host, port
        self.breaker = breaker
        self.settings = settings
        self._idle: list[tuple[UpstreamConnection, float]] = []
        self._waiters: deque[asyncio.Future[None]] = deque()
        self.open = 0

    async def request(self, req: Request, path: str, host_header: str, timeout: float | None) -> Response:
        conn = await self._acquire()
        ok = False
        try:
            fut = conn.send(encode_request(req, path, host_header), head=req.method == "HEAD")
            try:
                resp = await asyncio.wait_for(fut, timeout)
            except TimeoutError as exc:
                raise UpstreamTimeout(f"no response from {self.host}:{self.port} within {timeout}s") from exc
            limit = self.settings.max_requests_per_connection
            ok = conn.reusable and (limit == 0 or conn.uses < limit)
            return resp
        finally:
            self._release(conn, reuse=ok)

    async def _acquire(self) -> UpstreamConnection:
        loop = asyncio.get_running_loop()
        while True:
            while self._idle:
                conn, _ = self._idle.pop()
                if conn.reusable:
                    return conn
                self._forget(conn)
            if self.breaker.connections < self.breaker.limits.max_connections:
                return await self._connect()
            if not self.breaker.try_pending():
                raise PoolOverflow("connection and pending-request limits reached")
            waiter: asyncio.Future[None] = loop.create_future()
            self._waiters.append(waiter)
            try:
                await asyncio.wait_for(waiter, self.settings.connect_timeout)
            except TimeoutError as exc:
                raise PoolOverflow("timed out waiting for a pooled connection") from exc
            finally:
                self.breaker.release_pending()
                with contextlib.suppress(ValueError):
                    self._waiters.remove(waiter)

    async def _connect(self) -> UpstreamConnection:
        self.breaker.connections += 1
        self.open += 1
        loop = asyncio.get_running_loop()
        s = self.settings
        ctx = s.ssl_context() if callable(s.ssl_context) else s.ssl_context
        try:
            # the checked address itself is dialled, so a second lookup cannot rebind the name (UpstreamRefused)
            allowed = await checked_addresses(
                self.host, self.port, s.resolver or system_resolver, allow_loopback=s.allow_loopback
            )
        except UpstreamError:
            self._dec()
            raise
        try:
            transport, conn = await asyncio.wait_for(
                loop.create_connection(
                    UpstreamConnection,
                    allowed[0],
                    self.port,
                    ssl=ctx,
                    server_hostname=(s.server_hostname or self.host) if ctx else None,
                ),
                s.connect_timeout,
            )
        except (TimeoutError, OSError) as exc:  # ssl.SSLError (a failed handshake) is an OSError
            self._dec()
            if isinstance(exc, ssl.SSLError) and s.on_handshake is not None:
                s.on_handshake("failed")
            raise UpstreamConnectError(f"cannot connect to {self.host}:{self.port}: {exc}") from exc
        if ctx is not None and s.peer_check is not None:
            try:
                s.peer_check(transport.get_extra_info("ssl_object"), s.expected_peer or self.host)
            except Exception as exc:  # the server is not who we meant to call: never send it a request
                transport.close()
                self._dec()
                if s.on_handshake is not None:
                    s.on_handshake("rejected")
                raise UpstreamConnectError(f"refused {self.host}:{self.port}: {exc}") from exc
        if ctx is not None and s.on_handshake is not None:
            s.on_handshake("ok")
        return conn

    def _release(self, conn: UpstreamConnection, *, reuse: bool) -> None:
        if reuse:
            self._idle.append((conn, asyncio.get_running_loop().time()))
        else:
            conn.close()
            self._forget(conn)
        while self._waiters:
            waiter = self._waiters.popleft()
            if not waiter.done():
                waiter.set_result(None)
                break

    def _forget(self, conn: UpstreamConnection) -> None:
        conn.close()
        self._dec()

    def _dec(self) -> None:
        self.breaker.connections = max(0, self.breaker.connections - 1)
        self.open = max(0, self.open - 1)

    def reap_idle(self, now: float) -> None:
        """Close connections idle longer than idleTimeout (called from the sidecar's housekeeping tick)."""
        keep = []
        for conn, since in self._idle:
            if conn.reusable and now - since < self.settings.idle_timeout:
                keep.append((conn, since))
            else:
                self._forget(conn)
        self._idle = keep

    def close(self) -> None:
        for conn, _ in self._idle:
            self._forget(conn)
        self._idle = []
