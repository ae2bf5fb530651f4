"""The one HTTP/1.1 upstream client (implements core.ports.Transport): keep-alive pools per host, cluster-wide limits.

Why httptools (llhttp, Node's parser): it is C, several times faster per response than h11, and strict about framing
(no request smuggling through lenient parsing). Connections are asyncio Protocols, not streams: one callback per read.

One client serves one cluster (a mesh service + subset, or the edge's http upstreams): the connection count and the
pending-request count are the cluster's, kept in its CircuitBreaker, while idle connections are kept per host. A
freed slot wakes a waiter of any host that can use it, closing an idle connection to another host when the cluster
is at its limit (the pool never waits for capacity that an idle connection elsewhere is holding).

Every dial goes through adapters/resolve.py's check at connect time, to the checked address itself, so a name that
resolves to a metadata or link-local address is refused even if the config-time check passed. Redirects are
returned, never followed.
"""

from __future__ import annotations

import asyncio
import contextlib
import ssl
import typing
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import httptools

from portico.adapters.read_buffer import READ_BUFFER
from portico.adapters.resolve import Resolver, checked_addresses, system_resolver
from portico.core.headers import Headers
from portico.core.http import Request, Response
from portico.core.mesh.circuit import CircuitBreaker, Limits
from portico.core.ports import UpstreamConnectError, UpstreamOverflow, UpstreamReset, UpstreamTimeout
from portico.core.upstream.retry import IDEMPOTENT_METHODS

MAX_RESPONSE_BYTES = 64 * 1024 * 1024
_SKIP = frozenset({"host", "content-length", "transfer-encoding"})  # framing is always our own


@dataclass(slots=True)
class ClientSettings:
    """How one client dials. `tls` is a context or a callable giving the current one (rotation: each new connection
    takes the newest); it is used for https:// origins."""

    connect_timeout: float = 10.0
    idle_timeout: float = 90.0
    max_requests_per_connection: int = 0  # 0: unlimited
    max_idle_per_host: int = 32
    allow_loopback: bool = False
    resolver: Resolver = system_resolver
    tls: ssl.SSLContext | Callable[[], ssl.SSLContext] | None = None
    # mTLS: called with (ssl_object, expected_peer) after each handshake; raising refuses the connection. The peer
    # is checked by its SPIFFE ID, not its hostname, so `expected_peer` is the destination service.
    peer_check: Callable[[Any, str], object] | None = None
    expected_peer: str | None = None
    # telemetry: told "ok", "failed" (TLS error) or "rejected" (wrong peer identity) after each TLS connect
    on_handshake: Callable[[str], None] | None = None


def encode_request(request: Request, target: str) -> bytes:
    """Request line, the request's own header fields (a value with CR or LF is dropped: no header injection) and
    our Content-Length."""
    lines = [f"{request.method} {target} HTTP/1.1"]
    host = request.headers.get("host")
    if host is not None and "\r" not in host and "\n" not in host:
        lines.append(f"host: {host}")  # first, where every server looks for it
    for name, value in request.headers:
        if name in _SKIP or "\r" in value or "\n" in value:
            continue
        lines.append(f"{name}: {value}")
    body = request.body
    if body or request.method in ("POST", "PUT", "PATCH"):
        lines.append(f"content-length: {len(body)}")
    head = ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1", "replace")
    return head + body if body else head


class _Stale(Exception):
    """A reused connection closed before answering a byte: the keep-alive race, safe to try once on a fresh one."""


