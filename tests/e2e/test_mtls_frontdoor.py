"""Acceptance 5: client certificates through the real front door terminating mutual TLS, as API Gateway's custom
domains do: a certificate from the configured CA with a matching SAN gets 200; none, or a non-matching SAN, 403."""

from __future__ import annotations

import http.client
import json
import ssl
from collections.abc import Callable
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from localdev.pki import ThrowawayCa, write

pytestmark = pytest.mark.e2e

CONFIG = """
apiVersion: portico/v1
kind: Consumer
metadata: {{name: shop}}
spec: {{subjects: [shop.partners.example.com]}}
---
apiVersion: portico/v1
kind: Route
metadata: {{name: partners}}
spec:
  match: {{pathPrefix: /partners}}
  auth: {{clientCert: {{sans: ["*.partners.example.com"], issuers: ["CN=Partners CA"]}}}}
  upstream: {{http: {{url: "{echo}"}}}}
"""


@pytest.fixture
def door(spawn: Callable[..., str], tmp_path: Path) -> dict[str, object]:
    ca, stranger = ThrowawayCa.create("Partners CA"), ThrowawayCa.create("Stranger CA")
    server = write(ca.issue(None, dns=("localhost",)), ca.pem, tmp_path / "server")
    clients = {
        "good": write(ca.issue(None, dns=("shop.partners.example.com",)), ca.pem, tmp_path / "good"),
        "wrong-san": write(ca.issue(None, dns=("shop.example.org",)), ca.pem, tmp_path / "wrong"),
        "stranger": write(stranger.issue(None, dns=("shop.partners.example.com",)), stranger.pem, tmp_path / "x"),
    }
    echo = spawn("localdev.demo.echo", "--name", "echo")
    config = tmp_path / "edge.yaml"
    config.write_text(CONFIG.format(echo=echo))
    cert, key, ca_file = server
    url = spawn(
        "localdev.frontdoor",
        "--config", str(config),
        "--tls-cert", str(cert), "--tls-key", str(key), "--client-ca", str(ca_file),
        env={"PORTICO_ACCESS_LOG": "false", "PORTICO_METRICS": "false"},
    )  # fmt: skip
    return {"url": url, "ca": str(ca_file), "clients": clients, "echo": echo}


def _get(door: dict[str, object], client: str | None) -> tuple[int, dict[str, object]]:
    context = ssl.create_default_context(cafile=str(door["ca"]))  # the client verifies the front door too
    if client is not None:
        cert, key, _ = door["clients"][client]  # type: ignore[index]
        context.load_cert_chain(str(cert), str(key))
    parts = urlsplit(str(door["url"]))
    conn = http.client.HTTPSConnection("localhost", parts.port, context=context, timeout=10)
    try:
        conn.request("GET", "/partners/orders")
        resp = conn.getresponse()
        return resp.status, json.loads(resp.read() or b"{}")
    finally:
        conn.close()


def test_certificate_from_the_ca_with_a_matching_san_passes(door: dict[str, object]) -> None:
    status, seen = _get(door, "good")
    assert status == 200
    headers = seen["headers"]
    assert isinstance(headers, dict)
    assert headers["x-portico-consumer"] == "shop" and headers["x-forwarded-proto"] == "https"


def test_no_certificate_or_a_non_matching_san_is_403(door: dict[str, object]) -> None:
    for client in (None, "wrong-san"):
        status, problem = _get(door, client)
        assert status == 403, client
        assert problem["status"] == 403 and problem["error"] == "invalid_client_certificate"


def test_a_certificate_from_another_ca_fails_the_handshake(door: dict[str, object]) -> None:
    with pytest.raises((ssl.SSLError, ConnectionResetError)):
        _get(door, "stranger")
