"""Acceptance 1-3 of mesh identity: mTLS between real sidecars, every rejection case, live AuthorizationPolicy."""

from __future__ import annotations

import json
import shutil
import subprocess
import time
from pathlib import Path
from typing import Any

import pytest

from localdev.dev.ca import mint
from localdev.pki import ThrowawayCa
from portico.adapters.aws import client
from portico.adapters.certs import pem, x509util
from portico.core.mesh.registry import Instance
from tests.e2e.mtls.conftest import TD, MtlsMesh, client_context, http, raw_request

pytestmark = pytest.mark.e2e

ONLY_ORDERS = """
apiVersion: security.istio.io/v1beta1
kind: AuthorizationPolicy
metadata: {name: payments-charge}
spec:
  selector: {matchLabels: {app: payments}}
  action: ALLOW
  rules:
    - from: [{source: {principals: [%s]}}]
      to: [{operation: {methods: [POST], paths: [/charge]}}]
"""


def issue_from_local_ca(pca_arn: str, spiffe_id: str, *, not_before: float, not_after: float) -> tuple[bytes, bytes]:
    """A certificate from OUR CA with any window or identity (the local endpoint honours Validity like AWS)."""
    key = x509util.new_key()
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.x509.oid import NameOID

    csr = (
        x509.CertificateSigningRequestBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "probe")]))
        .add_extension(x509.SubjectAlternativeName([x509.UniformResourceIdentifier(spiffe_id)]), critical=False)
        .sign(key, hashes.SHA256())
        .public_bytes(serialization.Encoding.PEM)
    )
    pca = client("acm-pca")
    arn = pca.issue_certificate(
        CertificateAuthorityArn=pca_arn,
        Csr=csr,
        SigningAlgorithm="SHA256WITHRSA",
        TemplateArn="arn:aws:acm-pca:::template/EndEntityCertificate/V1",
        Validity={"Type": "ABSOLUTE", "Value": int(not_after)},
        ValidityNotBefore={"Type": "ABSOLUTE", "Value": int(not_before)},
    )["CertificateArn"]
    got = pca.get_certificate(CertificateAuthorityArn=pca_arn, CertificateArn=arn)
    return pem.join_pem(got["Certificate"], got["CertificateChain"]), x509util.key_pem(key)


def bundle(pca_arn: str) -> bytes:
    return (
        client("acm-pca").get_certificate_authority_certificate(CertificateAuthorityArn=pca_arn)["Certificate"].encode()
    )


@pytest.fixture
def payments(mesh: MtlsMesh) -> Any:
    mesh.config(ONLY_ORDERS % "cluster.local/ns/default/sa/orders")
    return mesh.start("payments")


def test_two_sidecars_talk_mtls_and_openssl_sees_the_spiffe_san(mesh: MtlsMesh, payments: Any, tmp_path: Path) -> None:
    orders = mesh.start("orders", app=False)
    mesh.wait_routable(orders, "payments", "/charge")
    status, body = orders.call("/charge", method="POST")
    assert status == 200 and json.loads(body)["service"] == "payments"

    certs = mint("debug", tmp_path / "debug")
    assert shutil.which("openssl"), "openssl is needed for this check"
    handshake = subprocess.run(
        ["openssl", "s_client", "-connect", f"127.0.0.1:{payments.inbound}", "-CAfile", str(certs / "ca.pem"),
         "-cert", str(certs / "cert.pem"), "-key", str(certs / "key.pem"), "-showcerts", "-brief"],
        input=b"", capture_output=True, timeout=20,
    )  # fmt: skip
    text = (handshake.stdout + handshake.stderr).decode()
    assert "Verification: OK" in text and "TLSv1.3" in text, text
    served = subprocess.run(
        ["openssl", "s_client", "-connect", f"127.0.0.1:{payments.inbound}", "-CAfile", str(certs / "ca.pem"),
         "-cert", str(certs / "cert.pem"), "-key", str(certs / "key.pem")],
        input=b"", capture_output=True, timeout=20,
    ).stdout  # fmt: skip
    san = subprocess.run(["openssl", "x509", "-noout", "-ext", "subjectAltName"], input=served, capture_output=True)
    assert "URI:spiffe://cluster.local/ns/default/sa/payments" in san.stdout.decode()
    # Without a client certificate the server refuses: mTLS is mutual.
    no_cert = subprocess.run(
        ["openssl", "s_client", "-connect", f"127.0.0.1:{payments.inbound}", "-CAfile", str(certs / "ca.pem")],
        input=b"GET / HTTP/1.1\r\nhost: x\r\n\r\n", capture_output=True, timeout=20,
    )  # fmt: skip
    assert b"HTTP/1.1" not in no_cert.stdout


