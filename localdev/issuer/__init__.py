"""The local dev issuer: an RS256 key pair kept in run state, its JWKS, and token minting for `portico dev token`.

The private key never leaves `<state>/issuer/`; the JWKS server (`python -m localdev.issuer`) publishes only the
public half, so the edge fetches it over HTTP exactly as it fetches a real identity provider's keys.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import time
import uuid
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa

PORT = 18099
ISSUER = f"http://127.0.0.1:{PORT}/"
JWKS_PATH = "/.well-known/jwks.json"
AUDIENCE = "api://portico-demo"
DEFAULT_SCOPES = "demo:read"
KEY_FILE = "private-key.pem"


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def issuer_dir(state_dir: Path) -> Path:
    return state_dir / "issuer"


def ensure_key(directory: Path) -> rsa.RSAPrivateKey:
    """Load the dev key pair, generating it on first use (mode 0600: it signs tokens the local edge accepts)."""
    path = directory / KEY_FILE
    if path.exists():
        key = serialization.load_pem_private_key(path.read_bytes(), password=None)
        assert isinstance(key, rsa.RSAPrivateKey)
        return key
    directory.mkdir(parents=True, exist_ok=True)
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as out:
        out.write(pem)
    return key


def public_jwk(key: rsa.RSAPrivateKey) -> dict[str, str]:
    numbers = key.public_key().public_numbers()
    n = numbers.n.to_bytes((numbers.n.bit_length() + 7) // 8, "big")
    e = numbers.e.to_bytes((numbers.e.bit_length() + 7) // 8, "big")
    jwk = {"kty": "RSA", "n": _b64(n), "e": _b64(e)}
    # RFC 7638 thumbprint as the kid: stable for the key, different when the key changes
    canonical = json.dumps({"e": jwk["e"], "kty": "RSA", "n": jwk["n"]}, separators=(",", ":")).encode()
    return {**jwk, "kid": _b64(hashlib.sha256(canonical).digest()), "alg": "RS256", "use": "sig"}


def mint(
    key: rsa.RSAPrivateKey,
    *,
    now: float | None = None,
    sub: str = "dev-user",
    scope: str = DEFAULT_SCOPES,
    aud: str = AUDIENCE,
    ttl: float = 3600,
    issuer: str = ISSUER,
    extra: dict[str, Any] | None = None,
) -> str:
    issued = int(time.time() if now is None else now)
    header = {"alg": "RS256", "typ": "JWT", "kid": public_jwk(key)["kid"]}
    claims: dict[str, Any] = {
        "iss": issuer,
        "sub": sub,
        "aud": aud,
        "iat": issued,
        "nbf": issued,
        "exp": issued + int(ttl),
        "jti": uuid.uuid4().hex,
        **({"scope": scope} if scope else {}),
        **(extra or {}),
    }
    head = _b64(json.dumps(header, separators=(",", ":")).encode())
    body = _b64(json.dumps(claims, separators=(",", ":")).encode())
    signature = key.sign(f"{head}.{body}".encode(), padding.PKCS1v15(), hashes.SHA256())
    return f"{head}.{body}.{_b64(signature)}"
