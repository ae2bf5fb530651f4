"""FileCertSource: certificate, key and trust bundle from PEM files (tests, bring-your-own PKI, cert-manager).

The files are read again on every `issue()`, so replacing them on disk rotates the identity.
"""

from __future__ import annotations

from pathlib import Path

from portico.adapters.certs import pem
from portico.core.mtls.spiffe import SpiffeId
from portico.core.ports import CertSourceError, IssuedCert


class FileCertSource:
    def __init__(
        self,
        cert_file: Path | str,
        key_file: Path | str,
        bundle_file: Path | str,
        identity: SpiffeId | None = None,
        *,
        trust_domain: str | None = None,
        key_password: bytes | None = None,
    ) -> None:
        """`identity` is what the certificate must name; without it, whatever SPIFFE ID it names in
        `trust_domain` is taken as is (bring-your-own PKI)."""
        self.cert_file = Path(cert_file)
        self.key_file = Path(key_file)
        self.bundle_file = Path(bundle_file)
        self.identity = identity
        self.trust_domain = trust_domain or (identity.trust_domain if identity else None)
        self.key_password = key_password

    def issue(self) -> IssuedCert:
        # cryptography only where a certificate is issued (the sidecar's certworker), never at import
        from cryptography.hazmat.primitives import serialization

        from portico.adapters.certs import x509util

        chain = self._read(self.cert_file)
        try:
            key = serialization.load_pem_private_key(self._read(self.key_file), password=self.key_password)
        except (ValueError, TypeError) as exc:
            raise CertSourceError(f"{self.key_file}: not a usable PEM private key: {exc}") from exc
        key_pem = key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
        expected = self.identity
        if expected is None:
            leaf = x509util.load_chain(chain)[0]
            expected = x509util.identity_of(leaf, self.trust_domain or "")
        return x509util.issued(chain, key_pem, expected)

    def trust_bundle(self) -> bytes:
        return b"".join(a.pem for a in pem.anchors([self._read(self.bundle_file)]))

    @staticmethod
    def _read(path: Path) -> bytes:
        try:
            return path.read_bytes()
        except OSError as exc:
            raise CertSourceError(f"cannot read {path}: {exc.strerror}") from exc