def test_each_bad_peer_is_rejected(mesh: MtlsMesh, payments: Any, pca_arn: str, tmp_path: Path) -> None:
    now = time.time()
    ours = bundle(pca_arn)
    orders_id = f"spiffe://{TD}/ns/default/sa/orders"
    good = issue_from_local_ca(pca_arn, orders_id, not_before=now - 60, not_after=now + 600)
    assert raw_request(payments.inbound, client_context(*good, ours, tmp_path / "good")).startswith(b"HTTP/1.1 200")

    # a plaintext client
    assert not raw_request(payments.inbound, None).startswith(b"HTTP/")
    # a client certificate from another CA
    stranger = ThrowawayCa.create("Stranger CA")
    other = stranger.issue(f"spiffe://{TD}/ns/default/sa/orders")
    ctx = client_context(other.chain_pem, other.key_pem, ours, tmp_path / "other-ca")
    assert raw_request(payments.inbound, ctx) == b""
    # an expired certificate from our CA
    expired = issue_from_local_ca(
        pca_arn, f"spiffe://{TD}/ns/default/sa/orders", not_before=now - 7200, not_after=now - 60
    )
    assert raw_request(payments.inbound, client_context(*expired, ours, tmp_path / "expired")) == b""
    # a certificate from our CA that is not valid yet
    early = issue_from_local_ca(
        pca_arn, f"spiffe://{TD}/ns/default/sa/orders", not_before=now + 3600, not_after=now + 7200
    )
    assert raw_request(payments.inbound, client_context(*early, ours, tmp_path / "early")) == b""
    # a certificate from our CA for another trust domain: the TLS chain is fine, the identity is not
    foreign = issue_from_local_ca(
        pca_arn, "spiffe://evil.local/ns/default/sa/orders", not_before=now - 60, not_after=now + 600
    )
    answer = raw_request(payments.inbound, client_context(*foreign, ours, tmp_path / "foreign"))
    assert answer.startswith(b"HTTP/1.1 403") and b"trust domain" in answer


def test_a_server_with_the_wrong_spiffe_id_is_refused(mesh: MtlsMesh, tables: dict[str, str]) -> None:
    """An impostor registered as `payments` presents a valid certificate from our CA, but for `catalog`."""
    mesh.config("")
    impostor = mesh.start("catalog")
    orders = mesh.start("orders", app=False)
    from portico.adapters.dynamodb.registry_store import DynamoDbRegistryStore

    store = DynamoDbRegistryStore(tables["registry"])
    fake = Instance("payments", "impostor", "127.0.0.1", impostor.inbound, {}, 1, "HEALTHY", time.time())
    deadline = time.monotonic() + 10
    status = 0
    while time.monotonic() < deadline:
        store.heartbeat(fake, 60)
        status = orders.call("/charge")[0]
        if status not in (404,):  # 404: the registry view has no payments yet
            break
        time.sleep(0.2)
    assert status in (502, 503), status
    stats = http(f"http://127.0.0.1:{impostor.admin}/stats")[1]
    assert b'portico_requests_total{reporter="destination"' not in stats  # the impostor never saw a request


def test_policy_allows_orders_denies_others_and_changes_live(mesh: MtlsMesh, payments: Any) -> None:
    orders = mesh.start("orders", app=False)
    catalog = mesh.start("catalog", app=False)
    mesh.wait_routable(orders, "payments", "/charge")
    mesh.wait_routable(catalog, "payments", "/charge")
    assert orders.call("/charge", method="POST")[0] == 200
    status, body = catalog.call("/charge", method="POST")
    assert status == 403 and b"RBAC: access denied" in body
    assert orders.call("/charge", method="GET")[0] == 403  # only POST is allowed
    assert orders.call("/refund", method="POST")[0] == 403

    pids = [p.pid for p in payments.procs]
    mesh.config(ONLY_ORDERS % "cluster.local/ns/default/sa/orders, '*/sa/catalog'")
    deadline = time.monotonic() + 10
    while catalog.call("/charge", method="POST")[0] != 200:
        assert time.monotonic() < deadline, "the policy change never applied"
        time.sleep(0.2)
    assert orders.call("/charge", method="POST")[0] == 200
    assert [p.pid for p in payments.procs] == pids and all(p.poll() is None for p in payments.procs)


def test_the_edge_calls_a_mesh_service_with_its_own_identity(mesh: MtlsMesh, tables: dict[str, str]) -> None:
    """The edge's `service` upstream: its own SPIFFE ID, which payments' policy names like any other caller."""
    import asyncio

    from portico.adapters.certs.pca import AcmPcaCertSource
    from portico.adapters.clock import SystemClock
    from portico.adapters.dynamodb.registry_store import DynamoDbRegistryStore
    from portico.adapters.tls.identity import MeshIdentity
    from portico.core.headers import Headers
    from portico.core.http import Request
    from portico.core.mtls.spiffe import build
    from portico.mesh.client import MeshServiceClient, mtls_settings

    mesh.config(ONLY_ORDERS % "'*/sa/edge'")
    mesh.start("payments")

    async def call(service: str) -> int:
        edge_id = build(TD, "default", service)
        identity = MeshIdentity(AcmPcaCertSource(mesh.pca_arn, edge_id), edge_id)
        await identity.start()
        client = MeshServiceClient(DynamoDbRegistryStore(tables["registry"]), mtls_settings(identity), SystemClock())
        req = Request("POST", "/charge", headers=Headers([("host", "payments")]), body=b"{}", host="payments")
        try:
            for _ in range(50):
                try:
                    return (await client.call("payments", req, "/charge", 5.0)).status
                except Exception:  # not registered yet
                    await asyncio.sleep(0.2)
            raise AssertionError("payments never became reachable")
        finally:
            client.close()
            await asyncio.sleep(0.1)  # TLS transports finish closing on the loop before asyncio.run closes it

    assert asyncio.run(call("edge")) == 200
    assert asyncio.run(call("intruder")) == 403
