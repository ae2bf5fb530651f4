"""Client certificates through the real edge chain: required, matched by SAN/subject/issuer, consumer for quotas."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from localdev.pki import ThrowawayCa
from portico.adapters.memory import InMemoryQuotaStore
from portico.core.chain import Context
from portico.core.headers import Headers
from portico.core.http import ClientCert, Request
from portico.core.quota.limiter import QuotaLimiter
from portico.edge.events.http_api import parse
from portico.edge.filters.attrs import IDENTITY
from tests.unit.protect.kit import CountingUpstream, pipeline

CA = ThrowawayCa.create("Partners CA")
OTHER_CA = ThrowawayCa.create("Stranger CA")
GOOD = CA.issue(None, dns=("shop.partners.example.com",)).chain_pem.decode()
WRONG_SAN = CA.issue(None, dns=("shop.example.org",)).chain_pem.decode()
STRANGER = OTHER_CA.issue(None, dns=("shop.partners.example.com",)).chain_pem.decode()
CONFIG = """
apiVersion: portico/v1
kind: RateLimitPolicy
metadata: {name: per-partner}
spec:
  key: consumer
  limits: [{requests: 2, window: 1m}]
---
apiVersion: portico/v1
kind: Consumer
metadata: {name: shop}
spec: {subjects: [shop.partners.example.com]}
---
apiVersion: portico/v1
kind: Route
metadata: {name: partners}
spec:
  match: {pathPrefix: /partners}
  auth: {clientCert: {sans: ["*.partners.example.com"], issuers: ["CN=Partners CA"]}}
  rateLimit: per-partner
  upstream: {mock: {status: 200}}
"""


def _send(handler: Any, pem: str | None) -> tuple[int, Any]:
    cert = ClientCert(pem=pem) if pem is not None else None
    req = Request(method="GET", path="/partners/x", headers=Headers([("host", "api.test")]), client_cert=cert)
    ctx = Context(request=req, now=1_700_000_000.0, request_id="r")
    response = asyncio.run(handler(ctx))
    return response.status, ctx.attrs.get(IDENTITY)


@pytest.fixture
def handler() -> Any:
    limiter = QuotaLimiter(InMemoryQuotaStore())  # one per process, as the entry point makes it
    return pipeline(CONFIG, CountingUpstream(), quota=lambda: limiter)


def test_matching_certificate_passes_and_is_the_consumer(handler: Any) -> None:
    status, identity = _send(handler, GOOD)
    assert status == 200
    assert identity.method == "clientCert" and identity.consumer == "shop"


@pytest.mark.parametrize("pem", [None, WRONG_SAN, STRANGER, "-----BEGIN CERTIFICATE-----\nnot a cert\n"])
def test_missing_non_matching_or_unreadable_certificate_is_403(handler: Any, pem: str | None) -> None:
    assert _send(handler, pem)[0] == 403


def test_certificate_holder_has_its_own_quota(handler: Any) -> None:
    assert [_send(handler, GOOD)[0] for _ in range(3)] == [200, 200, 429]


def test_http_api_event_carries_the_client_certificate() -> None:
    event = {
        "version": "2.0",
        "rawPath": "/x",
        "requestContext": {
            "http": {"method": "GET", "path": "/x", "sourceIp": "192.0.2.1"},
            "authentication": {
                "clientCert": {
                    "clientCertPem": GOOD,
                    "subjectDN": "CN=workload",
                    "issuerDN": "CN=Partners CA",
                    "serialNumber": "01",
                }
            },
        },
    }
    cert = parse(event).request.client_cert
    assert cert is not None and cert.pem == GOOD and cert.issuer_dn == "CN=Partners CA"
