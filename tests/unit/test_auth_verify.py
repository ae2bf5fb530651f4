"""verify(token, keys, now, policy): RFC 7515 keys with joserfc-minted tokens, and each rule of the strict core."""

from __future__ import annotations

import time

import pytest
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa

from portico.core.auth.claims import TokenPolicy
from portico.core.auth.errors import InvalidToken, UnknownKey
from portico.core.auth.jws import parse_token
from portico.core.auth.keys import JwkError, KeySet, hmac_key, parse_jwk, parse_jwks
from portico.core.auth.signatures import signature_valid
from portico.core.auth.verify import verify
from tests.auth_support import (
    AUDIENCE,
    ISSUER,
    RFC7515_A2_RSA,
    RFC7515_A2_TOKEN,
    RFC7515_A3_EC,
    RFC7515_A3_TOKEN,
    b64,
    claims,
    forge,
    mint,
    public,
)

NOW = 1_900_000_000.0
ALL = frozenset({"RS256", "PS256", "ES256", "ES384", "EdDSA"})
POLICY = TokenPolicy(issuer=ISSUER, audiences=frozenset({AUDIENCE}), algorithms=ALL, leeway=60.0)
RFC_KEYS = parse_jwks(
    {"keys": [public(RFC7515_A2_RSA, kid="a2", use="sig"), public(RFC7515_A3_EC, kid="a3", alg="ES256")]}
)


def test_rfc7515_example_signatures_verify_with_the_public_keys() -> None:
    for jwk, token, alg in ((RFC7515_A2_RSA, RFC7515_A2_TOKEN, "RS256"), (RFC7515_A3_EC, RFC7515_A3_TOKEN, "ES256")):
        parsed = parse_token(token)
        assert signature_valid(alg, parse_jwk(public(jwk)), parsed.signing_input, parsed.signature)


@pytest.mark.parametrize(("jwk", "alg", "kid"), [(RFC7515_A2_RSA, "RS256", "a2"), (RFC7515_A3_EC, "ES256", "a3")])
def test_rfc7515_keys_accept_fresh_tokens_minted_by_joserfc(jwk: dict[str, str], alg: str, kid: str) -> None:
    now = time.time()
    token = mint(jwk, {"alg": alg, "kid": kid}, claims(now))
    assert verify(token, RFC_KEYS, now, POLICY).claims["sub"] == "alice"


def _jwk(key: object) -> dict[str, str]:
    from joserfc.jwk import ECKey, OKPKey, RSAKey

    kind = {rsa.RSAPrivateKey: RSAKey, ec.EllipticCurvePrivateKey: ECKey, ed25519.Ed25519PrivateKey: OKPKey}
    for base, cls in kind.items():
        if isinstance(key, base):
            return dict(cls.import_key(key).as_dict(private=True))  # type: ignore[attr-defined]
    raise AssertionError(key)


@pytest.mark.parametrize(
    ("alg", "make"),
    [
        ("PS256", lambda: rsa.generate_private_key(public_exponent=65537, key_size=2048)),
        ("ES384", lambda: ec.generate_private_key(ec.SECP384R1())),
        ("EdDSA", ed25519.Ed25519PrivateKey.generate),
    ],
)
def test_other_algorithms_verify(alg: str, make: object) -> None:
    jwk = _jwk(make())  # type: ignore[operator]
    keys = parse_jwks({"keys": [public(jwk, kid="k")]})
    assert verify(mint(jwk, {"alg": alg, "kid": "k"}, claims(NOW)), keys, NOW, POLICY).claims["iss"] == ISSUER


def _rs(**overrides: object) -> str:
    return mint(RFC7515_A2_RSA, {"alg": "RS256", "kid": "a2"}, claims(NOW, **overrides))


