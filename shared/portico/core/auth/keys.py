"""JWKs parsed once into public keys bound to their kty, the algorithms they may verify, and their use.

Keys come only from an issuer's configured JWKS (fetched or inline) or its configured HMAC secret. A JWK that is
not a public signature key we understand is skipped with a reason, never guessed at: private or symmetric material
in a JWKS, `use: enc`, key_ops without `verify`, an `alg` that contradicts the key type or curve, RSA under 2048 bits.
"""

from __future__ import annotations

import base64
import binascii
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives.asymmetric import ec, ed448, ed25519, rsa

PublicKey = rsa.RSAPublicKey | ec.EllipticCurvePublicKey | ed25519.Ed25519PublicKey | ed448.Ed448PublicKey

RSA_ALGORITHMS = frozenset({"RS256", "RS384", "RS512", "PS256", "PS384", "PS512"})
EC_CURVES: dict[str, tuple[str, ec.EllipticCurve, int]] = {
    "P-256": ("ES256", ec.SECP256R1(), 32),
    "P-384": ("ES384", ec.SECP384R1(), 48),
    "P-521": ("ES512", ec.SECP521R1(), 66),
}
OKP_CURVES = {"Ed25519": 32, "Ed448": 57}
MIN_RSA_BITS = 2048
MAX_KEYS = 100  # a JWKS is a handful of keys; a huge one is a mistake or an attack on our memory
_PRIVATE_MEMBERS = frozenset({"d", "p", "q", "dp", "dq", "qi", "oth", "k"})
_B64URL = re.compile(r"[A-Za-z0-9_-]*")


class JwkError(ValueError):
    """A JWK that cannot be used; the message says why."""


@dataclass(frozen=True, slots=True)
class VerificationKey:
    """One public key (or the issuer's HMAC secret) and the exact algorithms it may verify."""

    kid: str | None
    kty: str
    algorithms: frozenset[str]
    key: PublicKey | bytes = field(repr=False)


@dataclass(frozen=True, slots=True)
class KeySet:
    keys: tuple[VerificationKey, ...] = ()
    skipped: tuple[str, ...] = ()

    def candidates(self, kid: str | None, alg: str) -> list[VerificationKey]:
        """Keys that may verify a token with this `kid` and `alg`; without a kid, every key bound to `alg`.

        An issuer's HMAC secret is its only key: without a kid of its own it verifies tokens whatever kid they
        carry; with one (`hmacKid`), the token's kid must match it when the token has one.
        """
        return [
            k
            for k in self.keys
            if alg in k.algorithms and (kid is None or k.kid == kid or (k.kid is None and k.kty == "oct"))
        ]


def b64url_decode(text: str) -> bytes:
    """Strict base64url without padding (RFC 7515 §2): other alphabets, padding and stray characters are refused.

    So are non-zero unused bits in the last character (RFC 4648 §3.5): otherwise one token, or one signature, has
    several spellings that all verify, and anything keyed on the token's text (a cache, a replay list) is fooled.
    """
    if len(text) % 4 == 1 or not _B64URL.fullmatch(text):
        raise ValueError("not base64url")
    try:
        raw = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
    except binascii.Error as exc:
        raise ValueError("not base64url") from exc
    if base64.urlsafe_b64encode(raw).rstrip(b"=") != text.encode("ascii"):
        raise ValueError("not canonical base64url: unused bits are set")
    return raw


def _member(jwk: Mapping[str, Any], name: str) -> bytes:
    value = jwk.get(name)
    if not isinstance(value, str) or not value:
        raise JwkError(f"member {name!r} is missing or not a string")
    try:
        return b64url_decode(value)
    except ValueError:
        raise JwkError(f"member {name!r} is not base64url") from None


def _bound_algorithms(jwk: Mapping[str, Any], allowed: frozenset[str]) -> frozenset[str]:
    alg = jwk.get("alg")
    if alg is None:
        return allowed
    if not isinstance(alg, str) or alg not in allowed:
        raise JwkError(f"alg {alg!r} does not fit a {jwk.get('kty')} key")
    return frozenset({alg})


def _rsa(jwk: Mapping[str, Any]) -> tuple[PublicKey, frozenset[str]]:
    n = int.from_bytes(_member(jwk, "n"), "big")
    e = int.from_bytes(_member(jwk, "e"), "big")
    if n.bit_length() < MIN_RSA_BITS:
        raise JwkError(f"RSA modulus of {n.bit_length()} bits; at least {MIN_RSA_BITS} are required")
    if e < 3 or e % 2 == 0:
        raise JwkError("RSA exponent must be odd and at least 3")
    return rsa.RSAPublicNumbers(e, n).public_key(), _bound_algorithms(jwk, RSA_ALGORITHMS)


