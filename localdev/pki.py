"""A throwaway PKI for tests and benchmarks: CAs and workload certificates with any validity, SAN or usage.

The local AWS Private CA is the real path; this makes what it should never make (a stranger CA, odd certificates).
"""

from __future__ import annotations

import datetime
import time
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from portico.core.ports import IssuedCert


def _utc(ts: float) -> datetime.datetime:
    return datetime.datetime.fromtimestamp(ts, tz=datetime.UTC)


def _pem_key(key: ec.EllipticCurvePrivateKey) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )


@dataclass
class ThrowawayCa:
    key: ec.EllipticCurvePrivateKey
    cert: x509.Certificate

    @classmethod
    def create(
        cls, name: str = "Test CA", *, not_before: float | None = None, lifetime: float = 86400.0
    ) -> ThrowawayCa:
        key = ec.generate_private_key(ec.SECP256R1())
        subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
        start = time.time() - 3600 if not_before is None else not_before
        cert = (
            x509.CertificateBuilder()
            .subject_name(subject)
            .issuer_name(subject)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(_utc(start))
            .not_valid_after(_utc(start + lifetime))
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .add_extension(x509.KeyUsage(True, False, False, False, False, True, True, False, False), critical=True)
            .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
            .sign(key, hashes.SHA256())
        )
        return cls(key, cert)

    @property
    def pem(self) -> bytes:
        return self.cert.public_bytes(serialization.Encoding.PEM)

    def issue(
        self,
        spiffe_id: str | None,
        *,
        not_before: float | None = None,
        not_after: float | None = None,
        dns: tuple[str, ...] = (),
    ) -> IssuedCert:
        """A leaf with client+server EKU naming `spiffe_id` (None: no URI SAN), valid for the given window."""
        key = ec.generate_private_key(ec.SECP256R1())
        start = time.time() - 60 if not_before is None else not_before
        end = start + 3600 if not_after is None else not_after
        names: list[x509.GeneralName] = [x509.DNSName(d) for d in dns]
        if spiffe_id:
            names.append(x509.UniformResourceIdentifier(spiffe_id))
        builder = (
            x509.CertificateBuilder()
            .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "workload")]))
            .issuer_name(self.cert.subject)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(_utc(start))
            .not_valid_after(_utc(end))
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(
                x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH, ExtendedKeyUsageOID.CLIENT_AUTH]),
                critical=False,
            )
            .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(self.key.public_key()), critical=False)
        )
        if names:
            builder = builder.add_extension(x509.SubjectAlternativeName(names), critical=False)
        cert = builder.sign(self.key, hashes.SHA256())
        return IssuedCert(
            chain_pem=cert.public_bytes(serialization.Encoding.PEM),
            key_pem=_pem_key(key),
            serial=cert.serial_number,
            not_before=start,
            not_after=end,
            identity=spiffe_id or "",
        )


def write(cert: IssuedCert, bundle: bytes, folder: Path) -> tuple[Path, Path, Path]:
    """cert.pem, key.pem (0600) and ca.pem in `folder`, for openssl and FileCertSource."""
    folder.mkdir(parents=True, exist_ok=True)
    paths = folder / "cert.pem", folder / "key.pem", folder / "ca.pem"
    paths[0].write_bytes(cert.chain_pem)
    paths[1].touch(mode=0o600)
    paths[1].write_bytes(cert.key_pem)
    paths[2].write_bytes(bundle)
    return paths