@pytest.mark.parametrize(
    ("token", "reason"),
    [
        (_rs(exp=int(NOW) - 61), "expired"),
        (_rs(nbf=int(NOW) + 61), "not valid yet"),
        (_rs(iat=int(NOW) + 3600), "issued in the future"),
        (_rs(exp="1900000300"), "NumericDate"),
        (_rs(exp=True), "NumericDate"),
        (_rs(exp=None), "no exp"),
        (_rs(iss=ISSUER + "x"), "issuer"),
        (_rs(iss=ISSUER.rstrip("/")), "issuer"),
        (_rs(iss=ISSUER.upper()), "issuer"),
        (_rs(aud="api://other"), "audience"),
        (_rs(aud=["api://a", "api://b"]), "audience"),
        (_rs(aud=[]), "aud must be"),
        (_rs(aud=None), "no aud"),
        (_rs(sub=42), "sub must be a string"),
        (_rs(scp=[1, 2]), "scp must be"),
    ],
)
def test_claims_are_checked_after_the_signature(token: str, reason: str) -> None:
    with pytest.raises(InvalidToken, match=reason):
        verify(token, RFC_KEYS, NOW, POLICY)


def test_leeway_admits_small_skew_and_arrays_with_our_audience() -> None:
    verify(_rs(exp=int(NOW) - 59, nbf=int(NOW) + 59, aud=["api://x", AUDIENCE]), RFC_KEYS, NOW, POLICY)


def test_typ_is_checked_when_configured_media_type_rules() -> None:
    strict = TokenPolicy(ISSUER, frozenset({AUDIENCE}), ALL, typ="at+jwt")
    ok = mint(RFC7515_A2_RSA, {"alg": "RS256", "kid": "a2", "typ": "application/AT+JWT"}, claims(NOW))
    verify(ok, RFC_KEYS, NOW, strict)
    with pytest.raises(InvalidToken, match="typ"):
        verify(_rs(), RFC_KEYS, NOW, strict)  # joserfc writes typ JWT


def test_algorithm_outside_the_issuer_list_is_refused() -> None:
    rs_only = TokenPolicy(ISSUER, frozenset({AUDIENCE}), frozenset({"RS256"}))
    es = mint(RFC7515_A3_EC, {"alg": "ES256", "kid": "a3"}, claims(NOW))
    with pytest.raises(InvalidToken, match="alg ES256 is not accepted"):
        verify(es, RFC_KEYS, NOW, rs_only)


def test_unknown_kid_and_kid_bound_to_another_alg_are_unknown_keys() -> None:
    with pytest.raises(UnknownKey):
        verify(mint(RFC7515_A2_RSA, {"alg": "RS256", "kid": "nope"}, claims(NOW)), RFC_KEYS, NOW, POLICY)
    # kid a3 is the EC key: an RS256 token naming it finds no key bound to RS256
    with pytest.raises(UnknownKey):
        verify(mint(RFC7515_A2_RSA, {"alg": "RS256", "kid": "a3"}, claims(NOW)), RFC_KEYS, NOW, POLICY)


