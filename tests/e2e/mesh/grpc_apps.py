"""Real grpcio servers and clients for the mesh's gRPC tests (raw bytes as messages: no generated code needed).

`demo.Echo` offers the four call kinds plus methods that fail, stall or say who answered; each server counts the
calls it saw, so a test can prove that a denied call never reached the app.
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Iterator
from concurrent import futures
from typing import Any

import grpc

SERVICE = "demo.Echo"


def _ident(b: bytes) -> bytes:
    return b


class EchoServer:
    """One grpcio server on 127.0.0.1:`port` (0 = free); `name` is what /demo.Echo/Who answers."""

    def __init__(self, name: str, *, fail_with: grpc.StatusCode | None = None) -> None:
        self.name = name
        self.fail_with = fail_with
        self.calls: Counter[str] = Counter()
        self.slow_lasted: list[float] = []  # how long each Slow call ran before it ended (3 s unless cancelled)
        self.server = grpc.server(
            futures.ThreadPoolExecutor(max_workers=16),
            options=[("grpc.max_receive_message_length", 64 * 1024 * 1024)],
        )
        handlers = {
            "Unary": grpc.unary_unary_rpc_method_handler(self._unary, _ident, _ident),
            "Who": grpc.unary_unary_rpc_method_handler(self._who, _ident, _ident),
            "Flaky": grpc.unary_unary_rpc_method_handler(self._flaky, _ident, _ident),
            "Slow": grpc.unary_unary_rpc_method_handler(self._slow, _ident, _ident),
            "Collect": grpc.stream_unary_rpc_method_handler(self._collect, _ident, _ident),
            "Spray": grpc.unary_stream_rpc_method_handler(self._spray, _ident, _ident),
            "Chat": grpc.stream_stream_rpc_method_handler(self._chat, _ident, _ident),
        }
        self.server.add_generic_rpc_handlers((grpc.method_handlers_generic_handler(SERVICE, handlers),))
        self.port = self.server.add_insecure_port("127.0.0.1:0")
        self.server.start()

    def stop(self) -> None:
        self.server.stop(0)

    def _count(self, method: str) -> None:
        self.calls[method] += 1

    def _unary(self, req: bytes, ctx: Any) -> bytes:
        self._count("Unary")
        return req

    def _who(self, req: bytes, ctx: Any) -> bytes:
        self._count("Who")
        return self.name.encode()

    def _flaky(self, req: bytes, ctx: Any) -> bytes:
        self._count("Flaky")
        if self.fail_with is not None:
            ctx.abort(self.fail_with, f"{self.name} is failing on purpose")
        return self.name.encode()

    def _slow(self, req: bytes, ctx: Any) -> bytes:
        self._count("Slow")
        start = time.monotonic()
        while ctx.is_active() and time.monotonic() < start + 3.0:
            time.sleep(0.01)
        self.slow_lasted.append(time.monotonic() - start)
        return b"late"

    def _collect(self, it: Iterator[bytes], ctx: Any) -> bytes:
        self._count("Collect")
        return b"|".join(it)

    def _spray(self, req: bytes, ctx: Any) -> Iterator[bytes]:
        self._count("Spray")
        n = int(req.decode() or "3")
        for i in range(n):
            yield f"part-{i}".encode()

    def _chat(self, it: Iterator[bytes], ctx: Any) -> Iterator[bytes]:
        self._count("Chat")
        for message in it:
            yield b"re:" + message


def channel(outbound_port: int, service: str) -> grpc.Channel:
    """The app's channel to a mesh service: h2c prior knowledge to the outbound listener, :authority naming the
    service (as Host does for HTTP/1 apps)."""
    return grpc.insecure_channel(
        f"127.0.0.1:{outbound_port}",
        options=[
            ("grpc.default_authority", service),
            ("grpc.max_receive_message_length", 64 * 1024 * 1024),
            ("grpc.enable_retries", 0),  # the mesh retries; the client library's own retries would hide it
        ],
    )


def method(ch: grpc.Channel, name: str, kind: str = "unary_unary") -> Any:
    return getattr(ch, kind)(f"/{SERVICE}/{name}", request_serializer=_ident, response_deserializer=_ident)