class _Connection(asyncio.BufferedProtocol):
    """One keep-alive connection; one request at a time (no pipelining: a failure could not be attributed)."""

    def __init__(self) -> None:
        self.transport: asyncio.Transport | None = None
        self.loop = asyncio.get_running_loop()  # made by the loop's create_connection, inside it
        self.closed = False
        self.uses = 0
        self.idle_since = 0.0
        self._waiter: asyncio.Future[Response] | None = None
        self._parser = httptools.HttpResponseParser(self)
        self._headers: list[tuple[str, str]] = []
        self._body: list[bytes] = []
        self._size = 0
        self._received = 0
        self._keep_alive = True
        self._head = False
        self._headers_done = False

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = typing.cast(asyncio.Transport, transport)  # uvloop's transports do not subclass it

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        if self._waiter is not None and not self._waiter.done():
            if self._headers_done and not self._parser.should_keep_alive():
                self._keep_alive = False  # a body delimited by the connection closing (no length, not chunked)
                self._complete()
            elif self._received == 0 and self.uses > 1:
                self._waiter.set_exception(_Stale())
            else:
                self._waiter.set_exception(UpstreamReset("the upstream closed the connection mid-response"))

    def get_buffer(self, sizehint: int) -> memoryview:
        return READ_BUFFER

    def buffer_updated(self, nbytes: int) -> None:
        self.data_received(READ_BUFFER[:nbytes])  # httptools copies what it hands to the callbacks

    def data_received(self, data: bytes | memoryview) -> None:
        self._received += len(data)
        try:
            self._parser.feed_data(data)
        except httptools.HttpParserError as exc:
            self._fail(UpstreamReset(f"malformed upstream response: {exc}"))

    def on_header(self, name: bytes, value: bytes) -> None:
        self._headers.append((name.decode("latin-1").lower(), value.decode("latin-1")))

    def on_headers_complete(self) -> None:
        self._headers_done = True
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
        waiter = self._waiter
        if waiter is not None and not waiter.done():
            body = self._body[0] if len(self._body) == 1 else b"".join(self._body)
            waiter.set_result(Response(self._parser.get_status_code(), Headers.lowered(self._headers), body))

    def _fail(self, exc: Exception) -> None:
        if self._waiter is not None and not self._waiter.done():
            self._waiter.set_exception(exc)
        self.close()

    def time_out(self) -> None:
        self._fail(UpstreamTimeout("no response within the try's timeout"))

    @property
    def reusable(self) -> bool:
        return not self.closed and self._keep_alive and self.transport is not None and not self.transport.is_closing()

    def send(self, data: bytes, head: bool) -> asyncio.Future[Response]:
        assert self.transport is not None
        if self.uses:
            self._parser = httptools.HttpResponseParser(self)
            self._headers, self._body, self._size, self._received = [], [], 0, 0
            self._headers_done = False
        self._head = head
        self._waiter = self.loop.create_future()
        self.uses += 1
        self.transport.write(data)
        return self._waiter

    def close(self) -> None:
        self.closed = True
        if self.transport is not None:
            self.transport.close()


@dataclass(slots=True)
class _Host:
    scheme: str
    host: str
    port: int
    idle: list[_Connection] = field(default_factory=list)
    open: int = 0


