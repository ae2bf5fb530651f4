"""AcmPcaCertSource against the local AWS Private CA: the issued certificate is a proper SPIFFE X509-SVID."""

from __future__ import annotations

import time
from typing import Any

import pytest
from botocore.exceptions import ClientError
from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import ec, padding
from cryptography.x509.oid import ExtendedKeyUsageOID

from localdev.dev.ca import ensure_root_ca
from portico.adapters.certs.acm_export import AcmExportCertSource
from portico.adapters.certs.pca import AcmPcaCertSource
from portico.core.mtls.spiffe import build
from portico.core.ports import CertSourceError

ORDERS = build("cluster.local", "default", "orders")


def test_issued_certificate_chains_to_the_local_root_and_names_the_spiffe_id(root_ca: str) -> None:
    source = AcmPcaCertSource(root_ca, ORDERS)
    issued = source.issue()
    chain = x509.load_pem_x509_certificates(issued.chain_pem)
    leaf = chain[0]
    (root,) = x509.load_pem_x509_certificates(source.trust_bundle())

    # Chains: the root's key signed the leaf, the root is self-signed, and the leaf names the root as issuer.
    assert leaf.issuer == root.subject
    root.public_key().verify(  # type: ignore[union-attr,call-arg]
        leaf.signature, leaf.tbs_certificate_bytes, padding.PKCS1v15(), leaf.signature_hash_algorithm
    )
    assert root.issuer == root.subject
    assert root.extensions.get_extension_for_class(x509.BasicConstraints).value.ca

    sans = leaf.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert sans.get_values_for_type(x509.UniformResourceIdentifier) == ["spiffe://cluster.local/ns/default/sa/orders"]
    eku = leaf.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
    assert {ExtendedKeyUsageOID.SERVER_AUTH, ExtendedKeyUsageOID.CLIENT_AUTH} <= set(eku)
    assert not leaf.extensions.get_extension_for_class(x509.BasicConstraints).value.ca
    assert issued.identity == str(ORDERS) and issued.serial == leaf.serial_number


def test_key_is_made_in_the_task_and_validity_is_short(root_ca: str) -> None:
    issued = AcmPcaCertSource(root_ca, ORDERS).issue()
    leaf = x509.load_pem_x509_certificates(issued.chain_pem)[0]
    assert isinstance(leaf.public_key(), ec.EllipticCurvePublicKey)
    # 24 h by default, plus the hour AWS back-dates Not Before by (the local endpoint does the same).
    assert issued.not_after - time.time() == pytest.approx(24 * 3600, abs=120)
    assert issued.not_after - issued.not_before == pytest.approx(25 * 3600, abs=5)


def test_each_issue_is_a_new_key_and_serial(root_ca: str) -> None:
    source = AcmPcaCertSource(root_ca, ORDERS, validity=600)
    first, second = source.issue(), source.issue()
    assert first.serial != second.serial and first.key_pem != second.key_pem
    assert second.not_after - time.time() == pytest.approx(600, abs=60)


def test_a_ca_that_is_not_active_is_a_clear_error(pca: Any) -> None:
    arn = pca.create_certificate_authority(
        CertificateAuthorityType="ROOT",
        CertificateAuthorityConfiguration={
            "KeyAlgorithm": "RSA_2048",
            "SigningAlgorithm": "SHA256WITHRSA",
            "Subject": {"CommonName": "never activated"},
        },
    )["CertificateAuthorityArn"]
    with pytest.raises(CertSourceError, match="not ACTIVE"):
        AcmPcaCertSource(arn, ORDERS).issue()


def test_an_unknown_ca_is_a_clear_error(pca: Any) -> None:
    arn = "arn:aws:acm-pca:us-east-1:123456789012:certificate-authority/00000000-0000-0000-0000-000000000000"
    with pytest.raises(CertSourceError):
        AcmPcaCertSource(arn, ORDERS).issue()


def test_the_local_root_ca_is_reused_not_recreated(pca: Any, root_ca: str) -> None:
    assert ensure_root_ca(pca) == root_ca


def test_acm_export_path_maps_the_dns_name_but_does_not_chain_locally(local_aws: str, root_ca: str) -> None:
    """The local ACM signs exported certificates with a throwaway key (see docs/mtls.md); on AWS they chain."""
    from portico.adapters.aws import client

    acm = client("acm")
    arn = acm.request_certificate(DomainName=ORDERS.dns_name, CertificateAuthorityArn=root_ca)["CertificateArn"]
    source = AcmExportCertSource(arn, ORDERS, trust_ca_arns=[root_ca])
    issued = source.issue()
    assert issued.identity == str(ORDERS)
    leaf = x509.load_pem_x509_certificates(issued.chain_pem)[0]
    (root,) = x509.load_pem_x509_certificates(source.trust_bundle())
    assert leaf.issuer != root.subject  # the local gap, asserted so we notice when moto fixes it
    wrong = AcmExportCertSource(arn, build("cluster.local", "default", "payments"))
    with pytest.raises(CertSourceError, match=r"not spiffe://cluster\.local/ns/default/sa/payments"):
        wrong.issue()


def test_the_sidecars_json_clients_issue_and_export_as_boto3_does(local_aws: str, root_ca: str) -> None:
    """The sidecar signs its Private CA and ACM calls itself (portico.adapters.aws_json), without boto3's models:
    a CSR and a passphrase travel as base64 blobs, and GetCertificate is polled until the certificate is issued."""
    from portico.adapters import aws_json

    source = AcmPcaCertSource(root_ca, ORDERS, client=aws_json.client("acm-pca"), wait_delay=0.1)
    issued = source.issue()
    leaf = x509.load_pem_x509_certificates(issued.chain_pem)[0]
    (root,) = x509.load_pem_x509_certificates(source.trust_bundle())
    assert leaf.issuer == root.subject and issued.identity == str(ORDERS)

    from portico.adapters.aws import client

    arn = client("acm").request_certificate(DomainName=ORDERS.dns_name, CertificateAuthorityArn=root_ca)[
        "CertificateArn"
    ]
    exported = AcmExportCertSource(arn, ORDERS, client=aws_json.client("acm")).issue()
    assert exported.identity == str(ORDERS)  # the private key opened with the passphrase sent as a blob


def test_a_certificate_still_in_progress_is_polled_until_issued(root_ca: str) -> None:
    """AWS answers RequestInProgressException until IssueCertificate has finished; the local CA never does, so a
    client that delays the certificate twice stands in for it."""
    from portico.adapters import aws_json

    class Slow:
        def __init__(self) -> None:
            self.inner = aws_json.client("acm-pca")
            self.pending = 2

        def __getattr__(self, name: str) -> Any:
            return getattr(self.inner, name)

        def get_certificate(self, **kw: Any) -> dict[str, Any]:
            if self.pending:
                self.pending -= 1
                raise ClientError(
                    {"Error": {"Code": "RequestInProgressException", "Message": "wait"}}, "GetCertificate"
                )
            return self.inner.get_certificate(**kw)

    slept: list[float] = []
    slow = Slow()
    issued = AcmPcaCertSource(root_ca, ORDERS, client=slow, wait_delay=0.5, sleep=slept.append).issue()
    assert issued.identity == str(ORDERS) and slept == [0.5, 0.5] and slow.pending == 0
    never = Slow()
    never.pending = 10
    with pytest.raises(CertSourceError, match="did not issue"):
        AcmPcaCertSource(root_ca, ORDERS, client=never, wait_attempts=3, sleep=slept.append).issue()
