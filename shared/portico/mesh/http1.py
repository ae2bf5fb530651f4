"""HTTP/1.1 server protocol on llhttp (httptools): strict parsing, size limits, in-order keep-alive responses.

The one HTTP/1 server of the product: the sidecar's listeners and the local front door both run it, so both answer
the same raw bytes the same way (tests/e2e/test_http1_hardening.py holds them to one table).
Anything ambiguous about message framing is answered with 400 and the connection is closed, because a proxy that
reads a message differently from the next hop is how request smuggling works. Slow clients are bounded: a request's
headers must arrive within `header_timeout` (Envoy's request_headers_timeout), and a listener holds at most
`max_connections` (Envoy's listener connection limit); see docs/mesh.md "Listener limits".
"""

from __future__ import annotations

import asyncio
import logging
import typing
from collections import deque
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, replace
from typing import Any

import httptools

from portico.adapters.read_buffer import READ_BUFFER
from portico.core.authority import invalid_host
from portico.core.headers import Headers
from portico.core.http import Request, Response
from portico.core.mesh.hop import invalid_field
from portico.core.problem import problem

log = logging.getLogger("portico.mesh.http1")

RequestHandler = Callable[[Request, "ConnInfo"], Awaitable[Response]]

_REASONS = {
    200: "OK",
    201: "Created",
    204: "No Content",
    400: "Bad Request",
    404: "Not Found",
    413: "Content Too Large",
}
_REASONS |= {431: "Request Header Fields Too Large", 500: "Internal Server Error", 502: "Bad Gateway"}
_REASONS |= {503: "Service Unavailable", 504: "Gateway Timeout", 501: "Not Implemented", 405: "Method Not Allowed"}
_REASONS |= {408: "Request Timeout"}
# An h2c upgrade is ignored (RFC 9110 7.8 lets a server do so) and the request is served as HTTP/1.1; these fields
# only make sense to a server that switches protocols, so they are dropped with it.
_UPGRADE_FIELDS = frozenset({b"upgrade", b"connection", b"http2-settings"})


@dataclass(frozen=True, slots=True)
class ServerLimits:
    """Envoy's defaults: 60 KiB of request headers and 100 fields. Bodies are buffered, so they are capped too."""

    max_header_bytes: int = 60 * 1024
    max_headers: int = 100
    max_body_bytes: int = 16 * 1024 * 1024
    keepalive_timeout: float = 300.0
    # From a connection's start (after any TLS handshake) or a request's first byte to the end of its headers.
    header_timeout: float = 10.0
    # Open connections per listener; one more is answered 503 and closed (Envoy's listener connection limit).
    max_connections: int = 4096
    tls_handshake_timeout: float = 10.0  # a TLS client that never finishes its handshake holds no socket longer


def limits_from_env(env: Mapping[str, str], base: ServerLimits | None = None) -> ServerLimits:
    """`base` with PORTICO_REQUEST_HEADERS_TIMEOUT, PORTICO_MAX_CONNECTIONS and PORTICO_TLS_HANDSHAKE_TIMEOUT
    applied; raises ValueError naming the variable when a value is not a positive number."""
    limits = base or ServerLimits()
    changes: dict[str, float | int] = {}
    for var, attr, kind in _LIMIT_VARS:
        raw = env.get(var, "").strip()
        if not raw:
            continue
        try:
            value = kind(raw)
        except ValueError:
            value = 0
        if not value > 0:
            raise ValueError(f"{var} must be a {'whole ' if kind is int else ''}number above 0, got {raw!r}")
        changes[attr] = value
    return replace(limits, **changes)  # type: ignore[arg-type]


_LIMIT_VARS: tuple[tuple[str, str, type[int] | type[float]], ...] = (
    ("PORTICO_REQUEST_HEADERS_TIMEOUT", "header_timeout", float),
    ("PORTICO_MAX_CONNECTIONS", "max_connections", int),
    ("PORTICO_TLS_HANDSHAKE_TIMEOUT", "tls_handshake_timeout", float),
)


@dataclass(slots=True)
class ConnInfo:
    """What the listener knows about the connection; the mTLS layer adds the verified peer certificate here."""

    peer: tuple[str, int] | None
    tls: bool = False
    peer_cert: dict[str, Any] | None = None
    peer_der: bytes | None = None  # the verified peer certificate itself (the front door passes it on as PEM)
    # what the inbound PeerIdentityFilter concluded from peer_cert: worked out on the connection's first request
    # and kept, since a connection's certificate cannot change
    peer_identity: Any = None


class _Reject(Exception):
    def __init__(self, status: int, detail: str) -> None:
        super().__init__(detail)
        self.status = status
        self.detail = detail


def reason(status: int) -> str:
    return _REASONS.get(status, "Unknown")


