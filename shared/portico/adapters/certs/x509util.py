"""X.509 helpers for the certificate sources: keys, CSRs with a SPIFFE URI SAN, and reading what was issued.

These need `cryptography`, so the sidecar runs them in its certificate worker (portico.mesh.certworker), never in
its own process; chains and trust bundles are read with the standard library (pem.py).
"""

from __future__ import annotations

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from portico.core.mtls.spiffe import InvalidSpiffeId, SpiffeId, from_dns_name, parse
from portico.core.ports import CertSourceError, IssuedCert


def new_key() -> ec.EllipticCurvePrivateKey:
    """A P-256 key: ECDSA handshakes cost a fraction of RSA-2048 ones, and every CA key type can sign it."""
    return ec.generate_private_key(ec.SECP256R1())


def key_pem(key: ec.EllipticCurvePrivateKey) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )


def csr_pem(key: ec.EllipticCurvePrivateKey, identity: SpiffeId) -> bytes:
    """A CSR whose only SAN is the SPIFFE URI (the X509-SVID rule); the CN is the service, for humans."""
    return (
        x509.CertificateSigningRequestBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, identity.service)]))
        .add_extension(x509.SubjectAlternativeName([x509.UniformResourceIdentifier(str(identity))]), critical=False)
        .sign(key, hashes.SHA256())
        .public_bytes(serialization.Encoding.PEM)
    )


def load_chain(pem: bytes) -> list[x509.Certificate]:
    try:
        certs = x509.load_pem_x509_certificates(pem)
    except ValueError as exc:
        raise CertSourceError(f"not a PEM certificate chain: {exc}") from exc
    return certs


def identity_of(cert: x509.Certificate, trust_domain: str, *, accept_dns: bool = False) -> SpiffeId:
    """The SPIFFE ID a certificate names: its one spiffe:// URI SAN, or (ACM path) a `<svc>.<ns>.svc.<td>` DNS SAN."""
    try:
        sans = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    except x509.ExtensionNotFound as exc:
        raise CertSourceError("the certificate has no subject alternative names") from exc
    uris = [u for u in sans.get_values_for_type(x509.UniformResourceIdentifier) if u.startswith("spiffe://")]
    if len(uris) > 1:
        raise CertSourceError(f"the certificate names {len(uris)} SPIFFE IDs; an X509-SVID has exactly one")
    if uris:
        try:
            return parse(uris[0])
        except InvalidSpiffeId as exc:
            raise CertSourceError(str(exc)) from exc
    if accept_dns:
        mapped = {i for name in sans.get_values_for_type(x509.DNSName) if (i := from_dns_name(name, trust_domain))}
        if len(mapped) == 1:
            return mapped.pop()
    raise CertSourceError("the certificate names no SPIFFE identity")


def issued(chain_pem: bytes, key_pem: bytes, expected: SpiffeId, *, accept_dns: bool = False) -> IssuedCert:
    """Check what a CA handed back names the identity we asked for, and describe it."""
    chain = load_chain(chain_pem)
    leaf = chain[0]
    found = identity_of(leaf, expected.trust_domain, accept_dns=accept_dns)
    if found != expected:
        raise CertSourceError(f"the certificate is for {found}, not {expected}")
    eku = _eku(leaf)
    if eku is not None and not {ExtendedKeyUsageOID.SERVER_AUTH, ExtendedKeyUsageOID.CLIENT_AUTH} <= eku:
        raise CertSourceError("the certificate does not allow both TLS client and server authentication")
    return IssuedCert(
        chain_pem=chain_pem,
        key_pem=key_pem,
        serial=leaf.serial_number,
        not_before=leaf.not_valid_before_utc.timestamp(),
        not_after=leaf.not_valid_after_utc.timestamp(),
        identity=str(found),
    )


def _eku(cert: x509.Certificate) -> set[x509.ObjectIdentifier] | None:
    try:
        return set(cert.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value)
    except x509.ExtensionNotFound:
        return None
