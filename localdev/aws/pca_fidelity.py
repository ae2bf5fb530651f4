"""Local-only fixes to moto's AWS Private CA so the embedded endpoint issues certificates the way AWS does.

moto (5.x) ignores IssueCertificate's Validity, ValidityNotBefore and SigningAlgorithm: every certificate is valid
for 365 days from the moment of issue and signed with SHA-512, and it issues end-entity certificates from a CA that
is not ACTIVE yet. AWS honours the requested validity, back-dates Not Before by 60 minutes (for clock skew),
signs with the requested algorithm and refuses to issue from an inactive CA. This module patches exactly those
points, in the local server process only; nothing in the product depends on it.
"""

from __future__ import annotations

import calendar
import datetime
import json
import threading
import time
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization

ROOT_TEMPLATE = "arn:aws:acm-pca:::template/RootCACertificate/V1"
_BACKDATE = 3600.0
_HASHES = {"SHA256": hashes.SHA256, "SHA384": hashes.SHA384, "SHA512": hashes.SHA512}
_request = threading.local()  # the window of the IssueCertificate call being served (requests are serialised)


def validity_window(params: dict[str, Any], now: float) -> tuple[float, float]:
    """(not_before, not_after) in epoch seconds for an IssueCertificate request, as AWS computes them."""
    not_before = now - _BACKDATE
    start = params.get("ValidityNotBefore")
    if start:
        not_before = _point(start, now)
    validity = params.get("Validity") or {"Type": "DAYS", "Value": 365}
    return not_before, _point(validity, now)


def _point(spec: dict[str, Any], now: float) -> float:
    kind, value = spec["Type"], int(spec["Value"])
    if kind == "ABSOLUTE":
        return float(value)
    if kind == "END_DATE":
        text = str(value)
        fmt = "%y%m%d%H%M%S" if len(text) == 12 else "%Y%m%d%H%M%S"
        return float(calendar.timegm(time.strptime(text, fmt)))
    days = {"DAYS": 1, "MONTHS": 30, "YEARS": 365}[kind] * value
    return now + days * 86400.0


def install() -> None:
    """Patch moto's acm-pca backend in this process (idempotent)."""
    from moto.acmpca import exceptions, models, responses

    if getattr(models, "_portico_fidelity", False):
        return
    models._portico_fidelity = True  # type: ignore[attr-defined]
    original_issue = responses.ACMPCAResponse.issue_certificate
    original_backend_issue = models.ACMPCABackend.issue_certificate

    def issue_certificate(self: Any) -> Any:
        # Whatever moto's handler returns passes through untouched: a str body in moto < 5.2, an ActionResult
        # (serialised later by moto's protocol layer) from 5.2 on. Coercing it to str broke the response shape.
        params = json.loads(self.body)
        _request.window = validity_window(params, time.time())
        _request.hash = params.get("SigningAlgorithm", "SHA256WITHRSA")[:6]
        _request.template = params.get("TemplateArn")
        try:
            return original_issue(self)
        finally:
            _request.window = None

    def backend_issue(self: Any, certificate_authority_arn: str, csr: bytes, template_arn: str | None) -> str:
        ca = self.describe_certificate_authority(certificate_authority_arn)
        if template_arn != ROOT_TEMPLATE and ca.status != "ACTIVE":
            raise exceptions.InvalidStateException(certificate_authority_arn)
        return str(original_backend_issue(self, certificate_authority_arn, csr, template_arn))

    def generate_cert(self: Any, subject: x509.Name, public_key: Any, extensions: list[Any]) -> bytes:
        window = getattr(_request, "window", None)
        not_before, not_after = window or (time.time() - _BACKDATE, time.time() + 365 * 86400.0)
        builder = (
            x509.CertificateBuilder()
            .subject_name(subject)
            .issuer_name(self.issuer)
            .public_key(public_key)
            .serial_number(x509.random_serial_number())
            .not_valid_before(_utc(not_before))
            .not_valid_after(_utc(not_after))
        )
        for extension, critical in extensions:
            builder = builder.add_extension(extension, critical)
        algorithm = _HASHES.get(getattr(_request, "hash", "SHA256"), hashes.SHA256)()
        return builder.sign(self.key, algorithm).public_bytes(serialization.Encoding.PEM)

    responses.ACMPCAResponse.issue_certificate = issue_certificate
    models.ACMPCABackend.issue_certificate = backend_issue
    models.CertificateAuthority.generate_cert = generate_cert


def _utc(ts: float) -> datetime.datetime:
    return datetime.datetime.fromtimestamp(ts, tz=datetime.UTC)