def _ec(jwk: Mapping[str, Any]) -> tuple[PublicKey, frozenset[str]]:
    crv = jwk.get("crv")
    if not isinstance(crv, str) or crv not in EC_CURVES:
        raise JwkError(f"EC curve {crv!r} is not supported (P-256, P-384, P-521)")
    alg, curve, size = EC_CURVES[crv]
    x, y = _member(jwk, "x"), _member(jwk, "y")
    if len(x) != size or len(y) != size:
        raise JwkError(f"EC coordinates must be {size} bytes for {crv}")
    try:  # from_encoded_point checks that the point lies on the curve (invalid-curve attacks)
        key = ec.EllipticCurvePublicKey.from_encoded_point(curve, b"\x04" + x + y)
    except ValueError:
        raise JwkError("EC point is not on the curve") from None
    return key, _bound_algorithms(jwk, frozenset({alg}))


def _okp(jwk: Mapping[str, Any]) -> tuple[PublicKey, frozenset[str]]:
    crv = jwk.get("crv")
    if not isinstance(crv, str) or crv not in OKP_CURVES:
        raise JwkError(f"OKP curve {crv!r} is not a signature curve (Ed25519, Ed448)")
    x = _member(jwk, "x")
    if len(x) != OKP_CURVES[crv]:
        raise JwkError(f"OKP x must be {OKP_CURVES[crv]} bytes for {crv}")
    try:
        key: PublicKey = (
            ed25519.Ed25519PublicKey.from_public_bytes(x)
            if crv == "Ed25519"
            else ed448.Ed448PublicKey.from_public_bytes(x)
        )
    except (ValueError, UnsupportedAlgorithm):
        raise JwkError(f"{crv} key is invalid or unsupported here") from None
    return key, _bound_algorithms(jwk, frozenset({"EdDSA"}))


_PARSERS = {"RSA": _rsa, "EC": _ec, "OKP": _okp}


def parse_jwk(jwk: Any) -> VerificationKey:
    """One public signature JWK (RFC 7517/7518/8037) as a bound key; raise JwkError with the reason otherwise."""
    if not isinstance(jwk, dict):
        raise JwkError("a JWK is a JSON object")
    kty = jwk.get("kty")
    if kty not in _PARSERS:
        raise JwkError(f"kty {kty!r} is not accepted (RSA, EC, OKP; symmetric keys never come from a JWKS)")
    private = _PRIVATE_MEMBERS & jwk.keys()
    if private:
        raise JwkError(f"holds private or secret members {sorted(private)}; a JWKS publishes public keys only")
    use = jwk.get("use")
    if use is not None and use != "sig":
        raise JwkError(f"use {use!r} is not 'sig'")
    ops = jwk.get("key_ops")
    if ops is not None and (not isinstance(ops, list) or "verify" not in ops):
        raise JwkError("key_ops does not include 'verify'")
    kid = jwk.get("kid")
    if kid is not None and not isinstance(kid, str):
        raise JwkError("kid is not a string")
    key, algorithms = _PARSERS[kty](jwk)
    return VerificationKey(kid=kid, kty=kty, algorithms=algorithms, key=key)


def parse_jwks(document: Any, allowed: Sequence[str] | None = None) -> KeySet:
    """A JWK Set as bound keys. Unusable keys are skipped with a reason; `allowed` narrows each key's algorithms."""
    if not isinstance(document, dict) or not isinstance(document.get("keys"), list):
        raise JwkError('a JWK Set is a JSON object with a "keys" array')
    entries = document["keys"]
    if len(entries) > MAX_KEYS:
        raise JwkError(f"a JWK Set of {len(entries)} keys is over the limit of {MAX_KEYS}")
    keys: list[VerificationKey] = []
    skipped: list[str] = []
    for index, entry in enumerate(entries):
        try:
            key = parse_jwk(entry)
        except JwkError as exc:
            kid = entry.get("kid") if isinstance(entry, dict) else None
            skipped.append(f"key {index} (kid {kid!r}): {exc}")
            continue
        if allowed is not None:
            key = VerificationKey(key.kid, key.kty, key.algorithms & frozenset(allowed), key.key)
            if not key.algorithms:
                skipped.append(f"key {index} (kid {key.kid!r}): none of its algorithms is allowed by the issuer")
                continue
        keys.append(key)
    return KeySet(tuple(keys), tuple(skipped))


def hmac_key(secret: str, kid: str | None = None) -> KeySet:
    """The issuer's configured HS256 secret: the only way an HMAC key ever exists (config requires >= 32 bytes)."""
    return KeySet((VerificationKey(kid=kid, kty="oct", algorithms=frozenset({"HS256"}), key=secret.encode()),))
