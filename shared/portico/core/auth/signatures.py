"""Signature checks per JWA algorithm (RFC 7518, RFC 8037), each refusing key material of the wrong type.

The algorithm comes from the token, the key from the issuer's set; a key verifies only algorithms it is bound to
and only through the function of its own type, so an RSA public key can never be used as an HMAC secret.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Callable

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, ed448, ed25519, padding, rsa
from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature

from portico.core.auth.keys import VerificationKey

_HASHES: dict[str, hashes.HashAlgorithm] = {"256": hashes.SHA256(), "384": hashes.SHA384(), "512": hashes.SHA512()}
_PKCS1 = padding.PKCS1v15()
_EC_SIZES = {"ES256": 32, "ES384": 48, "ES512": 66}


def _rsa_pkcs1(bits: str) -> Callable[[VerificationKey, bytes, bytes], bool]:
    digest = _HASHES[bits]

    def check(key: VerificationKey, data: bytes, signature: bytes) -> bool:
        if not isinstance(key.key, rsa.RSAPublicKey):
            return False
        try:
            key.key.verify(signature, data, _PKCS1, digest)
        except InvalidSignature:
            return False
        return True

    return check


def _rsa_pss(bits: str) -> Callable[[VerificationKey, bytes, bytes], bool]:
    digest = _HASHES[bits]
    # RFC 7518 §3.5: MGF1 with the same hash, and a salt as long as the hash output
    pss = padding.PSS(mgf=padding.MGF1(digest), salt_length=digest.digest_size)

    def check(key: VerificationKey, data: bytes, signature: bytes) -> bool:
        if not isinstance(key.key, rsa.RSAPublicKey):
            return False
        try:
            key.key.verify(signature, data, pss, digest)
        except InvalidSignature:
            return False
        return True

    return check


def _ecdsa(alg: str) -> Callable[[VerificationKey, bytes, bytes], bool]:
    size = _EC_SIZES[alg]
    scheme = ec.ECDSA(_HASHES[alg[2:]])

    def check(key: VerificationKey, data: bytes, signature: bytes) -> bool:
        # JWS carries R || S at fixed width (RFC 7518 §3.4), never DER; any other length is malformed
        if not isinstance(key.key, ec.EllipticCurvePublicKey) or len(signature) != 2 * size:
            return False
        r = int.from_bytes(signature[:size], "big")
        s = int.from_bytes(signature[size:], "big")
        if r == 0 or s == 0:
            return False
        try:
            key.key.verify(encode_dss_signature(r, s), data, scheme)
        except InvalidSignature:
            return False
        return True

    return check


def _eddsa(key: VerificationKey, data: bytes, signature: bytes) -> bool:
    if not isinstance(key.key, ed25519.Ed25519PublicKey | ed448.Ed448PublicKey):
        return False
    try:
        key.key.verify(signature, data)
    except InvalidSignature:
        return False
    return True


def _hs256(key: VerificationKey, data: bytes, signature: bytes) -> bool:
    # only the issuer's configured secret is bytes; a public key object never reaches hmac
    if key.kty != "oct" or not isinstance(key.key, bytes):
        return False
    return hmac.compare_digest(hmac.new(key.key, data, hashlib.sha256).digest(), signature)


VERIFIERS: dict[str, Callable[[VerificationKey, bytes, bytes], bool]] = {
    **{f"RS{b}": _rsa_pkcs1(b) for b in _HASHES},
    **{f"PS{b}": _rsa_pss(b) for b in _HASHES},
    **{alg: _ecdsa(alg) for alg in _EC_SIZES},
    "EdDSA": _eddsa,
    "HS256": _hs256,
}


def signature_valid(alg: str, key: VerificationKey, signing_input: bytes, signature: bytes) -> bool:
    """True only when `key` is bound to `alg` and the signature verifies."""
    check = VERIFIERS.get(alg)
    return check is not None and alg in key.algorithms and check(key, signing_input, signature)
