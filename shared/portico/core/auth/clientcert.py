"""Client certificates (API Gateway mutual TLS): who the verified certificate names, and whether a route accepts it.

API Gateway (or the local front door) has already verified the chain against the truststore; what is left is the
route's own rule: subject, issuer and subject alternative names. The PEM is parsed here because the event carries
SANs only inside it. Parsed certificates are remembered by their PEM (a client reuses one certificate for many
requests), bounded in number.
"""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass

from portico.core.auth.errors import AuthError
from portico.core.config.protection import ClientCertAuth
from portico.core.http import ClientCert

MAX_PARSED = 1024


class CertificateRefused(AuthError):
    """No certificate, an unreadable one, or one the route's rule does not accept: 403."""

    status = 403
    error = "invalid_client_certificate"


@dataclass(frozen=True, slots=True)
class CertIdentity:
    subject: str  # RFC 4514
    issuer: str
    sans: tuple[str, ...]  # DNS names, URIs, emails and IP addresses, as written
    serial: str


def _parse(pem: str) -> CertIdentity:
    from cryptography import x509  # lazy: only routes that read certificates pay for the import

    try:
        cert = x509.load_pem_x509_certificate(pem.encode("ascii", "replace"))
    except ValueError:
        raise CertificateRefused("the client certificate cannot be read") from None
    sans: list[str] = []
    try:
        ext = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
        for kind in (x509.DNSName, x509.UniformResourceIdentifier, x509.RFC822Name):
            sans.extend(str(v) for v in ext.get_values_for_type(kind))
        sans.extend(str(ip) for ip in ext.get_values_for_type(x509.IPAddress))
    except x509.ExtensionNotFound:
        pass
    return CertIdentity(
        cert.subject.rfc4514_string(), cert.issuer.rfc4514_string(), tuple(sans), format(cert.serial_number, "x")
    )


class CertificateReader:
    """Parses certificates once each (bounded LRU by PEM)."""

    def __init__(self, max_entries: int = MAX_PARSED) -> None:
        self._parsed: OrderedDict[str, CertIdentity] = OrderedDict()
        self._max = max_entries

    def identity(self, cert: ClientCert) -> CertIdentity:
        found = self._parsed.get(cert.pem)
        if found is None:
            found = _parse(cert.pem)
            self._parsed[cert.pem] = found
            if len(self._parsed) > self._max:
                self._parsed.popitem(last=False)
        else:
            self._parsed.move_to_end(cert.pem)
        return found


def _san_matches(pattern: str, san: str) -> bool:
    if pattern.startswith("*."):
        head, _, rest = san.partition(".")
        return bool(head) and rest.lower() == pattern[2:].lower()
    return pattern == san


def check(rule: ClientCertAuth, identity: CertIdentity) -> None:
    """Raise CertificateRefused unless every list the rule gives has a match."""
    if rule.subjects and identity.subject not in rule.subjects:
        raise CertificateRefused("the client certificate's subject is not accepted here")
    if rule.issuers and identity.issuer not in rule.issuers:
        raise CertificateRefused("the client certificate's issuer is not accepted here")
    if rule.sans and not any(_san_matches(p, s) for p in rule.sans for s in identity.sans):
        raise CertificateRefused("no subject alternative name of the client certificate is accepted here")


def cert_name(rule: ClientCertAuth, identity: CertIdentity) -> str | None:
    """The name a certificate is known by for quotas: its first accepted SAN, or its subject."""
    if rule.consumer_from == "subject":
        return identity.subject
    if rule.consumer_from == "san":
        accepted = [s for s in identity.sans if not rule.sans or any(_san_matches(p, s) for p in rule.sans)]
        return accepted[0] if accepted else None
    return None
