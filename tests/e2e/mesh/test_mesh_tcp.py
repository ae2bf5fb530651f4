"""Issue 15, acceptance 3: opaque TCP through two sidecars over real mTLS (certificates from the local private CA).

app -> client sidecar's local TCP listener (--tcp-upstreams) -> mTLS (ALPN portico-tcp) -> echo's sidecar
(--app-ports PORT=tcp) -> the echo server. Byte-exact 100 MB, half-close both ways, no bytes without a mesh
certificate, a 50/50 tcp route over 1,000 connections, and AuthorizationPolicy denying a port.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import socket
import ssl
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.e2e.mesh.conftest import REPO, Instance, Mesh, free_port

pytestmark = pytest.mark.e2e

MB = 1 << 20


@dataclass
class TcpMesh:
    mesh: Mesh
    client: Instance
    a: Instance
    b: Instance
    local_a: int  # the client's listener for echo-a
    local_split: int  # the client's listener for `echo` (50/50 between echo-a and echo-b)
    local_denied: int  # the client's listener for echo-a's denied port
    local_tls: int  # the client's listener for `secure:443/tls`: routed by SNI to echo-a or echo-b
    local_c: int  # the client's listener for echo-c (connectionPool.tcp maxConnections 2, idleTimeout 1s)
    echo_a: int
    echo_b: int
    echo_c: int
    denied_port: int
    logs: dict[str, Path]


def _config(t: dict[str, int]) -> str:
    return f"""
apiVersion: networking.istio.io/v1beta1
kind: VirtualService
metadata: {{name: echo}}
spec:
  hosts: [echo]
  tcp:
    - match: [{{port: 7000}}]
      route:
        - {{destination: {{host: echo-a, port: {{number: {t["echo_a"]}}}}}, weight: 50}}
        - {{destination: {{host: echo-b, port: {{number: {t["echo_b"]}}}}}, weight: 50}}
---
apiVersion: networking.istio.io/v1beta1
kind: VirtualService
metadata: {{name: secure}}
spec:
  hosts: [secure]
  tls:
    - match: [{{port: 443, sniHosts: [a.example.com]}}]
      route: [{{destination: {{host: echo-a, port: {{number: {t["echo_a"]}}}}}}}]
    - match: [{{sniHosts: ["*.b.example.com"]}}]
      route: [{{destination: {{host: echo-b, port: {{number: {t["echo_b"]}}}}}}}]
---
apiVersion: security.istio.io/v1beta1
kind: AuthorizationPolicy
metadata: {{name: echo-a-no-admin-port}}
spec:
  selector: {{matchLabels: {{app: echo-a}}}}
  action: DENY
  rules:
    - to: [{{operation: {{ports: ["{t["denied"]}"]}}}}]
---
apiVersion: networking.istio.io/v1beta1
kind: DestinationRule
metadata: {{name: echo-a}}
spec:
  host: echo-a
  trafficPolicy:
    connectionPool: {{tcp: {{maxConnections: 200, connectTimeout: 2s, idleTimeout: 30s}}}}
---
apiVersion: networking.istio.io/v1beta1
kind: DestinationRule
metadata: {{name: echo-c}}
spec:
  host: echo-c
  trafficPolicy:
    connectionPool: {{tcp: {{maxConnections: 2, idleTimeout: 1s, tcpKeepalive: {{time: 60s, probes: 3}}}}}}
