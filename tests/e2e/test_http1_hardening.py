"""One raw-socket hardening table for every HTTP/1 listener a client reaches: the local front door and the sidecar's
outbound (plaintext) and inbound (mTLS) listeners. Each case is sent as raw bytes in one write, pipelining included.

Issue 20: defect 11 (pipelined requests merged, `Transfer-Encoding: gzip, chunked`, duplicate Host, `Host: a@b` at
the front door), 12 (a malformed Host at the sidecar is 400, not 503), 16 (Upgrade and CONNECT at the front door),
5 (underscore spellings of identity headers), 15 (header-read timeout and connection cap, slow-dribbling clients).
The inbound cases travel inside a real handshake with a mesh certificate from the local private CA.
"""

from __future__ import annotations

import contextlib
import json
import socket
import ssl
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.e2e.conftest import spawner
from tests.e2e.mesh.conftest import Mesh, module_mesh  # noqa: F401 (module_mesh is a fixture used below)

pytestmark = pytest.mark.e2e
ROOT = Path(__file__).resolve().parents[2]
HEADER_TIMEOUT = 2.0  # seconds; small so the slow-client cases stay short
MAX_CONNECTIONS = 16
LIMIT_ENV = {
    "PORTICO_REQUEST_HEADERS_TIMEOUT": str(HEADER_TIMEOUT),
    "PORTICO_MAX_CONNECTIONS": str(MAX_CONNECTIONS),
    "PORTICO_TLS_HANDSHAKE_TIMEOUT": str(HEADER_TIMEOUT),
}

VS = """
apiVersion: networking.istio.io/v1beta1
kind: VirtualService
metadata: {name: payments}
spec:
  hosts: [payments]
  http: [{route: [{destination: {host: payments}}]}]
"""

ROUTE = """
apiVersion: portico/v1
kind: Route
metadata: {{name: everything}}
spec:
  match: {{pathPrefix: /}}
  auth: {{none: {{}}}}
  upstream: {{http: {{url: "{echo}", timeout: 5s}}}}
"""


@dataclass(frozen=True)
class Door:
    name: str
    port: int
    tls: ssl.SSLContext | None = None

    def connect(self) -> socket.socket:
        raw = socket.create_connection(("127.0.0.1", self.port), timeout=5)
        return self.tls.wrap_socket(raw) if self.tls is not None else raw


H = b"Host: payments\r\n"


@dataclass(frozen=True)
class Case:
    payload: bytes
    statuses: tuple[int, ...]  # the answers, in order
    closed: bool  # the server closes the connection after them
    paths: tuple[str, ...] = ()  # the path the app saw for each 200, in order


def _get(path: str, extra: bytes = b"") -> bytes:
    return b"GET " + path.encode() + b" HTTP/1.1\r\n" + H + extra + b"\r\n"


