"""Mesh identity settings (PORTICO_* variables) and the CertSource they select, for the sidecar and the edge."""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from portico.adapters.tls.contexts import TlsSettings
from portico.adapters.tls.identity import MeshIdentity
from portico.core.config.base import parse_duration
from portico.core.mtls.rotation import DEFAULT_RENEW_FRACTION, RotationSettings
from portico.core.mtls.spiffe import DEFAULT_NAMESPACE, DEFAULT_TRUST_DOMAIN, SpiffeId, build
from portico.core.ports import CertSource

SOURCES = ("pca", "acm", "file")

# service name ("acm-pca", "acm") -> a client with boto3's method names; None = boto3 clients (portico.adapters.aws)
ClientFactory = Callable[[str], Any]


@dataclass(frozen=True, slots=True)
class IdentitySettings:
    service: str
    trust_domain: str = DEFAULT_TRUST_DOMAIN
    namespace: str = DEFAULT_NAMESPACE
    source: str = "pca"
    pca_arn: str | None = None
    acm_cert_arn: str | None = None
    trust_ca_arns: tuple[str, ...] = ()
    cert_file: str | None = None
    key_file: str | None = None
    bundle_file: str | None = None
    validity: float = 24 * 3600.0
    renew_fraction: float = DEFAULT_RENEW_FRACTION
    renew_every: float | None = None
    tls_min_version: str = "1.3"
    dns_identities: bool = False
    bundle_refresh: float = 300.0
    bundle_overlap: float = 86400.0

    @property
    def spiffe_id(self) -> SpiffeId:
        return build(self.trust_domain, self.namespace, self.service)


def resolve_identity(service: str, env: Mapping[str, str] | None = None) -> IdentitySettings:
    """Settings from PORTICO_* variables; raises ValueError naming the variable that is wrong or missing."""
    e = dict(os.environ) if env is None else env

    def get(name: str) -> str | None:
        value = e.get(f"PORTICO_{name}")
        return value if value else None

    pca, acm, cert = get("PCA_ARN"), get("ACM_CERT_ARN"), get("TLS_CERT_FILE")
    source = get("CERT_SOURCE") or ("file" if cert else "acm" if acm else "pca")
    if source not in SOURCES:
        raise ValueError(f"PORTICO_CERT_SOURCE must be one of {', '.join(SOURCES)}, not {source!r}")
    missing = {
        "pca": [] if pca else ["PORTICO_PCA_ARN"],
        "acm": [] if acm else ["PORTICO_ACM_CERT_ARN"],
        "file": [n for n in ("TLS_CERT_FILE", "TLS_KEY_FILE", "TLS_BUNDLE_FILE") if not get(n)],
    }[source]
    if missing:
        raise ValueError(
            "inbound mTLS needs a certificate source: set PORTICO_PCA_ARN (AWS Private CA), PORTICO_ACM_CERT_ARN "
            f"(exported ACM certificate) or PORTICO_TLS_CERT_FILE/KEY_FILE/BUNDLE_FILE; missing {', '.join(missing)}"
        )
    settings = IdentitySettings(
        service=service,
        trust_domain=get("TRUST_DOMAIN") or DEFAULT_TRUST_DOMAIN,
        namespace=get("NAMESPACE") or DEFAULT_NAMESPACE,
        source=source,
        pca_arn=pca,
        acm_cert_arn=acm,
        trust_ca_arns=tuple(a.strip() for a in (get("TRUST_CA_ARNS") or "").split(",") if a.strip()),
        cert_file=cert,
        key_file=get("TLS_KEY_FILE"),
        bundle_file=get("TLS_BUNDLE_FILE"),
        validity=_duration(get("CERT_VALIDITY"), "PORTICO_CERT_VALIDITY", None) or 24 * 3600.0,
        renew_fraction=_fraction(get("CERT_RENEW_FRACTION")),
        renew_every=_duration(get("CERT_RENEW_EVERY"), "PORTICO_CERT_RENEW_EVERY", None),
        tls_min_version=get("TLS_MIN_VERSION") or "1.3",
        dns_identities=(get("TLS_DNS_IDENTITIES") or ("true" if source == "acm" else "false")).lower() == "true",
        bundle_refresh=_duration(get("TRUST_BUNDLE_REFRESH"), "PORTICO_TRUST_BUNDLE_REFRESH", 300.0) or 300.0,
        bundle_overlap=_duration(get("TRUST_BUNDLE_OVERLAP"), "PORTICO_TRUST_BUNDLE_OVERLAP", 86400.0) or 0.0,
    )
    settings.spiffe_id  # noqa: B018 - validates trust domain, namespace and service now, with a clear message
    TlsSettings(settings.tls_min_version)
    RotationSettings(renew_fraction=settings.renew_fraction, max_interval=settings.renew_every)
    return settings


def cert_source(settings: IdentitySettings, clients: ClientFactory | None = None) -> CertSource:
    """The CertSource the settings select (only entry points call this)."""
    ident = settings.spiffe_id
    if settings.source == "file":
        from portico.adapters.certs.files import FileCertSource

        assert settings.cert_file and settings.key_file and settings.bundle_file
        return FileCertSource(settings.cert_file, settings.key_file, settings.bundle_file, ident)
    if settings.source == "acm":
        from portico.adapters.certs.acm_export import AcmExportCertSource

        assert settings.acm_cert_arn
        return AcmExportCertSource(
            settings.acm_cert_arn,
            ident,
            trust_ca_arns=settings.trust_ca_arns,
            client=clients("acm") if clients else None,
            pca_client=clients("acm-pca") if clients and settings.trust_ca_arns else None,
        )
    from portico.adapters.certs.pca import AcmPcaCertSource

    assert settings.pca_arn
    return AcmPcaCertSource(
        settings.pca_arn,
        ident,
        validity=settings.validity,
        trust_ca_arns=settings.trust_ca_arns,
        client=clients("acm-pca") if clients else None,
    )


def mesh_identity(
    settings: IdentitySettings, source: CertSource | None = None, *, clients: ClientFactory | None = None
) -> MeshIdentity:
    return MeshIdentity(
        source or cert_source(settings, clients),
        settings.spiffe_id,
        tls=TlsSettings(settings.tls_min_version),
        rotation=RotationSettings(renew_fraction=settings.renew_fraction, max_interval=settings.renew_every),
        accept_dns=settings.dns_identities,
        bundle_refresh=settings.bundle_refresh,
        bundle_overlap=settings.bundle_overlap,
    )


def _duration(value: str | None, name: str, default: float | None) -> float | None:
    if value is None:
        return default
    try:
        return parse_duration(value)
    except ValueError as exc:
        raise ValueError(f"{name}: {exc}") from exc


def _fraction(value: str | None) -> float:
    if value is None:
        return DEFAULT_RENEW_FRACTION
    try:
        return float(value)
    except ValueError as exc:
        raise ValueError(f"PORTICO_CERT_RENEW_FRACTION must be a number such as 0.66, not {value!r}") from exc
