"""Trust bundles read with the standard library (adapters/certs/pem.py) agree with `cryptography`; the sidecar's
certificates come from the certificate worker, a real child process, and `cryptography` stays out of the sidecar."""

from __future__ import annotations

import datetime
import hashlib
import subprocess
import sys
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from portico.adapters.certs import pem
from portico.adapters.certs.files import FileCertSource
from portico.core.mtls.spiffe import build
from portico.core.ports import CertSourceError, IssuedCert
from portico.mesh.certworker import WorkerCertSource
from portico.mesh.identity import IdentitySettings, cert_source

UTC = datetime.UTC


def _cert(
    name: str,
    not_after: datetime.datetime,
    *,
    issuer: tuple[x509.Name, ec.EllipticCurvePrivateKey] | None = None,
    san: str | None = None,
) -> tuple[x509.Certificate, ec.EllipticCurvePrivateKey]:
    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
    issuer_name, issuer_key = issuer or (subject, key)
    builder = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(issuer_name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(datetime.datetime(2026, 1, 1, tzinfo=UTC))
        .not_valid_after(not_after)
    )
    if san is None:
        builder = builder.add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
    else:
        builder = builder.add_extension(x509.SubjectAlternativeName([x509.UniformResourceIdentifier(san)]), False)
        usages = [ExtendedKeyUsageOID.SERVER_AUTH, ExtendedKeyUsageOID.CLIENT_AUTH]
        builder = builder.add_extension(x509.ExtendedKeyUsage(usages), critical=False)
    return builder.sign(issuer_key, hashes.SHA256()), key


def _pem(cert: x509.Certificate) -> bytes:
    return cert.public_bytes(serialization.Encoding.PEM)


@pytest.mark.parametrize(
    "not_after",
    [
        datetime.datetime(2031, 5, 6, 7, 8, 9, tzinfo=UTC),  # UTCTime
        datetime.datetime(2061, 12, 31, 23, 59, 59, tzinfo=UTC),  # GeneralizedTime (2050 and later)
    ],
)
def test_anchors_agree_with_cryptography(not_after: datetime.datetime) -> None:
    ca, _ = _cert("ca", not_after)
    other, _ = _cert("other", datetime.datetime(2030, 1, 1, tzinfo=UTC))
    blob = b"junk before\n" + _pem(ca) + _pem(other) + _pem(ca)  # a duplicate is listed once
    got = pem.anchors([blob])
    assert [a.pem for a in got] == [_pem(ca), _pem(other)]
    der = ca.public_bytes(serialization.Encoding.DER)
    assert got[0].fingerprint == hashlib.sha256(der).hexdigest()
    assert got[0].not_after == ca.not_valid_after_utc.timestamp() == not_after.timestamp()


@pytest.mark.parametrize(
    "blob",
    [
        b"",
        b"no certificate here",
        b"-----BEGIN CERTIFICATE-----\n!!!notbase64!!!\n-----END CERTIFICATE-----\n",
        b"-----BEGIN CERTIFICATE-----\nMAMCAQE=\n-----END CERTIFICATE-----\n",  # DER, but not a certificate
        b"-----BEGIN CERTIFICATE-----\nMIIBAA==\n-----END CERTIFICATE-----\n",  # a length past the end
        b"x" * (pem.MAX_CHAIN_BYTES + 1),
    ],
)
def test_what_is_not_a_certificate_chain_is_a_clear_error(blob: bytes) -> None:
    with pytest.raises(CertSourceError, match=r"not a PEM certificate chain|not an X.509 certificate"):
        pem.anchors([blob])


def _files(tmp_path: Path) -> tuple[IdentitySettings, x509.Certificate]:
    far = datetime.datetime(2040, 1, 1, tzinfo=UTC)
    ca, ca_key = _cert("ca", far)
    spiffe = str(build("cluster.local", "default", "payments"))
    leaf, key = _cert("payments", far, issuer=(ca.subject, ca_key), san=spiffe)
    (tmp_path / "cert.pem").write_bytes(_pem(leaf))
    key_bytes = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    (tmp_path / "key.pem").write_bytes(key_bytes)
    (tmp_path / "ca.pem").write_bytes(_pem(ca))
    settings = IdentitySettings(
        service="payments",
        source="file",
        cert_file=str(tmp_path / "cert.pem"),
        key_file=str(tmp_path / "key.pem"),
        bundle_file=str(tmp_path / "ca.pem"),
    )
    return settings, leaf


def test_the_worker_issues_what_the_source_issues_in_process(tmp_path: Path) -> None:
    settings, leaf = _files(tmp_path)
    inner = cert_source(settings)
    assert isinstance(inner, FileCertSource)
    got = WorkerCertSource(settings, inner).issue()  # a real `python -m portico.mesh.certworker`
    assert got == inner.issue()
    assert got.serial == leaf.serial_number and got.identity.endswith("/sa/payments")
    assert WorkerCertSource(settings, inner).trust_bundle() == inner.trust_bundle()


def test_a_worker_failure_is_the_sources_own_error(tmp_path: Path) -> None:
    settings, _ = _files(tmp_path)
    (tmp_path / "key.pem").write_text("not a key")
    with pytest.raises(CertSourceError, match="not a usable PEM private key"):
        WorkerCertSource(settings, cert_source(settings)).issue()


def test_a_worker_that_dies_is_reported_with_its_last_words(tmp_path: Path) -> None:
    settings, _ = _files(tmp_path)

    def crash(request: bytes, timeout: float) -> subprocess.CompletedProcess[bytes]:
        return subprocess.run([sys.executable, "-c", "raise SystemExit('worker out of memory')"], capture_output=True)

    with pytest.raises(CertSourceError, match=r"exit 1.*worker out of memory"):
        WorkerCertSource(settings, cert_source(settings), runner=crash).issue()


def test_the_sidecar_modules_do_not_load_cryptography() -> None:
    code = (
        "import sys, portico.mesh.main, portico.mesh.sidecar, portico.mesh.certworker, portico.adapters.certs.pca, "
        "portico.adapters.certs.acm_export, portico.adapters.certs.files; "
        "print(sorted(m for m in sys.modules if m.split('.')[0] == 'cryptography'))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60)
    assert out.stdout.strip() == "[]"


def test_a_source_that_reads_its_bundle_from_its_chain_is_told_what_the_worker_issued(tmp_path: Path) -> None:
    """ACM without trust CA ARNs takes its bundle's root from the exported chain: the chain the worker got."""
    settings, leaf = _files(tmp_path)
    seen: list[int] = []

    class Noting(FileCertSource):
        def note_issued(self, cert: IssuedCert) -> None:
            seen.append(cert.serial)

    inner = Noting(settings.cert_file or "", settings.key_file or "", settings.bundle_file or "", settings.spiffe_id)
    WorkerCertSource(settings, inner).issue()
    assert seen == [leaf.serial_number]
