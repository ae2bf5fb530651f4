"""The embedded endpoint's HTTP/1.1 server: one asyncio loop (llhttp via httptools), moto's WSGI app on threads.

werkzeug's development server spends ~0.5 ms of CPU per request and runs a thread per connection; with 32 busy
clients those threads convoy on the GIL and the endpoint lock (p99 > 300 ms measured). Here one event loop parses
every connection. DynamoDB calls that the fast path understands are answered on the loop itself when the lock is
free (~0.1 ms, no thread switch); everything else, and a fast-path call that finds the lock taken, runs moto's
WSGI app on a small thread pool, as werkzeug would have (a Lambda Invoke may call back into this endpoint, which
is why the loop never blocks on moto).
"""

from __future__ import annotations

import asyncio
import contextlib
import io
import sys
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from typing import Any
from urllib.parse import unquote, urlsplit

import httptools

WsgiApp = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]
# (the x-amz-target, authorization and content-encoding headers, body) -> an answer, or None for moto to answer
FastAnswer = Callable[[dict[str, str], bytes], "tuple[str, list[tuple[str, str]], bytes] | None"]
_FAST_HEADERS = frozenset({"x-amz-target", "authorization", "content-encoding"})
_MAX_BODY = 64 * 1024 * 1024  # S3 uploads in tests and deploy-local stay far below this
_PRESERVED = "moto.preserved_header_names"


def _latin1(text: str) -> str:
    return text.encode("utf-8").decode("latin-1")  # PEP 3333's "native string" for non-ASCII paths, as werkzeug


class _Request:
    __slots__ = ("body", "headers", "keep_alive", "method", "url")

    def __init__(self) -> None:
        self.url = b""
        self.method = "GET"
        self.keep_alive = True
        self.headers: list[tuple[str, str]] = []
        self.body: list[bytes] = []


