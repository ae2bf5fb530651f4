"""Issue 15, acceptance 2: HTTP/2 floods end their own connection, the sidecar's memory stays put, and a
well-behaved gRPC client on another connection sees no failure meanwhile.

- rapid reset (CVE-2023-44487): 10,000 HEADERS+RST_STREAM pairs on one connection -> GOAWAY ENHANCE_YOUR_CALM;
- CONTINUATION flood: a header block that never ends -> GOAWAY PROTOCOL_ERROR (h2 caps the run at 64 frames);
- an oversized header list -> GOAWAY ENHANCE_YOUR_CALM (HPACK's limit, MAX_HEADER_LIST_SIZE);
each against the outbound listener (the app's side, h2c) of a sidecar in front of a real grpcio server.
"""

from __future__ import annotations

import contextlib
import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass

import h2.config
import h2.connection
import h2.errors
import h2.events
import pytest
from hyperframe.frame import ContinuationFrame, HeadersFrame

from tests.e2e.mesh.conftest import Instance, Mesh, free_port
from tests.e2e.mesh.grpc_apps import EchoServer, channel, method

pytestmark = pytest.mark.e2e

HEADERS = [
    (":method", "POST"),
    (":scheme", "http"),
    (":authority", "echo"),
    (":path", "/demo.Echo/Slow"),
    ("content-type", "application/grpc"),
    ("te", "trailers"),
]


@dataclass
class Target:
    client: Instance
    server: EchoServer


@pytest.fixture(scope="module")
def target(module_mesh: Mesh) -> Iterator[Target]:
    mesh = module_mesh
    mesh.config("")
    server = EchoServer("v1")
    try:
        inst = Instance("echo-h", server.port, free_port(), free_port(), free_port())
        mesh.start("echo", version="v1", app=False, env={"PORTICO_APP_PROTOCOL": "grpc"}, reuse=inst, wait=False)
        mesh.instances.append(inst)
        mesh.wait_ready(inst)
        client = mesh.start("client", app=False)
        mesh.wait_for(client, "echo", 1)
        yield Target(client, server)
    finally:
        server.stop()


