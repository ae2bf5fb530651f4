"""Issue 20 defects 8, 9 and 10 through the real edge pipeline: huge NumericDates, HS256 with a kid, JOSE strictness.

Tokens are signed by joserfc (an independent JOSE implementation); the variants no library will produce (a BOM
in the header, changed unused base64 bits) are assembled by hand from a validly signed token.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import json
import string
from typing import Any

import pytest
from joserfc import jws
from joserfc.jwk import OctKey
from joserfc.registry import HeaderParameter

from tests.auth_support import AUDIENCE, ISSUER, RecordingTransport, b64, call, claims, edge_handler

NOW = 1_900_000_000.0
SECRET = "s" * 32
HUGE = int("1" + "0" * 400)


def _config(kid_line: str = "") -> str:
    return f"""
apiVersion: portico/v1
kind: Route
metadata: {{name: orders}}
spec:
  match: {{path: /orders}}
  auth: {{jwt: {{issuers: [corp]}}}}
  upstream: {{http: {{url: "https://orders.example.com/orders"}}}}
---
apiVersion: portico/v1
kind: Issuer
metadata: {{name: corp}}
spec:
  issuer: {ISSUER}
  audiences: [{AUDIENCE}]
  algorithms: [HS256]
  hmacSecret: {SECRET}
  {kid_line}
"""


def _sign(header: dict[str, Any], payload: dict[str, Any], secret: str = SECRET) -> str:
    extra = {n: HeaderParameter(f"test {n}", lambda value: None) for n in header if n not in ("alg", "kid")}
    registry = jws.JWSRegistry(header_registry=extra, strict_check_header=False)
    key = OctKey.import_key(secret.encode())
    return jws.serialize_compact(header, json.dumps(payload).encode(), key, algorithms=["HS256"], registry=registry)


def _hs256(head: bytes, body: bytes) -> str:
    """A token over exactly these header and payload bytes, HMAC-signed by hand (JOSE libraries refuse a BOM)."""
    signing_input = f"{b64(head)}.{b64(body)}"
    signature = hmac.new(SECRET.encode(), signing_input.encode(), hashlib.sha256).digest()
    return f"{signing_input}.{b64(signature)}"


def _status(token: str, kid_line: str = "") -> tuple[int, dict[str, Any]]:
    transport = RecordingTransport()
    handler = edge_handler(_config(kid_line), transport)
    response = asyncio.run(call(handler, "/orders", {"authorization": f"Bearer {token}"}, NOW))
    return response.status, json.loads(response.body)


def test_a_good_hs256_token_passes() -> None:
    assert _status(_sign({"alg": "HS256"}, claims(NOW)))[0] == 200


@pytest.mark.parametrize("claim", ["exp", "nbf", "iat"])
def test_a_huge_integer_date_is_401_not_500(claim: str) -> None:
    status, body = _status(_sign({"alg": "HS256"}, claims(NOW, **{claim: HUGE})))
    assert status == 401 and "NumericDate" in body["detail"]


@pytest.mark.parametrize("value", [1e308, -5, 10**20])
def test_dates_outside_years_1970_to_9999_are_refused(value: float) -> None:
    assert _status(_sign({"alg": "HS256"}, claims(NOW, exp=value)))[0] == 401


def test_hs256_accepts_a_token_with_a_kid() -> None:
    assert _status(_sign({"alg": "HS256", "kid": "k1"}, claims(NOW)))[0] == 200


def test_hs256_with_a_configured_kid_matches_on_it() -> None:
    kid = "hmacKid: k1"
    assert _status(_sign({"alg": "HS256", "kid": "k1"}, claims(NOW)), kid)[0] == 200
    assert _status(_sign({"alg": "HS256"}, claims(NOW)), kid)[0] == 200  # no kid in the token: the one key
    status, body = _status(_sign({"alg": "HS256", "kid": "k2"}, claims(NOW)), kid)
    assert status == 401 and "kid" in body["detail"]


def test_crit_null_is_refused() -> None:
    status, body = _status(_hs256(b'{"alg":"HS256","crit":null}', json.dumps(claims(NOW)).encode()))
    assert status == 401 and "crit" in body["detail"]


@pytest.mark.parametrize("where", ["header", "payload"])
def test_a_byte_order_mark_is_refused(where: str) -> None:
    head, body = b'{"alg":"HS256"}', json.dumps(claims(NOW)).encode()
    assert _status(_hs256(head, body))[0] == 200  # the same bytes without the BOM pass
    bom = b"\xef\xbb\xbf"
    token = _hs256(bom + head, body) if where == "header" else _hs256(head, bom + body)
    status, problem = _status(token)
    assert status == 401 and "byte-order mark" in problem["detail"]


def _respell_last_char(segment: str) -> str:
    """The same bytes with different unused bits: flip the lowest bit of the last base64url digit."""
    alphabet = string.ascii_uppercase + string.ascii_lowercase + string.digits + "-_"
    twin = segment[:-1] + alphabet[alphabet.index(segment[-1]) ^ 1]
    pad = "=" * (-len(segment) % 4)
    assert base64.urlsafe_b64decode(twin + pad) == base64.urlsafe_b64decode(segment + pad)
    return twin


@pytest.mark.parametrize("part", [0, 1, 2])
def test_changed_unused_base64_bits_are_refused(part: int) -> None:
    head, body = b'{"alg":"HS256" }', json.dumps(claims(NOW)).encode()
    while len(body) % 3 == 0:  # a length that leaves unused bits in the last base64url digit
        body += b" "
    parts = _hs256(head, body).split(".")
    assert _status(".".join(parts))[0] == 200
    assert all(len(p) % 4 for p in parts), "each segment needs unused bits for this test"
    parts[part] = _respell_last_char(parts[part])
    status, body = _status(".".join(parts))
    assert status == 401 and "base64url" in body["detail"]
