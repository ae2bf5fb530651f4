"""The sidecar's rotating mTLS identity: current certificate, trust bundle and the SSLContexts built from them.

New handshakes use whatever contexts are current; connections already open keep theirs, so a rotation never
drops an in-flight request or a pooled connection. Inbound, one listening context stays bound to the socket and
its SNI callback (which OpenSSL runs for every ClientHello, with or without SNI) switches each new connection to
the current context.
"""

from __future__ import annotations

import asyncio
import logging
import random
import ssl
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from portico.adapters.certs import pem
from portico.adapters.tls.contexts import TlsSettings, client_context, server_context
from portico.adapters.tls.peer import PeerPolicy, PeerRejected, expect_identity, peer_identity
from portico.core.mesh import l4frame
from portico.core.mtls.bundle import TrustBundle, changed, update_bundle
from portico.core.mtls.rotation import RotationSettings, renewal_time, retry_delay
from portico.core.mtls.spiffe import SpiffeId, build
from portico.core.ports import CertSource, CertSourceError, IssuedCert

log = logging.getLogger("portico.mtls")


@dataclass(frozen=True, slots=True)
class _Contexts:
    cert: IssuedCert
    server: ssl.SSLContext
    client: ssl.SSLContext
    opaque: ssl.SSLContext  # outbound opaque TCP streams (ALPN portico-tcp)
    h2_client: ssl.SSLContext  # the same identity offering ALPN h2 (the sidecar's HTTP/2 pool to peers)