class Http1Client:
    """Implements core.ports.Transport for one cluster. `breaker` carries the cluster's connection limits and
    counts (a config reload swaps its limits in place)."""

    def __init__(self, settings: ClientSettings | None = None, breaker: CircuitBreaker | None = None) -> None:
        self.settings = settings or ClientSettings()
        self.breaker = breaker or CircuitBreaker(Limits())
        self._hosts: dict[str, _Host] = {}
        self._waiters: deque[tuple[_Host, asyncio.Future[None]]] = deque()
        self._default_tls: ssl.SSLContext | None = None

    async def send(self, request: Request, url: str, timeout: float | None) -> Response:
        origin, target = _split(url)
        host = self._hosts.get(origin) or self._add_host(origin)
        loop = asyncio.get_running_loop()
        deadline = None if timeout is None else loop.time() + timeout
        data = encode_request(request, target)
        head = request.method == "HEAD"
        try:
            return await self._exchange(host, data, head, deadline, fresh=False)
        except _Stale:
            if request.method not in IDEMPOTENT_METHODS:  # it may have been processed: the engine decides
                raise UpstreamReset("the pooled connection was closed by the upstream") from None
            try:
                return await self._exchange(host, data, head, deadline, fresh=True)
            except _Stale:
                raise UpstreamReset("the upstream closed a fresh connection without answering") from None

    async def _exchange(self, host: _Host, data: bytes, head: bool, deadline: float | None, *, fresh: bool) -> Response:
        conn = None if fresh else self._idle(host)  # the common case, without another coroutine
        if conn is None:
            conn = await self._acquire(host, deadline, fresh)
        loop = conn.loop
        reuse = False
        timer = None
        try:
            waiter = conn.send(data, head)
            if deadline is not None:
                timer = loop.call_at(deadline, conn.time_out)
            response = await waiter
            limit = self.settings.max_requests_per_connection
            reuse = conn.reusable and (limit == 0 or conn.uses < limit)
            return response
        finally:
            if timer is not None:
                timer.cancel()
            self._release(host, conn, reuse=reuse)

    def _add_host(self, origin: str) -> _Host:
        scheme, _, authority = origin.partition("://")
        name, port = _authority(authority, 443 if scheme == "https" else 80)
        found = self._hosts[origin] = _Host(scheme, name, port)
        return found

    def _idle(self, host: _Host) -> _Connection | None:
        while host.idle:
            conn = host.idle.pop()
            if conn.reusable:
                return conn
            self._forget(host, conn)
        return None

    async def _acquire(self, host: _Host, deadline: float | None, fresh: bool) -> _Connection:
        breaker = self.breaker
        while True:
            conn = None if fresh else self._idle(host)
            if conn is not None:
                return conn
            if breaker.connections < breaker.limits.max_connections or self._evict_idle():
                return await self._connect(host, deadline)
            if not breaker.try_pending():
                raise UpstreamOverflow("connection and pending-request limits reached")
            waiter: asyncio.Future[None] = asyncio.get_running_loop().create_future()
            entry = (host, waiter)
            self._waiters.append(entry)
            try:
                await asyncio.wait_for(waiter, self._wait_limit(deadline))
            except TimeoutError as exc:
                raise UpstreamOverflow("timed out waiting for a pooled connection") from exc
            finally:
                breaker.release_pending()
                with contextlib.suppress(ValueError):
                    self._waiters.remove(entry)

    def _system_tls(self) -> ssl.SSLContext:
        if self._default_tls is None:  # loading the CA store costs milliseconds: once per client
            self._default_tls = ssl.create_default_context()
        return self._default_tls

    def _wait_limit(self, deadline: float | None) -> float:
        wait = self.settings.connect_timeout
        if deadline is not None:
            wait = min(wait, max(0.0, deadline - asyncio.get_running_loop().time()))
        return wait

    def _evict_idle(self) -> bool:
        """At the connection limit, close one idle connection (to any host) so a new one may be opened."""
        for host in self._hosts.values():
            if host.idle:
                self._forget(host, host.idle.pop(0))
                return True
        return False

    async def _connect(self, host: _Host, deadline: float | None) -> _Connection:
        self.breaker.connections += 1
        host.open += 1
        s = self.settings
        loop = asyncio.get_running_loop()
        ctx = None
        if host.scheme == "https":
            ctx = s.tls() if callable(s.tls) else (s.tls or self._system_tls())
        limit = s.connect_timeout
        remaining = None if deadline is None else deadline - loop.time()
        if remaining is not None and remaining < limit:
            limit = max(remaining, 0.0)
        try:
            async with asyncio.timeout(limit):
                addresses = await checked_addresses(host.host, host.port, s.resolver, allow_loopback=s.allow_loopback)
                transport, conn = await self._dial(host, addresses, ctx)
        except TimeoutError:
            self._lost_slot(host)
            if remaining is not None and remaining <= s.connect_timeout:
                raise UpstreamTimeout(f"no connection to {host.host}:{host.port} within the try's timeout") from None
            raise UpstreamConnectError(f"cannot connect to {host.host}:{host.port} within {limit:g}s") from None
        except BaseException:
            self._lost_slot(host)
            raise
        if ctx is not None and s.peer_check is not None:
            try:
                s.peer_check(transport.get_extra_info("ssl_object"), s.expected_peer or host.host)
            except Exception as exc:  # the server is not who we meant to call: never send it a request
                transport.close()
                self._lost_slot(host)
                if s.on_handshake is not None:
                    s.on_handshake("rejected")
                raise UpstreamConnectError(f"refused {host.host}:{host.port}: {exc}") from exc
        if ctx is not None and s.on_handshake is not None:
            s.on_handshake("ok")
        return conn

    async def _dial(
        self, host: _Host, addresses: list[str], ctx: ssl.SSLContext | None
    ) -> tuple[asyncio.BaseTransport, _Connection]:
        loop = asyncio.get_running_loop()
        last: OSError | None = None
        for address in addresses:  # the checked address itself, so a second lookup cannot rebind the name
            try:
                return await loop.create_connection(
                    _Connection, address, host.port, ssl=ctx, server_hostname=host.host if ctx else None
                )
            except OSError as exc:  # ssl.SSLError (a failed handshake) is an OSError
                last = exc
                if isinstance(exc, ssl.SSLError) and self.settings.on_handshake is not None:
                    self.settings.on_handshake("failed")
        raise UpstreamConnectError(f"cannot connect to {host.host}:{host.port}: {last}")

    def _release(self, host: _Host, conn: _Connection, *, reuse: bool) -> None:
        if reuse and len(host.idle) < self.settings.max_idle_per_host:
            conn.idle_since = conn.loop.time()
            host.idle.append(conn)
        else:
            self._forget(host, conn)
            return
        self._wake(host)

    def _wake(self, freed: _Host | None) -> None:
        """Wake the waiter that can use what was freed: one of the same host first, else the oldest of any host
        (it takes free capacity, or closes an idle connection to make room)."""
        waiters = self._waiters
        if not waiters:
            return
        chosen = None
        if freed is not None:
            chosen = next((w for w in waiters if w[0] is freed and not w[1].done()), None)
        if chosen is None:
            chosen = next((w for w in waiters if not w[1].done()), None)
        if chosen is not None:
            waiters.remove(chosen)
            chosen[1].set_result(None)

    def _forget(self, host: _Host, conn: _Connection) -> None:
        conn.close()
        self._lost_slot(host)

    def _lost_slot(self, host: _Host) -> None:
        self.breaker.connections = max(0, self.breaker.connections - 1)
        host.open = max(0, host.open - 1)
        self._wake(None)

    @property
    def open_connections(self) -> int:
        return self.breaker.connections

    def reap_idle(self, now: float) -> None:
        """Close connections idle longer than idle_timeout (`now` is the event loop's clock)."""
        for host in self._hosts.values():
            keep = []
            for conn in host.idle:
                if conn.reusable and now - conn.idle_since < self.settings.idle_timeout:
                    keep.append(conn)
                else:
                    self._forget(host, conn)
            host.idle = keep

    def retain(self, origins: set[str]) -> None:
        """Close idle connections to hosts not in `origins` (instances that left the registry)."""
        for origin in [o for o in self._hosts if o not in origins]:
            host = self._hosts[origin]
            for conn in host.idle:
                self._forget(host, conn)
            host.idle = []
            if host.open == 0:
                del self._hosts[origin]

    def close(self) -> None:
        for host in self._hosts.values():
            for conn in host.idle:
                self._forget(host, conn)
            host.idle = []


def _split(url: str) -> tuple[str, str]:
    """`scheme://authority/path?q` -> (`scheme://authority`, `/path?q`) without a full URL parse per request."""
    start = url.find("://") + 3
    slash = url.find("/", start)
    query = url.find("?", start)
    cut = len(url)  # comparisons, not min() over a generator: this runs for every request
    if slash >= 0:
        cut = slash
    if 0 <= query < cut:
        cut = query
    target = url[cut:] or "/"
    if target.startswith("?"):
        target = "/" + target
    return url[:cut], target


def _authority(authority: str, default_port: int) -> tuple[str, int]:
    authority = authority.rpartition("@")[2].lower()  # userinfo is never sent; names compare case-insensitively
    if authority.startswith("["):  # an IPv6 literal
        end = authority.find("]")
        rest = authority[end + 1 :]
        return authority[1:end], int(rest[1:]) if rest.startswith(":") else default_port
    name, _, port = authority.rpartition(":")
    if name and port.isdigit():
        return name, int(port)
    return authority, default_port
