"""Demo TCP service: echoes every byte back; `--greeting` is sent first on each connection, `--farewell` after the
client half-closes (then the server closes too). Prints `accept <n>` per connection (tests count them).
Run: python -m localdev.demo.tcp_echo --port 19000 --greeting "hello from echo-a"
Try: python -m localdev.demo.tcp_echo --say 127.0.0.1:19000 "hello"
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import signal
import socket
import sys


class Echo(asyncio.Protocol):
    accepted = 0

    def __init__(self, greeting: bytes, farewell: bytes) -> None:
        self._greeting = greeting
        self._farewell = farewell
        self._transport: asyncio.Transport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        Echo.accepted += 1
        print(f"accept {Echo.accepted}", flush=True)
        self._transport = transport  # type: ignore[assignment]
        transport.set_write_buffer_limits(high=4 << 20)  # type: ignore[attr-defined]
        if self._greeting:
            transport.write(self._greeting)  # type: ignore[attr-defined]

    def data_received(self, data: bytes) -> None:
        assert self._transport is not None
        self._transport.write(data)
        if self._transport.get_write_buffer_size() > 4 << 20:
            self._transport.pause_reading()  # echo no faster than the client reads

    def pause_writing(self) -> None:
        if self._transport is not None:
            self._transport.pause_reading()

    def resume_writing(self) -> None:
        if self._transport is not None:
            self._transport.resume_reading()

    def eof_received(self) -> bool:
        assert self._transport is not None
        if self._farewell:
            self._transport.write(self._farewell)
        self._transport.close()  # flushes, then FIN
        return True


class Sink(asyncio.BufferedProtocol):
    """`--sink`: reads and discards; at the client's EOF answers the byte count it got (benchmarks)."""

    def __init__(self) -> None:
        self._buf = memoryview(bytearray(1 << 18))
        self._count = 0
        self._transport: asyncio.Transport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self._transport = transport  # type: ignore[assignment]

    def get_buffer(self, sizehint: int) -> memoryview:
        return self._buf

    def buffer_updated(self, nbytes: int) -> None:
        self._count += nbytes

    def eof_received(self) -> bool:
        assert self._transport is not None
        self._transport.write(f"{self._count}\n".encode())
        self._transport.close()
        return True


async def serve(port: int, greeting: bytes, farewell: bytes, host: str = "127.0.0.1", sink: bool = False) -> None:
    loop = asyncio.get_running_loop()

    def protocol() -> asyncio.BaseProtocol:
        return Sink() if sink else Echo(greeting, farewell)

    server = await loop.create_server(protocol, host, port, reuse_address=True, backlog=1024)
    print(f"listening on tcp://{host}:{server.sockets[0].getsockname()[1]}", flush=True)
    stop = asyncio.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        with contextlib.suppress(NotImplementedError):
            loop.add_signal_handler(sig, stop.set)
    async with server:
        await stop.wait()


def say(address: str, text: str) -> int:
    """`--say HOST:PORT TEXT`: send TEXT, half-close, print everything that comes back until the server closes."""
    host, _, port = address.rpartition(":")
    with socket.create_connection((host, int(port)), timeout=10) as s:
        s.sendall(text.encode() + b"\n")
        s.shutdown(socket.SHUT_WR)
        while chunk := s.recv(4096):
            sys.stdout.write(chunk.decode(errors="replace"))
    return 0


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--say", nargs=2, metavar=("HOST:PORT", "TEXT"), help="be the client instead of the server")
    p.add_argument("--port", type=int)
    p.add_argument("--greeting", default="")
    p.add_argument("--farewell", default="")
    p.add_argument("--sink", action="store_true", help="discard what arrives; answer its size at EOF")
    args = p.parse_args(argv)
    if args.say:
        return say(*args.say)
    if args.port is None:
        p.error("--port is required (or --say HOST:PORT TEXT)")
    greeting = (args.greeting + "\n").encode() if args.greeting else b""
    farewell = (args.farewell + "\n").encode() if args.farewell else b""
    asyncio.run(serve(args.port, greeting, farewell, sink=args.sink))
    return 0


if __name__ == "__main__":
    sys.exit(main())