def serialize(resp: Response, *, close: bool, head: bool = False) -> bytes:
    """Status line, headers and body; framing is always our own Content-Length, never the upstream's."""
    lines = [f"HTTP/1.1 {resp.status} {reason(resp.status)}"]
    for k, v in resp.headers:
        if k not in ("content-length", "transfer-encoding", "connection"):
            lines.append(f"{k}: {v}")
    if resp.status not in (204, 304) and not (100 <= resp.status < 200):
        lines.append(f"content-length: {len(resp.body)}")
    if close:
        lines.append("connection: close")
    out = ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")
    return out if head else out + resp.body


class HttpServerProtocol(asyncio.BufferedProtocol):
    """One connection. Requests are handled one at a time, in order, so pipelined responses cannot reorder.

    Reads arrive through get_buffer/buffer_updated (the shared buffer); data_received takes the bytes a protocol
    sniffer or an h2c upgrade hands over."""

    def __init__(self, handler: RequestHandler, limits: ServerLimits, tracker: ConnectionTracker) -> None:
        self._handler = handler
        self._limits = limits
        self._tracker = tracker
        self._parser = httptools.HttpRequestParser(self)
        self._transport: asyncio.Transport | None = None
        self._info = ConnInfo(peer=None)
        # requests in arrival order; a Response here is a refusal that must follow the answers queued before it
        self._queue: deque[tuple[Request | Response, bool]] = deque()
        self._busy = False
        self._closing = False
        self._done_reading = False
        self._reset_message()
        self._unparsed_head = 0
        # One timer per connection for both deadlines (request headers, keep-alive idle), re-armed only when it
        # fires before the deadline in force: setting a deadline per request is then two attribute writes, not a
        # timer created and cancelled twice per request (see _on_timer).
        self._loop = asyncio.get_running_loop()
        self._timer: asyncio.TimerHandle | None = None
        self._deadline = 0.0
        self._waiting_for: typing.Literal["head", "idle"] | None = None
        self._h2c: tuple[bytes, bytes, list[tuple[bytes, bytes]]] | None = None  # an ignored upgrade's head

    # --- connection events
    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self._transport = typing.cast(asyncio.Transport, transport)  # uvloop's transports do not subclass it
        peer = transport.get_extra_info("peername")
        ssl_object = transport.get_extra_info("ssl_object")
        self._info = ConnInfo(
            peer=tuple(peer[:2]) if peer else None,
            tls=ssl_object is not None,
            peer_cert=ssl_object.getpeercert() if ssl_object is not None else None,
            peer_der=ssl_object.getpeercert(binary_form=True) if ssl_object is not None else None,
        )
        if ssl_object is not None and self._tracker.on_tls is not None:
            self._tracker.on_tls(ssl_object)  # the handshake completed (asyncio calls this only after it)
        if len(self._tracker.connections) >= self._limits.max_connections:
            self._tracker.overflow += 1
            self._write(problem(503, "this listener has too many open connections; retry shortly"), close=True)
            self._close()
            return
        self._tracker.add(self)
        self._expect_head()  # a new connection owes its first request's headers within header_timeout

    def connection_lost(self, exc: Exception | None) -> None:
        self._closing = True
        self._tracker.discard(self)
        self._waiting_for = None
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None

    def get_buffer(self, sizehint: int) -> memoryview:
        return READ_BUFFER

    def buffer_updated(self, nbytes: int) -> None:
        self.data_received(READ_BUFFER[:nbytes])  # httptools copies what it hands to the callbacks

    def data_received(self, data: bytes | memoryview) -> None:
        if self._closing or self._done_reading:
            return
        if not self._headers_done:
            self._unparsed_head += len(data)
        try:
            self._parser.feed_data(data)
            # llhttp buffers a field until it is complete, so a never-ending header is cut off by raw byte count;
            # the exact count is kept in on_header. Twice the limit leaves room for pipelined bytes in one read.
            if not self._headers_done and self._unparsed_head > 2 * self._limits.max_header_bytes:
                raise _Reject(431, "request headers are too large")
        except _Reject as rej:
            self._reject(rej.status, rej.detail)
        except httptools.HttpParserUpgrade as upgrade:
            self._upgrade(bytes(data[upgrade.args[0] :]) if upgrade.args else b"")
        except httptools.HttpParserError as exc:
            cause = exc.__context__
            if isinstance(cause, _Reject):
                self._reject(cause.status, cause.detail)
            else:
                self._reject(400, f"malformed HTTP/1.1 request: {exc}")

    # --- parser callbacks
    def _reset_message(self) -> None:
        self._url = b""
        self._headers: list[tuple[bytes, bytes]] = []
        self._lowered: list[tuple[bytes, bytes]] = []
        self._body: list[bytes] = []
        self._body_len = 0
        self._header_bytes = 0
        self._headers_done = False

    def on_message_begin(self) -> None:
        self._reset_message()
        if self._waiting_for != "head":  # a first request's deadline runs from the connection's start
            self._expect_head()

    def on_url(self, url: bytes) -> None:
        self._url += url
        self._header_bytes += len(url)

    def on_header(self, name: bytes, value: bytes) -> None:
        if len(self._headers) >= self._limits.max_headers:
            raise _Reject(431, "too many request header fields")
        why = invalid_field(name, value)
        if why:
            raise _Reject(400, why)
        self._header_bytes += len(name) + len(value) + 4
        if self._header_bytes > self._limits.max_header_bytes:
            raise _Reject(431, "request headers are too large")
        self._headers.append((name, value))

    def on_headers_complete(self) -> None:
        self._headers_done = True
        self._waiting_for = None
        if self._header_bytes > self._limits.max_header_bytes:
            raise _Reject(431, "request headers are too large")
        lowered = self._lowered = [(n.lower(), v) for n, v in self._headers]
        cls = [v for n, v in lowered if n == b"content-length"]
        tes = [v for n, v in lowered if n == b"transfer-encoding"]
        if cls and tes:
            raise _Reject(400, "Content-Length together with Transfer-Encoding")
        if len(cls) > 1:
            raise _Reject(400, "more than one Content-Length")
        if cls and not cls[0].isdigit():
            raise _Reject(400, "invalid Content-Length")
        if tes and (len(tes) > 1 or tes[0].strip().lower() != b"chunked"):
            raise _Reject(400, "only a single 'Transfer-Encoding: chunked' is accepted")
        hosts = [v for n, v in lowered if n == b"host"]
        if len(hosts) > 1:
            raise _Reject(400, "more than one Host")
        # RFC 9112 3.2: an HTTP/1.1 request without Host, or with an invalid one, is answered 400
        if not hosts and self._parser.get_http_version() == "1.1":
            raise _Reject(400, "an HTTP/1.1 request needs a Host header")
        why = invalid_host(hosts[0].decode("latin-1")) if hosts else None
        if why:
            raise _Reject(400, why)
        if self._parser.should_upgrade():
            self._note_upgrade(lowered)

    def on_body(self, body: bytes) -> None:
        self._body_len += len(body)
        if self._body_len > self._limits.max_body_bytes:
            raise _Reject(413, "request body is too large")
        self._body.append(body)

    def on_message_complete(self) -> None:
        self._headers_done = False
        self._unparsed_head = 0
        if self._parser.should_upgrade():
            return  # llhttp stops at the head of an upgrade; data_received answers it (see _upgrade)
        req = self._build_request()
        self._queue.append((req, bool(self._parser.should_keep_alive())))
        if not self._busy:
            self._busy = True
            self._loop.create_task(self._drain_queue())

    def _build_request(self) -> Request:
        method = self._parser.get_method().decode("ascii")
        # httptools' stub types every URL field as present (bytes, int); an absent one is None. Read as Any into
        # honest types: compiled code checks annotations at run time (docs/native.md).
        url: Any = httptools.parse_url(self._url)
        url_path: bytes | None = url.path
        url_query: bytes | None = url.query
        url_host: bytes | None = url.host
        url_port: int | None = url.port
        url_schema: bytes | None = url.schema
        # names as on_headers_complete lowered them (llhttp accepts only ASCII token characters in a name)
        headers = Headers.lowered([(n.decode("latin-1"), v.decode("latin-1")) for n, v in self._lowered])
        raw_path = (url_path or b"/").decode("latin-1")
        raw_query = (url_query or b"").decode("latin-1")
        host = headers.get("host", "") or ""
        if url_host:  # absolute-form (HTTP_PROXY style): the URL's authority wins over Host (RFC 9112 3.2.2)
            host = url_host.decode("latin-1") + (f":{url_port}" if url_port else "")
        query = [tuple(p.split("=", 1)) if "=" in p else (p, "") for p in raw_query.split("&") if p]
        return Request(
            method=method,
            path=raw_path,
            query=query,  # type: ignore[arg-type]
            headers=headers,
            body=b"".join(self._body),
            source_ip=self._info.peer[0] if self._info.peer else "",
            scheme=(url_schema or b"http").decode("ascii"),
            host=host,
            raw_query=raw_query,
        )

    # --- protocol upgrades
    def _note_upgrade(self, lowered: list[tuple[bytes, bytes]]) -> None:
        """Keep the head of an h2c upgrade so it can be served as plain HTTP/1.1; anything else gets 501."""
        method = self._parser.get_method()
        tokens = {t.strip().lower() for n, v in lowered if n == b"upgrade" for t in v.split(b",") if t.strip()}
        if method != b"CONNECT" and tokens == {b"h2c"}:
            kept = [(n, v) for n, v in self._headers if n.lower() not in _UPGRADE_FIELDS]
            self._h2c = (method, self._url, kept)

    def _upgrade(self, rest: bytes) -> None:
        if self._h2c is None:
            self._reject(501, "protocol upgrades (CONNECT, WebSocket) are not supported")
            return
        # llhttp hands over everything after an upgrade's head, body included. Replaying the head without the
        # upgrade fields into a fresh parser reads that body and any pipelined request as HTTP/1.1 again.
        method, url, headers = self._h2c
        self._h2c = None
        head = b"%s %s HTTP/1.1\r\n" % (method, url) + b"".join(b"%s: %s\r\n" % nv for nv in headers) + b"\r\n"
        self._parser = httptools.HttpRequestParser(self)
        self.data_received(head + rest)

    # --- responding
    async def _drain_queue(self) -> None:
        try:
            while self._queue and not self._closing:
                req, keep_alive = self._queue.popleft()
                if isinstance(req, Response):
                    self._write(req, close=True)
                    self._close()
                    return
                self._tracker.in_flight += 1
                try:
                    resp = await self._handler(req, self._info)
                except Exception:  # never a stack trace on the wire; the log keeps it
                    log.exception("handler failed for %s %s", req.method, req.path)
                    resp = problem(500, "the proxy failed to handle this request")
                finally:
                    self._tracker.in_flight -= 1
                close = not keep_alive or self._tracker.draining
                self._write(resp, close=close, head=req.method == "HEAD")
                if close:
                    self._close()
                    return
        finally:
            self._busy = False
            self._arm_idle()

    def _write(self, resp: Response, *, close: bool, head: bool = False) -> None:
        if self._transport is not None and not self._transport.is_closing():
            self._transport.write(serialize(resp, close=close, head=head))

    def _reject(self, status: int, detail: str) -> None:
        """Refuse and close; requests read before the bad bytes are still answered first, in order."""
        self._tracker.rejected += 1
        self._done_reading = True
        if self._busy or self._queue:
            self._queue.append((problem(status, detail), False))
            if self._transport is not None:
                self._transport.pause_reading()
            return
        self._write(problem(status, detail), close=True)
        self._close()

    def _close(self) -> None:
        self._closing = True
        if self._transport is not None:
            self._transport.close()

    def _arm_idle(self) -> None:
        if self._closing or self._busy:
            return
        self._wait("idle", self._limits.keepalive_timeout)

    def _expect_head(self) -> None:
        self._wait("head", self._limits.header_timeout)

    def _wait(self, what: typing.Literal["head", "idle"], seconds: float) -> None:
        now = self._loop.time()
        self._waiting_for, self._deadline = what, now + seconds
        if self._timer is None:
            # never later than header_timeout from now: a request may begin any moment, and its head deadline
            # must find the timer armed no later than it
            self._timer = self._loop.call_at(now + min(seconds, self._limits.header_timeout), self._on_timer)

    def _on_timer(self) -> None:
        self._timer = None
        what = self._waiting_for
        if self._closing or what is None:
            return  # busy with a request: the response arms it again
        now = self._loop.time()
        if now < self._deadline:
            self._timer = self._loop.call_at(min(self._deadline, now + self._limits.header_timeout), self._on_timer)
        elif what == "idle":
            self._close()
        elif not self._headers_done:
            self._head_timeout()

    def _head_timeout(self) -> None:
        self._tracker.header_timeouts += 1
        self._reject(408, f"request headers not received within {self._limits.header_timeout:g}s")

    def close_if_idle(self) -> None:
        """Used by drain: idle keep-alive connections are closed; a busy one closes after its response."""
        if not self._busy and not self._queue:
            self._close()


class Drainable(typing.Protocol):
    """A server connection of any HTTP version, as drain sees it."""

    def close_if_idle(self) -> None: ...


class ConnectionTracker:
    """The open connections and in-flight requests of one listener, so drain can wait for them to finish."""

    def __init__(self) -> None:
        self.connections: set[Drainable] = set()
        self.in_flight = 0
        self.rejected = 0  # requests answered 4xx/5xx by the protocol itself (malformed, too large, timed out)
        self.overflow = 0  # connections refused by max_connections
        self.header_timeouts = 0
        self.draining = False
        self.on_tls: Callable[[Any], None] | None = None  # told of each completed TLS handshake (telemetry)

    def add(self, conn: Drainable) -> None:
        self.connections.add(conn)

    def discard(self, conn: Drainable) -> None:
        self.connections.discard(conn)

    def start_draining(self) -> None:
        self.draining = True
        for conn in list(self.connections):
            conn.close_if_idle()
