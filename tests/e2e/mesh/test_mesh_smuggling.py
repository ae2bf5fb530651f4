"""Acceptance 7: oversized headers and hop-by-hop / forged mesh headers on both listeners.

The smuggling and header-injection table (400 and a closed connection) is shared with the front door in
tests/e2e/test_http1_hardening.py. The inbound listener speaks only mTLS, so its cases travel inside a real
handshake with a mesh certificate: the parser behind TLS must be as strict as the one on the plaintext listener.
"""

from __future__ import annotations

import json
import socket
import ssl
from pathlib import Path

import pytest

from tests.e2e.mesh.conftest import Mesh
from tests.e2e.test_http1_hardening import VS

pytestmark = pytest.mark.e2e


H = b"Host: payments\r\n"


def _exchange(port: int, payload: bytes, tls: ssl.SSLContext | None = None) -> tuple[int, bool]:
    """Send raw bytes (inside TLS when given); return the status and whether the server then closed the connection."""
    with socket.create_connection(("127.0.0.1", port), timeout=5) as raw, _wrap(raw, tls) as s:
        s.sendall(payload)
        data = b""
        closed = False
        while True:
            chunk = s.recv(65536)
            if not chunk:
                closed = True
                break
            data += chunk
            head, sep, rest = data.partition(b"\r\n\r\n")
            if sep:
                length = next(
                    (
                        int(line.split(b":")[1])
                        for line in head.split(b"\r\n")
                        if line.lower().startswith(b"content-length:")
                    ),
                    0,
                )
                if len(rest) >= length:
                    # give the server a moment to close; a kept-alive connection times out here instead
                    s.settimeout(1.0)
                    try:
                        closed = s.recv(1) == b""
                    except TimeoutError:
                        closed = False
                    break
        return int(data.split(b" ", 2)[1]), closed


def _wrap(raw: socket.socket, tls: ssl.SSLContext | None) -> socket.socket:
    return tls.wrap_socket(raw) if tls is not None else raw


Pair = tuple[Mesh, int, int, ssl.SSLContext]


@pytest.fixture(scope="module")
def sidecar_pair(module_mesh: Mesh, pca_arn: str, tmp_path_factory: pytest.TempPathFactory) -> Pair:
    from localdev.dev.ca import mint

    module_mesh.config(VS)
    server = module_mesh.start("payments")
    folder: Path = mint("smuggler", tmp_path_factory.mktemp("smuggler-cert"))
    tls = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    tls.check_hostname = False  # mesh peers are identified by SPIFFE ID, not host name
    tls.load_verify_locations(folder / "ca.pem")
    tls.load_cert_chain(folder / "cert.pem", folder / "key.pem")
    return module_mesh, server.inbound, server.outbound, tls


def test_oversized_headers_get_431_and_valid_requests_still_pass(sidecar_pair: Pair) -> None:
    _, inbound, outbound, tls = sidecar_pair
    big = b"GET / HTTP/1.1\r\n" + H + b"X-Big: " + b"a" * 70_000 + b"\r\n\r\n"
    for port, ctx in ((inbound, tls), (outbound, None)):
        assert _exchange(port, big, ctx) == (431, True)
        status, closed = _exchange(port, b"GET /healthz HTTP/1.1\r\n" + H + b"\r\n", ctx)
        assert status == 200 and not closed


def test_hop_by_hop_and_forged_mesh_headers_are_stripped(sidecar_pair: Pair) -> None:
    _, _, outbound, _ = sidecar_pair
    request = (
        b"GET /headers HTTP/1.1\r\n" + H + b"Connection: keep-alive, x-secret\r\nX-Secret: 1\r\n"
        b"Keep-Alive: timeout=5\r\nProxy-Authorization: Basic eA==\r\nTE: trailers\r\nUpgrade: h2c\r\n"
        b"X-Portico-Peer: spiffe://forged\r\nX-Kept: yes\r\n\r\n"
    )
    with socket.create_connection(("127.0.0.1", outbound), timeout=5) as s:
        s.sendall(request)
        data = b""
        while b"}" not in data.rsplit(b"\r\n\r\n", 1)[-1][-3:]:
            data += s.recv(65536)
    headers = json.loads(data.split(b"\r\n\r\n", 1)[1])["headers"]
    names = {k for k, _ in headers}
    assert "x-kept" in names and "x-portico-attempt-count" in names
    assert not names & {"connection", "x-secret", "keep-alive", "proxy-authorization", "te", "upgrade"}
    # the app sees only the peer identity the inbound sidecar verified over mTLS, never the client's forgery
    peers = [v for k, v in headers if k == "x-portico-peer"]
    assert peers == ["spiffe://cluster.local/ns/default/sa/payments"]