def _rss_kib(inst: Instance) -> int:
    assert inst.sidecar is not None
    with open(f"/proc/{inst.sidecar.pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    raise AssertionError("no VmRSS")


def _connect(port: int) -> tuple[socket.socket, h2.connection.H2Connection]:
    sock = socket.create_connection(("127.0.0.1", port), timeout=10)
    conn = h2.connection.H2Connection(h2.config.H2Configuration(client_side=True))
    conn.initiate_connection()
    sock.sendall(conn.data_to_send())
    return sock, conn


def _goaway(sock: socket.socket, conn: h2.connection.H2Connection) -> tuple[int | None, bool]:
    """Read until the server closes: (the GOAWAY error code, whether the connection was closed)."""
    code = None
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        try:
            data = sock.recv(65536)
        except ConnectionResetError:
            return code, True
        except TimeoutError:
            return code, False
        if not data:
            return code, True
        try:
            events = conn.receive_data(data)
        except h2.exceptions.ProtocolError:
            continue  # frames after GOAWAY: the client-side machine is closed, the socket tells the rest
        for event in events:
            if isinstance(event, h2.events.ConnectionTerminated):
                code = event.error_code
    return code, False


def _send_all(sock: socket.socket, data: bytes) -> None:
    with contextlib.suppress(BrokenPipeError, ConnectionResetError):  # the server may end it part-way: it should
        sock.sendall(data)


class GoodClient(threading.Thread):
    """A well-behaved gRPC client on its own connection, calling unary methods all through the floods."""

    def __init__(self, port: int) -> None:
        super().__init__(daemon=True)
        self.port = port
        self.ok = 0
        self.failures: list[str] = []
        self.stop = threading.Event()

    def run(self) -> None:
        with channel(self.port, "echo") as ch:
            unary = method(ch, "Unary")
            while not self.stop.is_set():
                try:
                    assert unary(b"ping", timeout=10) == b"ping"
                    self.ok += 1
                except Exception as exc:
                    self.failures.append(repr(exc))


def test_floods_end_their_connection_and_spare_everyone_else(target: Target) -> None:
    port = target.client.outbound
    good = GoodClient(port)
    good.start()
    try:
        while good.ok < 20:  # warm: pools and first-use allocations happen before the baseline
            time.sleep(0.05)
        before = _rss_kib(target.client)

        # rapid reset: 10,000 HEADERS + RST_STREAM pairs, written in batches as an attacker would
        sock, conn = _connect(port)
        sent = 0
        with sock:
            for batch in range(100):
                for i in range(100):
                    sid = 1 + 2 * (batch * 100 + i)
                    conn.send_headers(sid, HEADERS)
                    conn.reset_stream(sid, h2.errors.ErrorCodes.CANCEL)
                    sent += 1
                _send_all(sock, conn.data_to_send())
            code, closed = _goaway(sock, conn)
        assert sent == 10_000
        assert code == h2.errors.ErrorCodes.ENHANCE_YOUR_CALM and closed, (code, closed)

        # CONTINUATION flood: HEADERS without END_HEADERS, then CONTINUATION frames that never end the block
        sock, conn = _connect(port)
        with sock:
            head = HeadersFrame(1)
            head.data = b"\x82"  # :method GET (static table), END_HEADERS not set
            flood = [head.serialize()]
            for _ in range(10_000):
                cont = ContinuationFrame(1)
                cont.data = b"\x40\x01a\x01b"  # a literal field "a: b", again and again
                flood.append(cont.serialize())
            _send_all(sock, b"".join(flood))
            code, closed = _goaway(sock, conn)
        assert code == h2.errors.ErrorCodes.PROTOCOL_ERROR and closed, (code, closed)

        # an oversized header list (well past the 60 KiB MAX_HEADER_LIST_SIZE the sidecar announced)
        sock, conn = _connect(port)
        with sock:
            conn.receive_data(sock.recv(65536))  # the server's SETTINGS
            conn.local_settings.acknowledge()
            big = [(f"x-big-{i}", "v" * 8000) for i in range(12)]
            try:
                conn.send_headers(1, [*HEADERS, *big], end_stream=True)
            except h2.exceptions.ProtocolError:
                pytest.fail("the client refused to send: the test must build the frames itself")
            _send_all(sock, conn.data_to_send())
            code, closed = _goaway(sock, conn)
        assert code == h2.errors.ErrorCodes.ENHANCE_YOUR_CALM and closed, (code, closed)

        time.sleep(0.5)
        after = _rss_kib(target.client)
        calls_during = good.ok
        time.sleep(0.3)
    finally:
        good.stop.set()
        good.join(timeout=15)
    print(f"sidecar RSS {before} KiB -> {after} KiB ({(after - before) / 1024:+.1f} MiB); good client: {good.ok} ok")
    assert good.failures == []
    assert good.ok > calls_during or good.ok > 40  # it kept being served
    assert after - before < 10 * 1024
    assert target.server.calls["Slow"] < 200  # streams reset at once never reached the app in any number


@pytest.mark.parametrize(
    "bad",
    [
        [("X-Upper", "1")],  # RFC 9113 8.2.1: names are lower-case
        [("connection", "keep-alive")],  # 8.2.2: connection-specific
        [("te", "gzip")],  # 8.2.2: te only as "trailers"
        [("x-a", "a\rb")],  # 8.2.1: no CR, LF or NUL in a value
        [("x-a", " padded")],  # 8.2.1: no surrounding whitespace
        [("x-a", "1"), (":custom", "1")],  # 8.3: pseudo-header fields first, and only the defined ones
    ],
)
def test_a_malformed_header_block_ends_the_connection_and_never_reaches_the_app(
    target: Target, bad: list[tuple[str, str]]
) -> None:
    """The sidecar checks received header blocks itself (h2's own validation is off for speed): each of these
    gets GOAWAY PROTOCOL_ERROR, as h2 would answer, and the app sees nothing."""
    before = target.server.calls["Unary"]
    sock = socket.create_connection(("127.0.0.1", target.client.outbound), timeout=10)
    conn = h2.connection.H2Connection(
        h2.config.H2Configuration(client_side=True, validate_outbound_headers=False, normalize_outbound_headers=False)
    )
    conn.initiate_connection()
    with sock:
        head = [(k, v) for k, v in HEADERS if k != ":path"] + [(":path", "/demo.Echo/Unary")]
        conn.send_headers(1, [*head, *bad], end_stream=True)
        _send_all(sock, conn.data_to_send())
        code, closed = _goaway(sock, conn)
    assert code == h2.errors.ErrorCodes.PROTOCOL_ERROR and closed, (code, closed)
    assert target.server.calls["Unary"] == before