CASES: dict[str, Case] = {
    # framing that two parsers could read differently: 400 and close (request smuggling)
    "content-length and transfer-encoding": Case(
        b"POST / HTTP/1.1\r\n" + H + b"Content-Length: 4\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n", (400,), True
    ),
    "duplicate content-length": Case(
        b"POST / HTTP/1.1\r\n" + H + b"Content-Length: 1\r\nContent-Length: 2\r\n\r\nab", (400,), True
    ),
    "invalid content-length": Case(b"POST / HTTP/1.1\r\n" + H + b"Content-Length: 1x\r\n\r\na", (400,), True),
    "negative content-length": Case(b"POST / HTTP/1.1\r\n" + H + b"Content-Length: -1\r\n\r\n", (400,), True),
    "bad chunk size": Case(
        b"POST / HTTP/1.1\r\n" + H + b"Transfer-Encoding: chunked\r\n\r\nzz\r\nabc\r\n0\r\n\r\n", (400,), True
    ),
    "transfer-encoding not chunked": Case(
        b"POST / HTTP/1.1\r\n" + H + b"Transfer-Encoding: gzip\r\n\r\n", (400,), True
    ),
    "transfer-encoding gzip, chunked": Case(
        b"POST / HTTP/1.1\r\n" + H + b"Transfer-Encoding: gzip, chunked\r\n\r\n0\r\n\r\n", (400,), True
    ),
    "two transfer-encoding fields": Case(
        b"POST / HTTP/1.1\r\n" + H + b"Transfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
        (400,),
        True,
    ),
    "space before colon": Case(
        b"POST / HTTP/1.1\r\n" + H + b"Transfer-Encoding : chunked\r\n\r\n0\r\n\r\n", (400,), True
    ),
    "CR in header value": Case(_get("/", b"X-A: a\rb\r\n"), (400,), True),
    "LF in header value": Case(_get("/", b"X-A: a\nb\r\n"), (400,), True),
    "NUL in header value": Case(_get("/", b"X-A: a\x00b\r\n"), (400,), True),
    "obs-fold": Case(_get("/", b"X-A: a\r\n b\r\n"), (400,), True),
    # Host (RFC 9112 3.2): exactly one, and only host[:port]
    "duplicate host": Case(_get("/", H), (400,), True),
    "host with userinfo": Case(b"GET / HTTP/1.1\r\nHost: a@payments\r\n\r\n", (400,), True),
    "host with a path": Case(b"GET / HTTP/1.1\r\nHost: payments/x\r\n\r\n", (400,), True),
    "host with a bad port": Case(b"GET / HTTP/1.1\r\nHost: payments:99999\r\n\r\n", (400,), True),
    "host with a space": Case(b"GET / HTTP/1.1\r\nHost: pay ments\r\n\r\n", (400,), True),
    "no host in HTTP/1.1": Case(b"GET / HTTP/1.1\r\nX-A: 1\r\n\r\n", (400,), True),
    # pipelining: every request answered, in order, each as itself (never two paths merged into one)
    "two pipelined requests": Case(_get("/first") + _get("/second"), (200, 200), False, ("/first", "/second")),
    "pipelined, the last one closing": Case(
        _get("/first") + _get("/second", b"Connection: close\r\n"), (200, 200), True, ("/first", "/second")
    ),
    "pipelined, then a malformed one": Case(
        _get("/first") + b"GET /second HTTP/1.1\r\n" + H + H + b"\r\n", (200, 400), True, ("/first",)
    ),
    "pipelined POST bodies": Case(
        b"POST /first HTTP/1.1\r\n"
        + H
        + b"Content-Length: 6\r\n\r\n/x/y/zPOST /second HTTP/1.1\r\n"
        + H
        + b"Transfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n",
        (200, 200),
        False,
        ("/first", "/second"),
    ),
    # protocol switches: h2c is ignored (served as HTTP/1.1, as RFC 9110 7.8 allows); the rest are 501
    "h2c upgrade (curl --http2)": Case(
        _get("/first", b"Connection: Upgrade, HTTP2-Settings\r\nUpgrade: h2c\r\nHTTP2-Settings: AAMAAABkAAQCAAAA\r\n")
        + _get("/second"),
        (200, 200),
        False,
        ("/first", "/second"),
    ),
    "h2c upgrade with a body": Case(
        b"POST /first HTTP/1.1\r\n"
        + H
        + b"Connection: Upgrade\r\nUpgrade: h2c\r\nContent-Length: 3\r\n\r\nabc"
        + _get("/second"),
        (200, 200),
        False,
        ("/first", "/second"),
    ),
    "websocket upgrade": Case(
        _get(
            "/",
            b"Connection: Upgrade\r\nUpgrade: websocket\r\nSec-WebSocket-Version: 13\r\n"
            b"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n",
        ),
        (501,),
        True,
    ),
    "CONNECT": Case(b"CONNECT payments:443 HTTP/1.1\r\nHost: payments:443\r\n\r\n", (501,), True),
    "oversized headers": Case(_get("/", b"X-Big: " + b"a" * 70_000 + b"\r\n"), (431,), True),
}


def _read_response(s: socket.socket, buf: bytes) -> tuple[int, bytes, bool, bytes] | None:
    """One response from `buf` + the socket: (status, body, connection: close, leftover), or None at EOF."""
    while b"\r\n\r\n" not in buf:
        chunk = s.recv(65536)
        if not chunk:
            return None
        buf += chunk
    head, _, rest = buf.partition(b"\r\n\r\n")
    lines = head.split(b"\r\n")
    fields = {k.strip().lower(): v.strip() for k, _, v in (line.partition(b":") for line in lines[1:])}
    length = int(fields.get(b"content-length", b"0"))
    while len(rest) < length:
        chunk = s.recv(65536)
        if not chunk:
            break
        rest += chunk
    return int(lines[0].split(b" ", 2)[1]), rest[:length], fields.get(b"connection") == b"close", rest[length:]