"""


def _echo(port: int, greeting: str, log: Path, procs: list[subprocess.Popen[bytes]], env: dict[str, str]) -> None:
    argv = [sys.executable, "-m", "localdev.demo.tcp_echo", "--port", str(port), "--farewell", "bye"]
    if greeting:
        argv += ["--greeting", greeting]
    out = log.open("ab")
    procs.append(subprocess.Popen(argv, cwd=REPO, env=env, stdout=out, stderr=subprocess.STDOUT))
    out.close()


def _distinct_ports(n: int) -> list[int]:
    found: list[int] = []
    while len(found) < n:  # the kernel may hand the same free port out twice in a row
        port = free_port()
        if port not in found:
            found.append(port)
    return found


def _wait_port(port: int, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), timeout=0.5):
            return
        time.sleep(0.05)
    raise AssertionError(f"nothing listens on {port}")


@pytest.fixture(scope="module")
def tcp(module_mesh: Mesh) -> Iterator[TcpMesh]:
    mesh = module_mesh
    free = _distinct_ports(9)
    ports = {"echo_a": free[0], "echo_b": free[1], "denied": free[2]}
    local = {"a": free[3], "split": free[4], "denied": free[5], "c": free[6], "tls": free[8]}
    echo_c = free[7]  # echo-c starts in its own test (an app port declared tcp: health by connecting)
    mesh.config(_config(ports))
    procs: list[subprocess.Popen[bytes]] = []
    logs = {n: mesh.tmp / f"tcp-{n}.log" for n in ("a", "b", "denied")}
    try:
        _echo(ports["echo_a"], "", logs["a"], procs, mesh.env)
        _echo(ports["echo_b"], "", logs["b"], procs, mesh.env)
        _echo(ports["denied"], "", logs["denied"], procs, mesh.env)
        a = mesh.start("echo-a", env={"PORTICO_APP_PORTS": f"{ports['echo_a']}=tcp,{ports['denied']}=tcp-admin"})
        b = mesh.start("echo-b", env={"PORTICO_APP_PORTS": f"{ports['echo_b']}=tcp-echo"})
        upstreams = (
            f"{local['a']}=echo-a:{ports['echo_a']},{local['split']}=echo:7000,"
            f"{local['denied']}=echo-a:{ports['denied']},{local['c']}=echo-c:{echo_c},{local['tls']}=secure:443/tls"
        )
        client = mesh.start("client", env={"PORTICO_TCP_UPSTREAMS": upstreams})
        for port in (*ports.values(), *local.values()):
            _wait_port(port)
        ports["echo_c"] = echo_c
        mesh.wait_for(client, "echo-a", 1)
        mesh.wait_for(client, "echo-b", 1)
        # the echo processes' own probes above are connections too: tests count from here on
        yield TcpMesh(
            mesh=mesh,
            client=client,
            a=a,
            b=b,
            local_a=local["a"],
            local_split=local["split"],
            local_denied=local["denied"],
            local_tls=local["tls"],
            local_c=local["c"],
            echo_a=ports["echo_a"],
            echo_b=ports["echo_b"],
            echo_c=ports["echo_c"],
            denied_port=ports["denied"],
            logs=logs,
        )
    finally:
        for p in procs:
            p.kill()
        for p in procs:
            with contextlib.suppress(subprocess.TimeoutExpired):
                p.wait(timeout=5)


def _accepted(log: Path) -> int:
    return sum(1 for line in log.read_text().splitlines() if line.startswith("accept "))


def test_100_mb_arrive_byte_exact_through_two_sidecars(tcp: TcpMesh) -> None:
    size = 100 * MB
    block = os.urandom(MB)
    sent = hashlib.sha256()
    got = hashlib.sha256()
    with socket.create_connection(("127.0.0.1", tcp.local_a), timeout=30) as s:

        def send() -> None:
            for i in range(size // MB):
                chunk = block[i % 7 :] + block[: i % 7]  # differs per MB, so reordering would show
                sent.update(chunk)
                s.sendall(chunk)

        writer = threading.Thread(target=send)
        writer.start()
        received = 0
        while received < size:
            data = s.recv(1 << 18)
            assert data, f"the stream ended after {received} of {size} bytes"
            got.update(data)
            received += len(data)
        writer.join(timeout=30)
    assert received == size
    assert got.hexdigest() == sent.hexdigest()


def test_half_close_travels_both_ways(tcp: TcpMesh) -> None:
    with socket.create_connection(("127.0.0.1", tcp.local_a), timeout=10) as s:
        s.sendall(b"hello")
        s.shutdown(socket.SHUT_WR)  # our FIN must reach the echo server, which then says bye and closes
        data = b""
        while chunk := s.recv(4096):
            data += chunk
    # "bye" is written by the server only after it saw our EOF; the final EOF is the server's own FIN
    assert data == b"hellobye\n"


def test_a_client_without_a_mesh_certificate_gets_no_bytes_through(tcp: TcpMesh) -> None:
    before = _accepted(tcp.logs["a"])
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    ctx.set_alpn_protocols(["portico-tcp"])
    from portico.core.mesh.l4frame import preamble

    got = b""
    with socket.create_connection(("127.0.0.1", tcp.a.inbound), timeout=5) as raw:
        try:
            with ctx.wrap_socket(raw) as s:
                s.sendall(preamble(tcp.echo_a) + (5).to_bytes(4, "big") + b"hello")
                got = s.recv(100)
        except (ssl.SSLError, OSError):
            pass  # TLS 1.3: the missing certificate is refused after the client's handshake completes
    assert got == b""
    with socket.create_connection(("127.0.0.1", tcp.a.inbound), timeout=5) as plain:
        plain.sendall(preamble(tcp.echo_a) + (5).to_bytes(4, "big") + b"hello")
        answer = b""
        with contextlib.suppress(OSError):
            answer = plain.recv(100)  # at most a TLS alert: the inbound port never speaks plaintext
        assert b"hello" not in answer
    time.sleep(0.2)
    assert _accepted(tcp.logs["a"]) == before, "the app must never see a connection without a mesh identity"


def test_a_50_50_tcp_route_splits_1000_connections(tcp: TcpMesh) -> None:
    a0, b0 = _accepted(tcp.logs["a"]), _accepted(tcp.logs["b"])
    for _ in range(1000):
        with socket.create_connection(("127.0.0.1", tcp.local_split), timeout=10) as s:
            s.sendall(b"x")
            s.shutdown(socket.SHUT_WR)
            while s.recv(64):
                pass
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline and (_accepted(tcp.logs["a"]) - a0) + (_accepted(tcp.logs["b"]) - b0) < 1000:
        time.sleep(0.05)
    a, b = _accepted(tcp.logs["a"]) - a0, _accepted(tcp.logs["b"]) - b0
    assert a + b == 1000
    assert 450 <= a <= 550, (a, b)


def test_authorization_policy_denies_a_port_and_the_app_never_sees_it(tcp: TcpMesh) -> None:
    before = _accepted(tcp.logs["denied"])
    with socket.create_connection(("127.0.0.1", tcp.local_denied), timeout=5) as s:
        with contextlib.suppress(OSError):
            s.sendall(b"let me in")
        data = b""
        with contextlib.suppress(OSError):
            data = s.recv(100)
    assert data == b""
    time.sleep(0.2)
    assert _accepted(tcp.logs["denied"]) == before
    stats = tcp.a.stats()
    assert 'portico_tcp_refused_total{reporter="destination",reason="rbac"}' in stats
    # the allowed port still works
    with socket.create_connection(("127.0.0.1", tcp.local_a), timeout=5) as s:
        s.sendall(b"ok")
        assert s.recv(2) == b"ok"


def test_stats_count_tcp_connections_and_bytes(tcp: TcpMesh) -> None:
    client = tcp.client.stats()
    assert 'portico_tcp_connections_opened_total{reporter="source",source="client",destination="echo-a"}' in client
    assert tcp.client.counter("portico_tcp_sent_bytes_total") > 0
    server = tcp.a.stats()
    assert 'portico_tcp_received_bytes_total{reporter="destination",source="client",destination="echo-a"}' in server


def test_portico_graph_draws_the_tcp_edge(tcp: TcpMesh, tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from portico.cli.main import app

    admins = [arg for inst in (tcp.client, tcp.a) for arg in ("--admin", f"127.0.0.1:{inst.admin}")]
    result = CliRunner().invoke(app, ["graph", *admins, "--interval", "0.2", "-o", str(tmp_path / "g")])
    assert result.exit_code == 0, result.output
    mermaid = (tmp_path / "g.mmd").read_text()
    assert "tcp conn" in mermaid and '"client"' in mermaid and '"echo-a"' in mermaid


def test_tcp_app_port_health_and_the_connection_pool_limits(tcp: TcpMesh) -> None:
    """--app-protocol tcp (App Mesh's tcp listener): the sidecar is ready when the app accepts, with no HTTP.
    Then DestinationRule connectionPool.tcp: a third stream past maxConnections 2 is refused, and an idle stream
    is closed after idleTimeout 1s."""
    mesh = tcp.mesh
    port = tcp.echo_c
    log = mesh.tmp / "tcp-c.log"
    procs: list[subprocess.Popen[bytes]] = []
    try:
        inst = Instance("echo-c-0", port, free_port(), free_port(), free_port())
        mesh.start("echo-c", app=False, reuse=inst, wait=False, env={"PORTICO_APP_PROTOCOL": "tcp"})
        mesh.instances.append(inst)
        mesh.wait_ready(inst, need_app=False)
        assert "app not healthy" in str(mesh_ready(inst))  # nothing listens yet
        _echo(port, "", log, procs, mesh.env)
        mesh.wait_ready(inst, need_app=True)
        mesh.wait_for(tcp.client, "echo-c", 1)
        _limits(tcp)
    finally:
        for p in procs:
            p.kill()
            p.wait(timeout=5)


def _echoes(port: int) -> bool:
    with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), timeout=5) as s:
        s.sendall(b"k")
        return s.recv(1) == b"k"
    return False


def _limits(tcp: TcpMesh) -> None:
    deadline = time.monotonic() + 10
    while not _echoes(tcp.local_c):  # until the client's registry view has echo-c healthy (heartbeat, refresh)
        assert time.monotonic() < deadline, "echo-c never became reachable"
        time.sleep(0.2)
    time.sleep(0.2)
    held = [socket.create_connection(("127.0.0.1", tcp.local_c), timeout=5) for _ in range(2)]
    try:
        for s in held:
            s.sendall(b"k")
            assert s.recv(1) == b"k"
        with socket.create_connection(("127.0.0.1", tcp.local_c), timeout=5) as third:
            answer = b""
            with contextlib.suppress(OSError):
                third.sendall(b"k")
                answer = third.recv(1)
            assert answer == b"", "a stream past maxConnections must be refused"
        assert 'reason="overflow"' in tcp.client.stats()
        time.sleep(1.6)  # idleTimeout 1s: both held streams go quiet and are reset
        for s in held:
            closed = b"x"
            with contextlib.suppress(OSError):
                closed = s.recv(1)
            assert closed == b""
    finally:
        for s in held:
            s.close()
    time.sleep(0.2)
    with socket.create_connection(("127.0.0.1", tcp.local_c), timeout=5) as again:  # the slots were given back
        again.sendall(b"k")
        assert again.recv(1) == b"k"


def mesh_ready(inst: Instance) -> bytes:
    from tests.e2e.mesh.conftest import get

    return get(f"http://127.0.0.1:{inst.admin}/ready")[1]


def _client_hello(server_name: str) -> bytes:
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    incoming, outgoing = ssl.MemoryBIO(), ssl.MemoryBIO()
    obj = ctx.wrap_bio(incoming, outgoing, server_hostname=server_name)
    with contextlib.suppress(ssl.SSLWantReadError):
        obj.do_handshake()
    return outgoing.read()


def test_tls_routes_pick_the_destination_by_sni_and_pass_the_hello_through(tcp: TcpMesh) -> None:
    for name, log in (("a.example.com", tcp.logs["a"]), ("x.b.example.com", tcp.logs["b"])):
        before = _accepted(log)
        hello = _client_hello(name)
        with socket.create_connection(("127.0.0.1", tcp.local_tls), timeout=5) as s:
            s.sendall(hello)
            s.shutdown(socket.SHUT_WR)
            got = b""
            while chunk := s.recv(65536):
                got += chunk
        assert got == hello + b"bye\n"  # passthrough: the echo got the ClientHello byte for byte
        assert _accepted(log) == before + 1, name
    with socket.create_connection(("127.0.0.1", tcp.local_tls), timeout=5) as plain:  # no ClientHello: reset
        plain.sendall(b"GET / HTTP/1.1\r\n\r\n")
        answer = b"x"
        with contextlib.suppress(OSError):
            answer = plain.recv(10)
        assert answer == b""
    assert 'reason="not-tls"' in tcp.client.stats()


def test_tcp_keepalive_settings_reach_the_socket() -> None:
    import asyncio

    from portico.core.config.istio_networking import TcpKeepalive
    from portico.mesh.l4outbound import _keepalive

    async def check(port: int) -> tuple[int, int, int, int]:
        transport, _ = await asyncio.get_running_loop().create_connection(asyncio.Protocol, "127.0.0.1", port)
        _keepalive(transport, TcpKeepalive.model_validate({"time": "45s", "interval": "5s", "probes": 4}))
        sock = transport.get_extra_info("socket")
        found = (
            sock.getsockopt(socket.SOL_SOCKET, socket.SO_KEEPALIVE),
            sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_KEEPIDLE),
            sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_KEEPINTVL),
            sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_KEEPCNT),
        )
        transport.close()
        return found

    with socket.create_server(("127.0.0.1", 0)) as listener:  # the kernel completes the connection from its backlog
        keepalive, idle, interval, probes = asyncio.run(check(listener.getsockname()[1]))
    assert (bool(keepalive), idle, interval, probes) == (True, 45, 5, 4)