class _Connection(asyncio.Protocol):
    def __init__(self, front: Front) -> None:
        self._front = front
        self._parser = httptools.HttpRequestParser(self)
        self._transport: asyncio.Transport | None = None
        self._current = _Request()
        self._queue: asyncio.Queue[_Request | None] = asyncio.Queue()
        self._size = 0
        self._task: asyncio.Task[None] | None = None
        self._pending = 0  # requests queued or being served by _serve: a fast answer must not overtake them

    # asyncio.Protocol
    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self._transport = transport  # type: ignore[assignment]  # uvloop's TCPTransport is not a subclass
        self._task = asyncio.get_running_loop().create_task(self._serve())

    def data_received(self, data: bytes) -> None:
        try:
            self._parser.feed_data(data)
        except httptools.HttpParserUpgrade:
            self._close()
        except httptools.HttpParserError:
            if self._transport is not None:
                self._transport.write(b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
            self._close()

    def connection_lost(self, exc: Exception | None) -> None:
        self._queue.put_nowait(None)

    # httptools callbacks
    def on_message_begin(self) -> None:
        self._current = _Request()
        self._size = 0

    def on_url(self, url: bytes) -> None:
        self._current.url += url

    def on_header(self, name: bytes, value: bytes) -> None:
        self._current.headers.append((name.decode("latin-1"), value.decode("latin-1")))

    def on_headers_complete(self) -> None:
        # read now: with pipelining the parser may be on the next request by the time this one is served
        self._current.method = self._parser.get_method().decode("ascii")
        self._current.keep_alive = self._parser.should_keep_alive()
        expect = any(k.lower() == "expect" and v.strip().lower() == "100-continue" for k, v in self._current.headers)
        if expect and self._transport is not None:
            self._transport.write(b"HTTP/1.1 100 Continue\r\n\r\n")

    def on_body(self, body: bytes) -> None:
        self._size += len(body)
        if self._size > _MAX_BODY:
            self._close()
            return
        self._current.body.append(body)

    def on_message_complete(self) -> None:
        request = self._current
        if not self._pending and self._transport is not None:
            # Answered here, inside the parser's callback, when the fast path can (DynamoDB, lock free): no queue,
            # no task switch, no WSGI environ. Only when nothing is ahead of it on this connection, so answers
            # keep the order of requests.
            answered = self._front.answer_now(request)
            if answered is not None:
                self._write(request.method, request.keep_alive, *answered)
                return
        self._pending += 1
        self._queue.put_nowait(request)

    # serving, one request at a time per connection (HTTP/1.1 without pipelining surprises)
    async def _serve(self) -> None:
        while (request := await self._queue.get()) is not None:
            try:
                status, headers, body = await self._front.handle(request.method, request, self._peer())
            finally:
                self._pending -= 1
            if not self._write(request.method, request.keep_alive, status, headers, body):
                return

    def _write(self, method: str, keep_alive: bool, status: str, headers: Any, body: bytes) -> bool:
        """Send one answer; False when the connection is closed (or closes after this answer)."""
        if self._transport is None or self._transport.is_closing():
            return False
        head = [f"HTTP/1.1 {status}"]
        names = {k.lower() for k, _ in headers}
        for k, v in headers:
            head.append(f"{k}: {v}")
        if "content-length" not in names and method != "HEAD":
            head.append(f"Content-Length: {len(body)}")
        if not keep_alive:
            head.append("Connection: close")
        payload = ("\r\n".join(head) + "\r\n\r\n").encode("latin-1")
        self._transport.write(payload + (b"" if method == "HEAD" else body))
        if not keep_alive:
            self._close()
            return False
        return True

    def _peer(self) -> tuple[str, int]:
        peer = self._transport.get_extra_info("peername") if self._transport else None
        return (str(peer[0]), int(peer[1])) if peer else ("127.0.0.1", 0)

    def _close(self) -> None:
        if self._transport is not None:
            self._transport.close()


class Front:
    """Serves `app` (moto's dispatcher) with `fast` tried first on the loop for DynamoDB calls."""

    def __init__(self, app: WsgiApp, fast: FastAnswer | None, host: str, port: int, threads: int = 8) -> None:
        self._app = app
        self._fast = fast
        self._host = host
        self._port = port
        self._pool = ThreadPoolExecutor(max_workers=threads, thread_name_prefix="local-aws")
        self.server_port = port

    def answer_now(self, request: _Request) -> tuple[str, Any, bytes] | None:
        """The fast path's answer from the request's own headers (no WSGI environ), when it has one now."""
        if self._fast is None:
            return None
        wanted = {}
        for name, value in request.headers:
            lower = name.lower()
            if lower in _FAST_HEADERS:
                if lower in wanted:
                    return None  # a repeated field: moto's WSGI view joins them, so moto answers
                wanted[lower] = value
        if "x-amz-target" not in wanted:
            return None
        return self._fast(wanted, b"".join(request.body))

    async def handle(self, method: str, request: _Request, peer: tuple[str, int]) -> tuple[str, Any, bytes]:
        answered = self.answer_now(request)  # a request queued behind another on its connection, or lock taken
        if answered is not None:
            return answered
        environ = self._environ(method, request, peer)
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._pool, self._call_app, environ)

    def _call_app(self, environ: dict[str, Any]) -> tuple[str, list[tuple[str, str]], bytes]:
        started: list[Any] = []

        def start_response(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> None:
            started[:] = [status, headers]

        try:
            result = self._app(environ, start_response)
            try:
                body = b"".join(result)
            finally:
                close = getattr(result, "close", None)
                if close is not None:
                    close()
        except Exception as exc:  # moto raised outside its own error handling: answer 500 like werkzeug does
            print(f"local AWS: unhandled {type(exc).__name__}: {exc}", file=sys.stderr, flush=True)
            return "500 Internal Server Error", [("Content-Type", "text/plain")], b"internal error"
        return started[0], started[1], body

    def _environ(self, method: str, request: _Request, peer: tuple[str, int]) -> dict[str, Any]:
        raw = request.url.decode("latin-1")
        parts = urlsplit(raw)
        path = f"/{parts.netloc}{parts.path}" if not parts.scheme and parts.netloc else parts.path
        body = b"".join(request.body)
        environ: dict[str, Any] = {
            "wsgi.version": (1, 0),
            "wsgi.url_scheme": "http",
            "wsgi.input": io.BytesIO(body),
            "wsgi.errors": sys.stderr,
            "wsgi.multithread": True,
            "wsgi.multiprocess": False,
            "wsgi.run_once": False,
            "SERVER_SOFTWARE": "portico-local-aws",
            "REQUEST_METHOD": method,
            "SCRIPT_NAME": "",
            "PATH_INFO": _latin1(unquote(path)),
            "QUERY_STRING": parts.query,
            "REQUEST_URI": raw,
            "RAW_URI": raw,
            "REMOTE_ADDR": peer[0],
            "REMOTE_PORT": peer[1],
            "SERVER_NAME": self._host,
            "SERVER_PORT": str(self.server_port),
            "SERVER_PROTOCOL": "HTTP/1.1",
            "CONTENT_LENGTH": str(len(body)),
        }
        preserved: dict[str, str] = {}
        dashed = {"HTTP_" + k.upper().replace("-", "_") for k, _ in request.headers if "_" not in k}
        for name, value in request.headers:
            key = name.upper().replace("-", "_")
            if "_" in name:
                # werkzeug drops underscored headers (X_Foo would pass for X-Foo); moto keeps S3 metadata ones
                if not name.lower().startswith("x-amz-meta-") or f"HTTP_{key}" in dashed:
                    continue
                preserved.setdefault(f"HTTP_{key}", name)
            if key == "CONTENT_TYPE":
                environ[key] = value
                continue
            if key in ("CONTENT_LENGTH", "TRANSFER_ENCODING"):
                continue  # the body is already whole and de-chunked
            key = f"HTTP_{key}"
            environ[key] = f"{environ[key]},{value}" if key in environ else value
        environ[_PRESERVED] = preserved
        if parts.scheme and parts.netloc:
            environ["HTTP_HOST"] = parts.netloc
        return environ

    async def serve(self, ready: Callable[[int], None]) -> None:
        loop = asyncio.get_running_loop()
        server = await loop.create_server(lambda: _Connection(self), self._host, self._port, backlog=512)
        self.server_port = server.sockets[0].getsockname()[1]
        ready(self.server_port)
        async with server:
            with contextlib.suppress(asyncio.CancelledError):
                await server.serve_forever()

    def close(self) -> None:
        self._pool.shutdown(wait=False, cancel_futures=True)
