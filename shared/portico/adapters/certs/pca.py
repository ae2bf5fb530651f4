"""AcmPcaCertSource: a key made in the task, a CSR with the SPIFFE URI SAN, and a short-lived AWS Private CA cert."""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from portico.adapters import aws
from portico.adapters.certs import pem
from portico.core.mtls.spiffe import SpiffeId
from portico.core.ports import CertSourceError, IssuedCert

# Client and server authentication EKUs, the CSR's subject and SANs passed through, CA:FALSE.
END_ENTITY_TEMPLATE = "arn:aws:acm-pca:::template/EndEntityCertificate/V1"
DEFAULT_VALIDITY = 24 * 3600.0
_SIGNING = {"EC": "SHA256WITHECDSA", "RS": "SHA256WITHRSA"}


class AcmPcaCertSource:
    """Issues a fresh certificate on every `issue()`; the trust bundle is the issuing CA's chain (plus any CAs in
    `trust_ca_arns`, so a new CA can be trusted before sidecars move to it)."""

    def __init__(
        self,
        ca_arn: str,
        identity: SpiffeId,
        *,
        validity: float = DEFAULT_VALIDITY,
        template_arn: str = END_ENTITY_TEMPLATE,
        trust_ca_arns: Sequence[str] = (),
        client: Any = None,
        wait_delay: float = 1.0,
        wait_attempts: int = 30,
        clock: Callable[[], float] = time.time,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        if validity < 60:
            raise ValueError("certificate validity must be at least 60 seconds")
        self.ca_arn = ca_arn
        self.identity = identity
        self.validity = validity
        self.template_arn = template_arn
        self.trust_ca_arns = [ca_arn, *(a for a in trust_ca_arns if a != ca_arn)]
        self._client = client
        self._wait_delay = wait_delay
        self._wait_attempts = wait_attempts
        self._clock = clock
        self._sleep = sleep
        self._signing: str | None = None

    @property
    def client(self) -> Any:
        if self._client is None:
            self._client = aws.client("acm-pca", timeout=10, retries=3)
        return self._client

    def issue(self) -> IssuedCert:
        # cryptography only where a certificate is issued (the sidecar's certworker), never at import
        from portico.adapters.certs import x509util

        key = x509util.new_key()
        csr = x509util.csr_pem(key, self.identity)
        try:
            arn = self.client.issue_certificate(
                CertificateAuthorityArn=self.ca_arn,
                Csr=csr,
                SigningAlgorithm=self._signing_algorithm(),
                TemplateArn=self.template_arn,
                Validity=self._validity(),
            )["CertificateArn"]
            got = self._issued(arn)
        except (ClientError, BotoCoreError) as exc:
            raise CertSourceError(f"AWS Private CA {self.ca_arn} did not issue a certificate: {exc}") from exc
        chain = pem.join_pem(got["Certificate"], got.get("CertificateChain"))
        return x509util.issued(chain, x509util.key_pem(key), self.identity)

    def _issued(self, arn: str) -> dict[str, Any]:
        """IssueCertificate is asynchronous on AWS: GetCertificate answers RequestInProgressException until the
        certificate is ready. Polled here as botocore's `certificate_issued` waiter does, without its waiter model
        (the sidecar's client has no service models)."""
        for attempt in range(1, self._wait_attempts + 1):
            try:
                got: dict[str, Any] = self.client.get_certificate(
                    CertificateAuthorityArn=self.ca_arn, CertificateArn=arn
                )
                return got
            except ClientError as exc:
                pending = exc.response.get("Error", {}).get("Code") == "RequestInProgressException"
                if not pending or attempt == self._wait_attempts:
                    raise
            self._sleep(self._wait_delay)
        raise CertSourceError(f"certificate {arn} was not issued")  # only when wait_attempts < 1

    def trust_bundle(self) -> bytes:
        blobs: list[bytes] = []
        for arn in self.trust_ca_arns:
            try:
                got = self.client.get_certificate_authority_certificate(CertificateAuthorityArn=arn)
            except (ClientError, BotoCoreError) as exc:
                raise CertSourceError(f"could not read the certificate of CA {arn}: {exc}") from exc
            blobs.append(pem.join_pem(got["Certificate"], got.get("CertificateChain")))
        return b"".join(a.pem for a in pem.anchors(blobs))

    def _validity(self) -> dict[str, Any]:
        days, rest = divmod(self.validity, 86400)
        if rest == 0:
            return {"Type": "DAYS", "Value": int(days)}
        return {"Type": "ABSOLUTE", "Value": int(self._clock() + self.validity)}

    def _signing_algorithm(self) -> str:
        """The CA's key type decides the signature algorithm (EC CAs sign with ECDSA, RSA CAs with RSA)."""
        if self._signing is None:
            try:
                ca = self.client.describe_certificate_authority(CertificateAuthorityArn=self.ca_arn)
            except (ClientError, BotoCoreError) as exc:
                raise CertSourceError(f"could not describe CA {self.ca_arn}: {exc}") from exc
            info = ca["CertificateAuthority"]
            if info.get("Status") != "ACTIVE":
                raise CertSourceError(f"CA {self.ca_arn} is {info.get('Status')}, not ACTIVE")
            algorithm = info["CertificateAuthorityConfiguration"]["KeyAlgorithm"]
            self._signing = _SIGNING.get(algorithm[:2], "SHA256WITHRSA")
        return self._signing