def exchange(door: Door, payload: bytes, answers: int) -> tuple[list[tuple[int, bytes]], bool]:
    """Send `payload` in one write; read up to `answers` responses; say whether the server then closed."""
    with door.connect() as s:
        s.sendall(payload)
        got: list[tuple[int, bytes]] = []
        buf = b""
        while len(got) < answers:
            one = _read_response(s, buf)
            if one is None:
                return got, True
            status, body, _, buf = one
            got.append((status, body))
        s.settimeout(1.0)  # a kept-alive connection times out here; a closed one reads EOF at once
        try:
            closed = buf == b"" and s.recv(1) == b""
        except TimeoutError:
            closed = False
        except (ConnectionError, ssl.SSLEOFError):
            closed = True  # closed with our unread bytes pending: the kernel resets instead of a FIN
        return got, closed


def _path_seen(body: bytes) -> str:
    return str(json.loads(body)["path"])


# --- the three doors


@pytest.fixture(scope="module")
def frontdoor(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Door]:
    """The local front door (the edge Lambda handler in-process) routing every path to the echo upstream."""
    tmp = tmp_path_factory.mktemp("frontdoor")
    with spawner(tmp) as start:
        echo = start("localdev.demo.echo", "--name", "echo")
        config = tmp / "edge.yaml"
        config.write_text(ROUTE.format(echo=echo))
        env = {"PORTICO_ALLOW_LOOPBACK_UPSTREAMS": "true", "PORTICO_ACCESS_LOG": "false", **LIMIT_ENV}
        url = start("localdev.frontdoor", "--config", str(config), env=env)
        yield Door("frontdoor", int(url.rsplit(":", 1)[1]))


@pytest.fixture(scope="module")
def sidecar(module_mesh: Mesh, pca_arn: str, tmp_path_factory: pytest.TempPathFactory) -> tuple[Door, Door]:  # noqa: F811
    from localdev.dev.ca import mint

    module_mesh.config(VS)
    server = module_mesh.start("payments", env=LIMIT_ENV)
    folder: Path = mint("hardening-client", tmp_path_factory.mktemp("client-cert"))
    tls = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    tls.check_hostname = False  # mesh peers are identified by SPIFFE ID, not host name
    tls.load_verify_locations(folder / "ca.pem")
    tls.load_cert_chain(folder / "cert.pem", folder / "key.pem")
    return Door("sidecar-outbound", server.outbound), Door("sidecar-inbound", server.inbound, tls)


@pytest.fixture(params=["frontdoor", "sidecar-outbound", "sidecar-inbound"])
def door(request: pytest.FixtureRequest) -> Door:
    if request.param == "frontdoor":
        return request.getfixturevalue("frontdoor")  # type: ignore[no-any-return]
    outbound, inbound = request.getfixturevalue("sidecar")
    return outbound if request.param == "sidecar-outbound" else inbound  # type: ignore[no-any-return]


# --- the table


@pytest.mark.parametrize("name", list(CASES))
def test_raw_request_table(door: Door, name: str) -> None:
    case = CASES[name]
    got, closed = exchange(door, case.payload, len(case.statuses))
    assert tuple(status for status, _ in got) == case.statuses, f"{name} at {door.name}: {got}"
    assert closed == case.closed, f"{name} at {door.name}: closed={closed}"
    for status, body in got:
        if status >= 400:
            assert json.loads(body)["status"] == status  # a problem+json answer, never an empty reply
    seen = tuple(_path_seen(body) for status, body in got if status == 200)
    assert seen == case.paths, f"{name} at {door.name}: the app saw {seen}"


