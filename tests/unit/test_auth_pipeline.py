"""Identity through the real edge pipeline: acceptance 1, the negative suite (2), scopes (4), API keys (5)."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import json
import time
from typing import Any

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from portico.core.auth.keys import parse_jwk
from tests.auth_support import (
    AUDIENCE,
    ISSUER,
    RFC7515_A2_RSA,
    RFC7515_A3_EC,
    RecordingTransport,
    b64,
    call,
    challenge_of,
    claims,
    edge_handler,
    public,
    sign,
)

NOW = time.time()
KEY = "ptk_the-good-key"
ISSUER_JWKS = json.dumps({"keys": [public(RFC7515_A2_RSA, kid="a2"), public(RFC7515_A3_EC, kid="a3")]})
CONFIG = f"""
apiVersion: portico/v1
kind: Issuer
metadata: {{name: corp}}
spec:
  issuer: "{ISSUER}"
  jwks: {ISSUER_JWKS}
  audiences: ["{AUDIENCE}"]
  algorithms: [RS256, ES256]
  leeway: 60s
  forwardClaims: [tenant]
---
apiVersion: portico/v1
kind: Consumer
metadata: {{name: acme}}
spec:
  subjects: [alice]
  scopes: ["orders:read"]
  apiKeys:
    - {{id: live, sha256: "{hashlib.sha256(KEY.encode()).hexdigest()}"}}
    - {{id: old, sha256: "{hashlib.sha256(b"ptk_revoked").hexdigest()}", status: revoked}}
---
apiVersion: portico/v1
kind: Route
metadata: {{name: orders}}
spec:
  match: {{pathPrefix: /orders}}
  auth: {{jwt: {{issuers: [corp], scopes: ["orders:read"]}}}}
  upstream: {{http: {{url: "https://orders.example.com"}}}}
---
apiVersion: portico/v1
kind: Route
metadata: {{name: admin}}
spec:
  match: {{pathPrefix: /admin}}
  auth: {{jwt: {{issuers: [corp], scopes: ["orders:admin"], claims: [{{name: tenant, values: [acme]}}]}}}}
  upstream: {{http: {{url: "https://orders.example.com"}}}}
---
apiVersion: portico/v1
kind: Route
metadata: {{name: keyed}}
spec:
  match: {{pathPrefix: /keyed}}
  auth: {{apiKey: {{scopes: ["orders:read"]}}}}
  upstream: {{http: {{url: "https://orders.example.com"}}}}
---
apiVersion: portico/v1
kind: Route
metadata: {{name: keyed-custom}}
spec:
  match: {{pathPrefix: /custom}}
  auth: {{apiKey: {{header: x-client-key}}}}
  upstream: {{http: {{url: "https://orders.example.com"}}}}
---
apiVersion: portico/v1
kind: Route
metadata: {{name: open}}
spec:
  match: {{pathPrefix: /open}}
  auth: {{none: {{}}}}
  upstream: {{http: {{url: "https://orders.example.com"}}}}
