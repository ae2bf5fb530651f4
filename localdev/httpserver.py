"""A small asyncio HTTP/1.1 server (httptools parsing, keep-alive) for the local front door and demo services."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from http import HTTPStatus

import httptools

MAX_BODY = 10 * 1024 * 1024


@dataclass(slots=True)
class Incoming:
    method: str = ""
    target: str = ""
    headers: list[tuple[str, str]] = field(default_factory=list)
    body: bytearray = field(default_factory=bytearray)
    peer: str = ""
    complete: bool = False
    keep_alive: bool = False
    parser: httptools.HttpRequestParser | None = None

    def on_headers_complete(self) -> None:
        # read here: after the message completes the parser has reset and no longer knows
        assert self.parser is not None
        self.keep_alive = self.parser.should_keep_alive()
        self.method = self.parser.get_method().decode("ascii")

    def on_url(self, url: bytes) -> None:
        self.target += url.decode("latin-1")

    def on_header(self, name: bytes, value: bytes) -> None:
        self.headers.append((name.decode("latin-1"), value.decode("latin-1")))

    def on_body(self, body: bytes) -> None:
        self.body += body

    def on_message_complete(self) -> None:
        self.complete = True


Outgoing = tuple[int, list[tuple[str, str]], bytes]
App = Callable[[Incoming], Awaitable[Outgoing]]


def encode_response(status: int, headers: list[tuple[str, str]], body: bytes, keep_alive: bool) -> bytes:
    try:
        phrase = HTTPStatus(status).phrase
    except ValueError:
        phrase = "Unknown"
    lines = [f"HTTP/1.1 {status} {phrase}"]
    lines += [f"{k}: {v}" for k, v in headers if k.lower() not in ("content-length", "connection", "transfer-encoding")]
    lines.append(f"content-length: {len(body)}")
    lines.append("connection: keep-alive" if keep_alive else "connection: close")
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1", "replace") + body


async def _serve_connection(app: App, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    peer = writer.get_extra_info("peername")
    try:
        while True:
            incoming = Incoming(peer=str(peer[0]) if peer else "")
            parser = httptools.HttpRequestParser(incoming)
            incoming.parser = parser
            while not incoming.complete:
                chunk = await reader.read(65536)
                if not chunk:
                    return
                try:
                    parser.feed_data(chunk)
                except httptools.HttpParserError:
                    writer.write(encode_response(400, [("content-type", "text/plain")], b"bad request\n", False))
                    await writer.drain()
                    return
                if len(incoming.body) > MAX_BODY:
                    writer.write(encode_response(413, [("content-type", "text/plain")], b"too large\n", False))
                    await writer.drain()
                    return
            keep = incoming.keep_alive
            status, headers, body = await app(incoming)
            writer.write(encode_response(status, headers, b"" if incoming.method == "HEAD" else body, keep))
            await writer.drain()
            if not keep:
                return
    except (ConnectionError, asyncio.IncompleteReadError, asyncio.CancelledError):
        return  # the client went away, or the server is shutting down
    finally:
        writer.close()


async def start(app: App, host: str, port: int) -> asyncio.Server:
    async def on_connect(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await _serve_connection(app, reader, writer)

    return await asyncio.start_server(on_connect, host, port)
