"""AcmExportCertSource: an ACM private certificate exported with a one-time passphrase; ACM renews it itself.

ACM certificates carry DNS names only, so the identity is the `<service>.<namespace>.svc.<trust-domain>` DNS SAN
mapped onto its SPIFFE ID (peers must accept DNS identities: `PORTICO_TLS_DNS_IDENTITIES=true`).
"""

from __future__ import annotations

import secrets
from collections.abc import Sequence
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from portico.adapters import aws
from portico.adapters.certs import pem
from portico.core.mtls.spiffe import SpiffeId
from portico.core.ports import CertSourceError, IssuedCert


class AcmExportCertSource:
    """Every `issue()` re-exports the certificate: after ACM's managed renewal it is the new one, before it the
    same one again (the rotator notices the unchanged serial and simply checks again later)."""

    def __init__(
        self,
        certificate_arn: str,
        identity: SpiffeId,
        *,
        trust_ca_arns: Sequence[str] = (),
        client: Any = None,
        pca_client: Any = None,
    ) -> None:
        self.certificate_arn = certificate_arn
        self.identity = identity
        self.trust_ca_arns = list(trust_ca_arns)
        self._client = client
        self._pca_client = pca_client
        self._last_chain = b""

    @property
    def client(self) -> Any:
        if self._client is None:
            self._client = aws.client("acm", timeout=10, retries=3)
        return self._client

    def issue(self) -> IssuedCert:
        # cryptography only where a certificate is issued (the sidecar's certworker), never at import
        from cryptography.hazmat.primitives import serialization

        from portico.adapters.certs import x509util

        passphrase = secrets.token_urlsafe(24).encode()  # used once, to carry the key; never stored
        try:
            got = self.client.export_certificate(CertificateArn=self.certificate_arn, Passphrase=passphrase)
        except (ClientError, BotoCoreError) as exc:
            raise CertSourceError(f"ACM did not export {self.certificate_arn}: {exc}") from exc
        try:
            key = serialization.load_pem_private_key(got["PrivateKey"].encode(), password=passphrase)
        except (ValueError, TypeError) as exc:
            raise CertSourceError(f"ACM returned a private key that does not open: {exc}") from exc
        key_pem = key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
        chain = pem.join_pem(got["Certificate"], got.get("CertificateChain"))
        self._last_chain = chain
        return x509util.issued(chain, key_pem, self.identity, accept_dns=True)

    def note_issued(self, cert: IssuedCert) -> None:
        """A certificate this source issued in another process (the sidecar's certworker): its chain is the one
        the bundle's root comes from."""
        self._last_chain = cert.chain_pem

    def trust_bundle(self) -> bytes:
        """The CAs named in `trust_ca_arns` (AWS Private CA), else the root at the end of the exported chain."""
        if self.trust_ca_arns:
            pca = self._pca_client or aws.client("acm-pca", timeout=10, retries=3)
            blobs = []
            for arn in self.trust_ca_arns:
                try:
                    got = pca.get_certificate_authority_certificate(CertificateAuthorityArn=arn)
                except (ClientError, BotoCoreError) as exc:
                    raise CertSourceError(f"could not read the certificate of CA {arn}: {exc}") from exc
                blobs.append(pem.join_pem(got["Certificate"], got.get("CertificateChain")))
            return b"".join(a.pem for a in pem.anchors(blobs))
        if not self._last_chain:
            self.issue()
        chain = pem.anchors([self._last_chain])
        if len(chain) < 2:
            raise CertSourceError("the exported certificate has no chain; give the CA ARN(s) to trust")
        return chain[-1].pem