"""


def _run(path: str, headers: dict[str, str] | list[tuple[str, str]], query: str = "") -> tuple[Any, RecordingTransport]:
    transport = RecordingTransport()
    handler = edge_handler(CONFIG, transport)
    return asyncio.run(call(handler, path, headers, NOW, query)), transport


def _bearer(token: str) -> dict[str, str]:
    return {"authorization": f"Bearer {token}"}


def _rs(header: dict[str, Any] | None = None, **overrides: Any) -> str:
    return sign(RFC7515_A2_RSA, {"alg": "RS256", "kid": "a2", **(header or {})}, claims(NOW, **overrides))


# ── acceptance 1: RFC 7515 A.2 (RSA) and A.3 (EC P-256) keys, tokens minted by joserfc, fresh exp
@pytest.mark.parametrize(("jwk", "alg", "kid"), [(RFC7515_A2_RSA, "RS256", "a2"), (RFC7515_A3_EC, "ES256", "a3")])
def test_rfc7515_keys_open_the_route(jwk: dict[str, str], alg: str, kid: str) -> None:
    token = sign(jwk, {"alg": alg, "kid": kid, "typ": "JWT"}, claims(NOW, tenant="acme"))
    response, upstream = _run("/orders/1", _bearer(token))
    assert response.status == 200
    seen = upstream.seen[0].headers
    assert (seen.get("x-portico-sub"), seen.get("x-portico-consumer")) == ("alice", "acme")
    assert seen.get("x-portico-scopes") == "orders:read profile"
    assert seen.get("x-portico-claim-tenant") == "acme"


def _attacker() -> dict[str, str]:
    from joserfc.jwk import RSAKey

    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    return dict(RSAKey.import_key(key).as_dict(private=True))  # type: ignore[arg-type]


ATTACKER = _attacker()
_PEM = parse_jwk(public(RFC7515_A2_RSA)).key.public_bytes(  # type: ignore[union-attr]
    serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
)


def _hs256_with(secret: bytes) -> str:
    head, body = b64(b'{"alg":"HS256","kid":"a2"}'), b64(json.dumps(claims(NOW)).encode())
    return f"{head}.{body}.{b64(hmac.new(secret, f'{head}.{body}'.encode(), hashlib.sha256).digest())}"


def _none(alg: str, signature: bytes = b"") -> str:
    head = b64(json.dumps({"alg": alg, "kid": "a2"}).encode())
    body = b64(json.dumps(claims(NOW)).encode())
    return f"{head}.{body}.{b64(signature)}"


NEGATIVE: dict[str, str] = {
    "alg none, empty signature": _none("none"),
    "alg None": _none("None", b"sig"),
    "alg NONE": _none("NONE", b"sig"),
    "alg nOnE": _none("nOnE"),
    "alg none with a real RS256 signature": _none("none") + _rs().rsplit(".", 1)[1],
    "HS256 with the RSA public key (PEM) as secret": _hs256_with(_PEM),
    "HS256 with the RSA modulus as secret": _hs256_with(base64.urlsafe_b64decode(RFC7515_A2_RSA["n"] + "==")),
    "expired beyond leeway": _rs(exp=int(NOW) - 61, iat=int(NOW) - 600),
    "nbf in the future": _rs(nbf=int(NOW) + 120),
    "iss with a suffix": _rs(iss=ISSUER + "evil"),
    "iss without the trailing slash": _rs(iss=ISSUER.rstrip("/")),
    "iss with a second trailing slash": _rs(iss=ISSUER + "/"),
    "iss in another case": _rs(iss=ISSUER.upper()),
    "aud someone else's": _rs(aud="api://payments"),
    "aud array without ours": _rs(aud=["api://payments", "api://orders2"]),
    "unknown crit": _rs({"crit": ["x-portico-test"], "x-portico-test": True}),
    "string exp": _rs(exp=str(int(NOW) + 300)),
    "oversized token": _rs(padding="x" * 9000),
    "unknown kid": sign(ATTACKER, {"alg": "RS256", "kid": "not-a-key-of-ours"}, claims(NOW)),
    "jku header, attacker-signed": sign(
        ATTACKER, {"alg": "RS256", "kid": "a2", "jku": "https://evil.example/jwks.json"}, claims(NOW)
    ),
    "jwk header with the attacker's key": sign(ATTACKER, {"alg": "RS256", "jwk": public(ATTACKER)}, claims(NOW)),
    "jku header, validly signed": _rs({"jku": "https://idp.example.com/.well-known/jwks.json"}),
    "tampered payload": _rs().split(".")[0]
    + "."
    + b64(json.dumps(claims(NOW, sub="root")).encode())
    + "."
    + _rs().split(".")[2],
    "garbage": "not-a-jwt",
    "JWE": "eyJhbGciOiJSU0EtT0FFUCJ9.a.b.c.d",
    "nested cty JWT": _rs({"cty": "JWT"}),
}


@pytest.mark.parametrize("token", NEGATIVE.values(), ids=NEGATIVE.keys())
def test_negative_suite_is_401_invalid_token(token: str) -> None:
    response, upstream = _run("/orders/1", _bearer(token))
    assert response.status == 401, response.body
    assert 'error="invalid_token"' in challenge_of(response)
    assert challenge_of(response).startswith('Bearer realm="portico"') and "error_description=" in challenge_of(
        response
    )
    body = json.loads(response.body)
    assert body["error"] == "invalid_token" and body["status"] == 401
    assert response.headers.get("content-type") == "application/problem+json"
    assert upstream.seen == []


# ── acceptance 4 and the rest of the RFC 6750 table
def test_no_token_is_401_without_an_error_parameter() -> None:
    response, _ = _run("/orders/1", {})
    assert response.status == 401 and challenge_of(response) == 'Bearer realm="portico"'


def test_other_schemes_count_as_no_bearer_credentials() -> None:
    response, _ = _run("/orders/1", {"authorization": "Basic dXNlcjpwYXNz"})
    assert response.status == 401 and "error=" not in challenge_of(response)


def test_missing_scope_is_403_insufficient_scope_with_the_needed_scope() -> None:
    response, upstream = _run("/orders/1", _bearer(_rs(scope="profile")))
    assert response.status == 403
    assert 'error="insufficient_scope"' in challenge_of(response) and 'scope="orders:read"' in challenge_of(response)
    assert json.loads(response.body)["error"] == "insufficient_scope" and upstream.seen == []


def test_scp_array_and_claim_matchers() -> None:
    ok = _rs(scope=None, scp=["orders:admin"], tenant="acme")
    assert _run("/admin/x", _bearer(ok))[0].status == 200
    wrong_tenant = _rs(scope=None, scp=["orders:admin"], tenant="globex")
    response, _ = _run("/admin/x", _bearer(wrong_tenant))
    assert response.status == 403 and "claim tenant" in json.loads(response.body)["detail"]


@pytest.mark.parametrize(
    ("headers", "query"),
    [
        ({"authorization": f"Bearer {_rs()}"}, f"access_token={_rs()}"),
        ({}, f"access_token={_rs()}"),
        ([("authorization", f"Bearer {_rs()}"), ("authorization", f"Bearer {_rs()}")], ""),
        ({"authorization": "Bearer "}, ""),
    ],
    ids=["header and query", "query only", "two Authorization fields", "empty Bearer"],
)
def test_malformed_requests_are_400_invalid_request(headers: Any, query: str) -> None:
    response, _ = _run("/orders/1", headers, query)
    assert response.status == 400 and 'error="invalid_request"' in challenge_of(response)


def test_client_sent_identity_headers_never_reach_the_upstream() -> None:
    forged = {"x-portico-sub": "root", "x-portico-consumer": "bigcorp", "x-portico-claim-tenant": "acme"}
    response, upstream = _run("/open/1", forged)
    assert response.status == 200
    assert not [n for n in upstream.seen[0].headers.names() if n.startswith("x-portico-")]
    response, upstream = _run("/orders/1", {**forged, **_bearer(_rs(sub="bob"))})
    seen = upstream.seen[0].headers
    assert seen.get_all("x-portico-sub") == ["bob"] and "x-portico-consumer" not in seen


# ── acceptance 5: API keys
def test_valid_api_key_reaches_the_upstream_as_its_consumer_without_the_key() -> None:
    response, upstream = _run("/keyed/1", {"x-api-key": KEY})
    assert response.status == 200
    seen = upstream.seen[0].headers
    assert seen.get("x-portico-consumer") == "acme" and seen.get("x-portico-scopes") == "orders:read"
    assert "x-api-key" not in seen


@pytest.mark.parametrize("key", ["ptk_wrong", "ptk_revoked", KEY + "x", KEY.upper()])
def test_wrong_or_revoked_api_key_is_401(key: str) -> None:
    response, upstream = _run("/keyed/1", {"x-api-key": key})
    assert response.status == 401 and upstream.seen == []
    assert challenge_of(response) == (
        'ApiKey realm="portico", header="x-api-key", error="invalid_key", error_description="the API key is not valid"'
    )


def test_api_key_header_is_configurable_and_missing_key_has_no_error() -> None:
    assert _run("/custom/1", {"x-client-key": KEY})[0].status == 200
    response, _ = _run("/custom/1", {"x-api-key": KEY})
    assert response.status == 401 and challenge_of(response) == 'ApiKey realm="portico", header="x-client-key"'
