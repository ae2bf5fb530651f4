"""Acceptance 7: smuggling and header-injection cases get 400 and a closed connection on both listeners."""

from __future__ import annotations

import json
import socket

import pytest

from tests.e2e.mesh.conftest import Mesh

pytestmark = pytest.mark.e2e

VS = """
apiVersion: networking.istio.io/v1beta1
kind: VirtualService
metadata: {name: payments}
spec:
  hosts: [payments]
  http: [{route: [{destination: {host: payments}}]}]
"""

H = b"Host: payments\r\n"
CASES = {
    "content-length and transfer-encoding": b"POST / HTTP/1.1\r\n"
    + H
    + b"Content-Length: 4\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
    "duplicate content-length": b"POST / HTTP/1.1\r\n" + H + b"Content-Length: 1\r\nContent-Length: 2\r\n\r\nab",
    "invalid content-length": b"POST / HTTP/1.1\r\n" + H + b"Content-Length: 1x\r\n\r\na",
    "negative content-length": b"POST / HTTP/1.1\r\n" + H + b"Content-Length: -1\r\n\r\n",
    "bad chunk size": b"POST / HTTP/1.1\r\n" + H + b"Transfer-Encoding: chunked\r\n\r\nzz\r\nabc\r\n0\r\n\r\n",
    "transfer-encoding not chunked": b"POST / HTTP/1.1\r\n" + H + b"Transfer-Encoding: gzip\r\n\r\n",
    "space before colon": b"POST / HTTP/1.1\r\n" + H + b"Transfer-Encoding : chunked\r\n\r\n0\r\n\r\n",
    "CR in header value": b"GET / HTTP/1.1\r\n" + H + b"X-A: a\rb\r\n\r\n",
    "LF in header value": b"GET / HTTP/1.1\r\n" + H + b"X-A: a\nb\r\n\r\n",
    "NUL in header value": b"GET / HTTP/1.1\r\n" + H + b"X-A: a\x00b\r\n\r\n",
    "obs-fold": b"GET / HTTP/1.1\r\n" + H + b"X-A: a\r\n b\r\n\r\n",
}


def _exchange(port: int, payload: bytes) -> tuple[int, bool]:
    """Send raw bytes; return the status code and whether the server then closed the connection."""
    with socket.create_connection(("127.0.0.1", port), timeout=5) as s:
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


@pytest.fixture(scope="module")
def sidecar_pair(module_mesh: Mesh) -> tuple[Mesh, int, int]:
    module_mesh.config(VS)
    server = module_mesh.start("payments")
    return module_mesh, server.inbound, server.outbound


@pytest.mark.parametrize("case", sorted(CASES))
def test_rejected_with_400_and_closed(sidecar_pair: tuple[Mesh, int, int], case: str) -> None:
    _, inbound, outbound = sidecar_pair
    for port in (inbound, outbound):
        assert _exchange(port, CASES[case]) == (400, True), f"{case} on port {port}"


def test_oversized_headers_get_431_and_valid_requests_still_pass(sidecar_pair: tuple[Mesh, int, int]) -> None:
    _, inbound, outbound = sidecar_pair
    big = b"GET / HTTP/1.1\r\n" + H + b"X-Big: " + b"a" * 70_000 + b"\r\n\r\n"
    for port in (inbound, outbound):
        assert _exchange(port, big) == (431, True)
        status, closed = _exchange(port, b"GET /healthz HTTP/1.1\r\n" + H + b"\r\n")
        assert status == 200 and not closed


def test_hop_by_hop_and_forged_mesh_headers_are_stripped(sidecar_pair: tuple[Mesh, int, int]) -> None:
    _, _, outbound = sidecar_pair
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
    names = {k for k, _ in json.loads(data.split(b"\r\n\r\n", 1)[1])["headers"]}
    assert "x-kept" in names and "x-portico-attempt-count" in names
    assert not names & {
        "connection",
        "x-secret",
        "keep-alive",
        "proxy-authorization",
        "te",
        "upgrade",
        "x-portico-peer",
    }
