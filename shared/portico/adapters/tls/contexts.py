"""SSLContexts for mesh mTLS: TLS 1.3 (1.2 allowed as a configured minimum), peer certificates always required.

The certificate and key go to OpenSSL through an anonymous in-memory file (memfd) on Linux, so the private key
never touches a disk; elsewhere through a 0600 file in a private directory that is removed at once.
"""

from __future__ import annotations

import contextlib
import os
import ssl
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass

from portico.core.mesh.l4frame import ALPN as OPAQUE_TCP_ALPN
from portico.core.ports import IssuedCert

# Modern AEAD suites only, for the TLS 1.2 fallback; TLS 1.3 suites are fixed by OpenSSL and all fine.
_TLS12_CIPHERS = "ECDHE+AESGCM:ECDHE+CHACHA20"
_HTTP_ALPN = ("http/1.1",)
_VERSIONS = {"1.2": ssl.TLSVersion.TLSv1_2, "1.3": ssl.TLSVersion.TLSv1_3}


@dataclass(frozen=True, slots=True)
class TlsSettings:
    min_version: str = "1.3"

    def __post_init__(self) -> None:
        if self.min_version not in _VERSIONS:
            raise ValueError(f"TLS minimum version must be one of {', '.join(_VERSIONS)}, not {self.min_version!r}")


def server_context(cert: IssuedCert, bundle_pem: bytes, settings: TlsSettings) -> ssl.SSLContext:
    """Inbound: present our certificate, require a client certificate that chains to the bundle."""
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    _harden(ctx, settings)
    ctx.verify_mode = ssl.CERT_REQUIRED
    # opaque TCP streams ride the same port, told apart by ALPN (docs/mesh-protocols.md, "The mesh hop")
    # h2 first: a peer sidecar's HTTP/2 pool offers only h2, its HTTP/1.1 pool only http/1.1 (mesh-protocols.md)
    ctx.set_alpn_protocols(["h2", *_HTTP_ALPN, OPAQUE_TCP_ALPN])
    # asyncio's clients cannot resume a TLS session (no way to pass one), so tickets would be minted, encrypted and
    # sent on every handshake for nothing
    ctx.num_tickets = 0
    _load(ctx, cert, bundle_pem)
    return ctx


def client_context(
    cert: IssuedCert, bundle_pem: bytes, settings: TlsSettings, alpn: list[str] | None = None
) -> ssl.SSLContext:
    """Outbound: present our certificate, require the server's to chain to the bundle. Hostnames are not checked:
    the peer's SPIFFE ID is, after the handshake (see peer.py)."""
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    _harden(ctx, settings)
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_REQUIRED
    if alpn is not None:  # an opaque TCP stream offers only its own protocol
        ctx.set_alpn_protocols(alpn)
    _load(ctx, cert, bundle_pem)
    return ctx


def _harden(ctx: ssl.SSLContext, settings: TlsSettings) -> None:
    ctx.minimum_version = _VERSIONS[settings.min_version]
    ctx.maximum_version = ssl.TLSVersion.TLSv1_3
    ctx.set_ciphers(_TLS12_CIPHERS)
    ctx.options |= ssl.OP_NO_COMPRESSION | ssl.OP_NO_RENEGOTIATION
    # Strict X.509 checks (RFC 5280), as Python 3.13 does by default.
    ctx.verify_flags |= ssl.VERIFY_X509_STRICT
    ctx.set_alpn_protocols(list(_HTTP_ALPN))


def _load(ctx: ssl.SSLContext, cert: IssuedCert, bundle_pem: bytes) -> None:
    if not bundle_pem.strip():
        raise ssl.SSLError("the trust bundle is empty: refusing to build a context that trusts nothing")
    ctx.load_verify_locations(cadata=bundle_pem.decode("ascii"))
    with _memory_file(cert.chain_pem) as chain_path, _memory_file(cert.key_pem) as key_path:
        ctx.load_cert_chain(chain_path, key_path)


@contextlib.contextmanager
def _memory_file(data: bytes) -> Iterator[str]:
    if hasattr(os, "memfd_create"):
        fd = os.memfd_create("portico-tls", os.MFD_CLOEXEC)
        try:
            os.write(fd, data)
            yield f"/proc/self/fd/{fd}"
        finally:
            os.close(fd)
        return
    with tempfile.TemporaryDirectory(prefix="portico-tls-") as folder:  # 0700 by construction
        path = os.path.join(folder, "pem")
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "wb") as out:
            out.write(data)
        yield path
