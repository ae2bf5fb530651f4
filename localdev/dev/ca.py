"""Dev component: a root CA on the local AWS Private CA, created and activated the way one is on AWS.

CreateCertificateAuthority -> GetCertificateAuthorityCsr -> IssueCertificate (RootCACertificate/V1, self-signed)
-> ImportCertificateAuthorityCertificate. A CA that an earlier run left ACTIVE on a reused endpoint is reused.
`python -m localdev.dev.ca mint --service NAME --out DIR` mints a workload certificate for curl/openssl.
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from localdev.dev.run import DevRun

ROOT_TEMPLATE = "arn:aws:acm-pca:::template/RootCACertificate/V1"
TAG = {"Key": "portico:role", "Value": "local-root-ca"}
_WAIT = {"Delay": 1, "MaxAttempts": 30}


SECTION = "mesh identity: the local AWS Private CA"


def ensure_root_ca(pca: Any, common_name: str = "Portico local root CA") -> str:
    """The ARN of an ACTIVE local root CA, creating and activating one when none is found."""
    for ca in pca.list_certificate_authorities().get("CertificateAuthorities", []):
        if ca.get("Status") == "ACTIVE" and ca.get("Type") == "ROOT":
            tags = pca.list_tags(CertificateAuthorityArn=ca["Arn"]).get("Tags", [])
            if TAG in tags:
                return str(ca["Arn"])
    arn = pca.create_certificate_authority(
        CertificateAuthorityType="ROOT",
        CertificateAuthorityConfiguration={
            "KeyAlgorithm": "RSA_2048",
            "SigningAlgorithm": "SHA256WITHRSA",
            "Subject": {"CommonName": common_name, "Organization": "Portico dev"},
        },
        RevocationConfiguration={"CrlConfiguration": {"Enabled": False}},
        Tags=[TAG],
    )["CertificateAuthorityArn"]
    pca.get_waiter("certificate_authority_csr_created").wait(CertificateAuthorityArn=arn, WaiterConfig=_WAIT)
    csr = pca.get_certificate_authority_csr(CertificateAuthorityArn=arn)["Csr"]
    cert_arn = pca.issue_certificate(
        CertificateAuthorityArn=arn,
        Csr=csr.encode(),
        SigningAlgorithm="SHA256WITHRSA",
        TemplateArn=ROOT_TEMPLATE,
        Validity={"Type": "YEARS", "Value": 10},
    )["CertificateArn"]
    ids = {"CertificateAuthorityArn": arn, "CertificateArn": cert_arn}
    pca.get_waiter("certificate_issued").wait(**ids, WaiterConfig=_WAIT)
    cert = pca.get_certificate(**ids)["Certificate"]
    pca.import_certificate_authority_certificate(CertificateAuthorityArn=arn, Certificate=cert.encode())
    status = pca.describe_certificate_authority(CertificateAuthorityArn=arn)["CertificateAuthority"]["Status"]
    if status != "ACTIVE":
        raise RuntimeError(f"the local root CA {arn} is {status} after importing its certificate")
    return str(arn)


def ca_bundle(pca: Any, arn: str) -> bytes:
    got = pca.get_certificate_authority_certificate(CertificateAuthorityArn=arn)
    return (str(got["Certificate"]).strip() + "\n").encode()


def start(run: DevRun) -> None:
    from portico.adapters import aws

    pca = aws.client("acm-pca")
    try:
        arn = ensure_root_ca(pca)
    except (ClientError, BotoCoreError) as exc:
        # LocalStack Community has no acm-pca: the edge still runs; sidecars say what certificate source they need.
        run.facts["private CA"] = f"unavailable on this endpoint ({exc}); sidecars need PORTICO_TLS_* files"
        return
    bundle = run.state_dir / "ca.pem"
    bundle.write_bytes(ca_bundle(pca, arn))
    run.env["PORTICO_PCA_ARN"] = arn
    os.environ["PORTICO_PCA_ARN"] = arn
    run.facts["private CA"] = f"{arn.rsplit('/', 1)[-1]} (bundle {bundle})"
    run.hint(f"python -m localdev.dev.ca mint --service debug --out {run.state_dir / 'debug-cert'}", SECTION)


def mint(service: str, out: Path, *, namespace: str = "default", trust_domain: str = "cluster.local") -> Path:
    """Issue a workload certificate from the local CA and write cert.pem, key.pem and ca.pem into `out`."""
    from portico.adapters import aws
    from portico.adapters.certs.pca import AcmPcaCertSource
    from portico.core.mtls.spiffe import build

    arn = os.environ.get("PORTICO_PCA_ARN") or ensure_root_ca(aws.client("acm-pca"))
    source = AcmPcaCertSource(arn, build(trust_domain, namespace, service))
    cert = source.issue()
    out.mkdir(parents=True, exist_ok=True)
    (out / "cert.pem").write_bytes(cert.chain_pem)
    key = out / "key.pem"
    key.touch(mode=0o600)
    key.write_bytes(cert.key_pem)
    (out / "ca.pem").write_bytes(source.trust_bundle())
    return out


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m localdev.dev.ca")
    sub = parser.add_subparsers(dest="command", required=True)
    m = sub.add_parser("mint", help="issue a workload certificate from the local CA (source .portico/env first)")
    m.add_argument("--service", required=True)
    m.add_argument("--namespace", default="default")
    m.add_argument("--trust-domain", default=os.environ.get("PORTICO_TRUST_DOMAIN", "cluster.local"))
    m.add_argument("--out", type=Path, required=True)
    args = parser.parse_args(argv)
    out = mint(args.service, args.out, namespace=args.namespace, trust_domain=args.trust_domain)
    print(f"wrote {out}/cert.pem, key.pem, ca.pem")
    print(f"try: openssl s_client -connect 127.0.0.1:PORT -CAfile {out}/ca.pem -cert {out}/cert.pem -key {out}/key.pem")


if __name__ == "__main__":
    main()