def test_underscore_spellings_of_identity_headers_never_reach_the_app(door: Door) -> None:
    forged = b"X_Portico_Sub: admin\r\nX_Portico_Consumer: root\r\nX_Portico_Peer: spiffe://forged/sa/admin\r\n"
    forged += b"X-Portico_Sub: admin2\r\nx_forwarded_for: 6.6.6.6\r\nX_Custom: dropped-by-default\r\n"
    got, _ = exchange(door, _get("/headers", forged + b"X-Kept: yes\r\n"), 1)
    assert got[0][0] == 200
    headers = json.loads(got[0][1])["headers"]
    names = {k.lower() for k, _ in (headers.items() if isinstance(headers, dict) else headers)}
    assert "x-kept" in names
    assert not {n for n in names if "_" in n}, names
    text = got[0][1].decode()
    for value in ("admin", "root", "spiffe://forged", "6.6.6.6", "dropped-by-default"):
        assert value not in text, f"{value} reached the app through {door.name}"


# --- slow clients (issue 20 defect 15): bounded counts and durations


def test_slow_dribbling_clients_get_408_within_the_header_timeout(door: Door) -> None:
    """Connections that send one header byte at a time never complete their headers: each is answered 408 and
    closed once the header timeout passes, however steadily it keeps dribbling."""
    clients = [door.connect() for _ in range(10)]
    try:
        start = time.monotonic()
        for s in clients:
            s.sendall(b"GET / HTTP/1.1\r\n")
        open_ = list(clients)
        answers: list[bytes] = []
        while open_ and time.monotonic() - start < HEADER_TIMEOUT * 5:
            for s in list(open_):
                with contextlib.suppress(OSError):
                    s.sendall(b"X")  # one more byte of a never-ending header name
                s.settimeout(0.05)
                try:
                    data = s.recv(65536)
                except (TimeoutError, ssl.SSLWantReadError):
                    continue
                except OSError:
                    data = b""
                answers.append(data)
                open_.remove(s)
            time.sleep(0.1)
        took = time.monotonic() - start
        assert not open_, f"{len(open_)} dribbling connections still open after {took:.1f}s at {door.name}"
        assert all(a.startswith(b"HTTP/1.1 408 ") for a in answers), answers[:2]
        assert HEADER_TIMEOUT * 0.8 <= took < HEADER_TIMEOUT * 5
    finally:
        for s in clients:
            s.close()
    got, _ = exchange(door, _get("/after"), 1)  # the listener still serves
    assert got[0][0] == 200


def test_connections_past_the_cap_are_refused_until_others_close(door: Door) -> None:
    held = []
    try:
        for _ in range(MAX_CONNECTIONS):
            held.append(door.connect())
        time.sleep(0.2)  # every held connection is accepted and counted
        with door.connect() as over:  # answered without a request, so nothing of ours is pending at the close
            over.settimeout(5)
            answer = b""
            with contextlib.suppress(OSError):
                while chunk := over.recv(65536):
                    answer += chunk
        assert answer.startswith(b"HTTP/1.1 503 ") and b"too many open connections" in answer, answer[:200]
    finally:
        for s in held:
            s.close()
    deadline = time.monotonic() + 5
    status = 0
    while time.monotonic() < deadline and status != 200:
        time.sleep(0.1)
        got, _ = exchange(door, _get("/after"), 1)
        status = got[0][0] if got else 0
    assert status == 200


def test_idle_connections_are_closed_after_the_header_timeout(door: Door) -> None:
    """A client that connects (and for mTLS, completes the handshake) but sends nothing holds no socket for long."""
    with door.connect() as s:
        s.settimeout(HEADER_TIMEOUT * 5)
        start = time.monotonic()
        data = b""
        with contextlib.suppress(OSError):
            while chunk := s.recv(65536):
                data += chunk
        assert time.monotonic() - start < HEADER_TIMEOUT * 4
        assert data == b"" or data.startswith(b"HTTP/1.1 408 ")


def test_tls_handshake_that_never_finishes_is_cut_off(sidecar: tuple[Door, Door]) -> None:
    _, inbound = sidecar
    with socket.create_connection(("127.0.0.1", inbound.port), timeout=HEADER_TIMEOUT * 5) as s:
        s.sendall(b"\x16\x03\x01")  # the first bytes of a ClientHello, then silence
        start = time.monotonic()
        with contextlib.suppress(OSError):
            while s.recv(65536):
                pass
        assert time.monotonic() - start < HEADER_TIMEOUT * 4