def test_hmac_with_the_rsa_public_key_as_secret_never_verifies() -> None:
    import hashlib
    import hmac

    from cryptography.hazmat.primitives import serialization

    pem = parse_jwk(public(RFC7515_A2_RSA)).key.public_bytes(  # type: ignore[union-attr]
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    head, body = b64(b'{"alg":"HS256","kid":"a2"}'), b64(json_bytes(claims(NOW)))
    sig = hmac.new(pem, f"{head}.{body}".encode(), hashlib.sha256).digest()
    hs_policy = TokenPolicy(ISSUER, frozenset({AUDIENCE}), frozenset({"HS256", "RS256"}))
    with pytest.raises(InvalidToken):
        verify(f"{head}.{body}.{b64(sig)}", RFC_KEYS, NOW, hs_policy)


def json_bytes(value: object) -> bytes:
    import json

    return json.dumps(value).encode()


def test_hs256_verifies_only_with_the_configured_secret() -> None:
    import hashlib
    import hmac

    secret = "s" * 32
    head, body = b64(b'{"alg":"HS256"}'), b64(json_bytes(claims(NOW)))
    sig = hmac.new(secret.encode(), f"{head}.{body}".encode(), hashlib.sha256).digest()
    hs = TokenPolicy(ISSUER, frozenset({AUDIENCE}), frozenset({"HS256"}))
    assert verify(f"{head}.{body}.{b64(sig)}", hmac_key(secret), NOW, hs).claims["sub"] == "alice"
    with pytest.raises(InvalidToken, match="signature"):
        verify(f"{head}.{body}.{b64(sig[:-1] + b'x')}", hmac_key(secret), NOW, hs)


@pytest.mark.parametrize(
    ("token", "reason"),
    [
        (forge({"alg": "none"}, claims(NOW)), "alg none"),
        (forge({"alg": "NoNe"}, claims(NOW), b"x"), "alg none"),
        ("a." * 5000, "larger than 8192"),
        ("a.b.c.d.e", "JWE"),
        ("abc", "compact JWS"),
        (forge({"alg": "RS256", "jku": "https://evil/jwks"}, claims(NOW), b"x"), "jku"),
        (forge({"alg": "RS256", "x5c": ["MII..."]}, claims(NOW), b"x"), "x5c"),
        (forge({"alg": "RS256", "crit": ["exp"], "exp": 1}, claims(NOW), b"x"), "unknown critical"),
        (forge({"alg": "RS256", "cty": "JWT"}, claims(NOW), b"x"), "nested"),
        (forge({"alg": "RS256", "kid": 7}, claims(NOW), b"x"), "kid must be a string"),
        ("eyJhbGciOiJSUzI1NiIsImFsZyI6Im5vbmUifQ.e30.eA", "duplicate"),  # {"alg":"RS256","alg":"none"}
        (forge({"alg": "RS256"}, claims(NOW), b"x").replace(".", ".=", 1), "base64url"),
    ],
)
def test_structure_rules(token: str, reason: str) -> None:
    with pytest.raises(InvalidToken, match=reason):
        verify(token, RFC_KEYS, NOW, POLICY)


def test_ecdsa_signature_in_der_form_is_refused() -> None:
    token = mint(RFC7515_A3_EC, {"alg": "ES256", "kid": "a3"}, claims(NOW))
    head, body, _ = token.split(".")
    from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature

    raw = parse_token(token).signature
    der = encode_dss_signature(int.from_bytes(raw[:32], "big"), int.from_bytes(raw[32:], "big"))
    with pytest.raises(InvalidToken, match="signature"):
        verify(f"{head}.{body}.{b64(der)}", RFC_KEYS, NOW, POLICY)


@pytest.mark.parametrize(
    ("jwk", "reason"),
    [
        (RFC7515_A2_RSA, "private"),
        (public(RFC7515_A2_RSA, use="enc"), "use"),
        (public(RFC7515_A2_RSA, alg="ES256"), "does not fit"),
        (public(RFC7515_A3_EC, alg="ES384"), "does not fit"),
        ({"kty": "oct", "k": "c2VjcmV0"}, "symmetric"),
        ({**public(RFC7515_A3_EC), "y": RFC7515_A3_EC["x"]}, "not on the curve"),
        ({"kty": "RSA", "n": b64(b"\xff" * 128), "e": "AQAB"}, "at least 2048"),
        ({**public(RFC7515_A2_RSA), "key_ops": ["encrypt"]}, "key_ops"),
    ],
)
def test_unusable_jwks_are_refused_with_a_reason(jwk: dict[str, object], reason: str) -> None:
    with pytest.raises(JwkError, match=reason):
        parse_jwk(jwk)


def test_a_set_keeps_good_keys_and_reports_skipped_ones() -> None:
    keys = parse_jwks({"keys": [RFC7515_A2_RSA, public(RFC7515_A3_EC, kid="ec")]})
    assert [k.kid for k in keys.keys] == ["ec"] and "private" in keys.skipped[0]
    assert parse_jwks({"keys": [public(RFC7515_A3_EC)]}, ["RS256"]).keys == ()
    assert KeySet().candidates(None, "RS256") == []