class MeshIdentity:
    """Owns one CertSource. `start()` gets the first certificate (fail fast); `run()` renews and refreshes."""

    def __init__(
        self,
        source: CertSource,
        identity: SpiffeId,
        *,
        tls: TlsSettings | None = None,
        rotation: RotationSettings | None = None,
        accept_dns: bool = False,
        bundle_refresh: float = 300.0,
        bundle_overlap: float = 86400.0,
        unchanged_recheck: float = 3600.0,
        clock: Callable[[], float] = time.time,
        rng: random.Random | None = None,
    ) -> None:
        self.source = source
        self.identity = identity
        self.tls = tls or TlsSettings()
        self.rotation = rotation or RotationSettings()
        self.peer_policy = PeerPolicy(identity.trust_domain, accept_dns)
        self.bundle_refresh = bundle_refresh
        self.bundle_overlap = bundle_overlap
        self.unchanged_recheck = unchanged_recheck
        self._clock = clock
        self._rng = rng or random.Random()
        self._bundle = TrustBundle()
        self._current: _Contexts | None = None
        self._failures = 0
        self._next_renewal = 0.0
        self._listening: ssl.SSLContext | None = None
        self.rotations = 0
        self.rotation_failures = 0
        self._rotate_lock = asyncio.Lock()

    # --- what the data path reads
    @property
    def cert(self) -> IssuedCert:
        return self._now().cert

    def server_context(self) -> ssl.SSLContext:
        return self._now().server

    def client_context(self) -> ssl.SSLContext:
        return self._now().client

    def opaque_client_context(self) -> ssl.SSLContext:
        return self._now().opaque

    def h2_client_context(self) -> ssl.SSLContext:
        return self._now().h2_client

    def listening_context(self) -> ssl.SSLContext:
        """The context to bind the inbound listener with, once: it hands every new connection the current one."""
        if self._listening is None:
            ctx = server_context(self.cert, self._bundle.pem, self.tls)
            ctx.sni_callback = self._switch
            self._listening = ctx
        return self._listening

    def _switch(self, ssl_object: Any, server_name: str | None, ctx: ssl.SSLContext) -> None:
        ssl_object.context = self.server_context()

    def verify_server(self, ssl_object: Any, service: str, namespace: str | None = None) -> SpiffeId:
        """Outbound: the peer must prove the destination service's identity (raises PeerRejected)."""
        actual = peer_identity(ssl_object, self.peer_policy)
        expected = build(self.identity.trust_domain, namespace or self.identity.namespace, service)
        expect_identity(actual, expected)
        return actual

    def peer_of(self, ssl_object: Any) -> SpiffeId:
        """Inbound: who is calling (raises PeerRejected for a certificate that names no acceptable identity)."""
        return peer_identity(ssl_object, self.peer_policy)

    def _now(self) -> _Contexts:
        if self._current is None:
            raise RuntimeError("MeshIdentity.start() has not obtained a certificate yet")
        return self._current

    # --- lifecycle
    async def start(self) -> None:
        """The first certificate and bundle, or CertSourceError: a sidecar without an identity must not serve."""
        await self.refresh_bundle(rebuild=False)
        await self.rotate_now()

    async def run(self) -> None:
        """Renew at the scheduled time; refresh the trust bundle on its own interval. Never raises."""
        next_bundle = self._clock() + self.bundle_refresh
        while True:
            now = self._clock()
            wake = min(self._next_renewal, next_bundle)
            await asyncio.sleep(max(wake - now, 0.0))
            now = self._clock()
            if now >= next_bundle:
                next_bundle = now + self.bundle_refresh
                try:
                    await self.refresh_bundle()
                except (CertSourceError, ssl.SSLError) as exc:
                    log.warning("trust bundle refresh failed (keeping the current one): %s", exc)
            if now >= self._next_renewal:
                try:
                    await self.rotate_now()
                except (CertSourceError, ssl.SSLError) as exc:
                    log.warning("certificate renewal failed: %s", exc)

    async def rotate_now(self) -> IssuedCert:
        """Get a certificate now and switch new handshakes to it; on failure keep the current one and back off."""
        async with self._rotate_lock:
            try:
                cert = await asyncio.to_thread(self.source.issue)
                contexts = self._build(cert)
            except (CertSourceError, ssl.SSLError):
                self._failures += 1
                self.rotation_failures += 1
                if self._current is None:
                    raise
                now = self._clock()
                self._next_renewal = now + retry_delay(self._failures, now, self._current.cert.not_after, self.rotation)
                raise
            now = self._clock()
            previous = self._current
            self._current, self._failures = contexts, 0
            if previous is not None and previous.cert.serial == cert.serial:
                # A source that renews itself (ACM) handed back the same certificate: look again later.
                self._next_renewal = now + min(self.unchanged_recheck, max((cert.not_after - now) / 4, 1.0))
            else:
                self.rotations += previous is not None
                draw = self._rng.random()
                self._next_renewal = renewal_time(cert.not_before, cert.not_after, now, self.rotation, draw)
                log.info("certificate %x for %s valid until %s", cert.serial, cert.identity, _iso(cert.not_after))
            return cert

    async def refresh_bundle(self, *, rebuild: bool = True) -> bool:
        """Fetch the trust bundle; a CA that disappeared stays trusted for the overlap. True when it changed."""
        fetched_pem = await asyncio.to_thread(self.source.trust_bundle)
        fetched = pem.anchors([fetched_pem])
        if not fetched:
            raise CertSourceError("the certificate source returned an empty trust bundle")
        updated = update_bundle(self._bundle, fetched, self._clock(), self.bundle_overlap)
        if not changed(self._bundle, updated) and updated.retiring == self._bundle.retiring:
            return False
        self._bundle = updated
        if rebuild and self._current is not None:
            self._current = self._build(self._current.cert)
        log.info("trust bundle now holds %d CA certificate(s)", len(updated.anchors))
        return True

    def _build(self, cert: IssuedCert) -> _Contexts:
        bundle = self._bundle.pem
        return _Contexts(
            cert,
            server_context(cert, bundle, self.tls),
            client_context(cert, bundle, self.tls),
            client_context(cert, bundle, self.tls, [l4frame.ALPN]),
            client_context(cert, bundle, self.tls, ["h2"]),
        )

    def status(self) -> dict[str, object]:
        cert = self._current.cert if self._current else None
        return {
            "identity": str(self.identity),
            "serial": f"{cert.serial:x}" if cert else None,
            "notAfter": _iso(cert.not_after) if cert else None,
            "nextRenewal": _iso(self._next_renewal) if cert else None,
            "rotations": self.rotations,
            "rotationFailures": self.rotation_failures,
            "trustAnchors": len(self._bundle.anchors),
            "minTlsVersion": self.tls.min_version,
        }


def _iso(ts: float) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(ts))


__all__ = ["MeshIdentity", "PeerRejected"]
