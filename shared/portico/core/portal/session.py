"""Sealed portal cookies and the PKCE pair: pure functions of a key, the time and random bytes.

A sealed value is `base64url(json) "." base64url(HMAC-SHA256(key, label "." json))`. The label binds a value to its
use, so a login-state cookie can never be replayed as a session. The JSON is size-capped before it is parsed, and
it carries its own expiry (`exp`, Unix seconds), checked on every read.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
from collections.abc import Mapping
from typing import Any

MAX_SEALED = 2048  # well under a browser's 4 KB cookie limit; anything longer is refused unread
MIN_KEY_BYTES = 32


class SessionKeyError(ValueError):
    """The signing key is missing or too short."""


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def check_key(key: bytes) -> bytes:
    if len(key) < MIN_KEY_BYTES:
        raise SessionKeyError(f"the portal session key must be at least {MIN_KEY_BYTES} bytes")
    return key


def seal(label: str, payload: Mapping[str, Any], key: bytes, expires: float) -> str:
    body = json.dumps({**payload, "exp": int(expires)}, separators=(",", ":"), sort_keys=True).encode()
    mac = hmac.new(check_key(key), label.encode() + b"." + body, hashlib.sha256).digest()
    return f"{_b64(body)}.{_b64(mac)}"


def unseal(label: str, sealed: str, key: bytes, now: float) -> dict[str, Any] | None:
    """The payload, or None when the value is malformed, forged, for another use, or expired."""
    if len(sealed) > MAX_SEALED or sealed.count(".") != 1:
        return None
    head, _, tag = sealed.partition(".")
    try:
        body, mac = _unb64(head), _unb64(tag)
    except (binascii.Error, ValueError):
        return None
    expected = hmac.new(check_key(key), label.encode() + b"." + body, hashlib.sha256).digest()
    if not hmac.compare_digest(mac, expected):
        return None
    try:
        payload = json.loads(body)  # bounded by MAX_SEALED and authenticated: we wrote it
    except ValueError:
        return None
    if not isinstance(payload, dict):
        return None
    exp = payload.get("exp")
    if not isinstance(exp, int) or isinstance(exp, bool) or exp <= now:
        return None
    return payload


def random_token(rng: bytes) -> str:
    """A URL-safe token from `rng` (pass 32 bytes from a CSPRNG)."""
    return _b64(rng)


def pkce_challenge(verifier: str) -> str:
    """RFC 7636 S256: BASE64URL(SHA256(ASCII(code_verifier)))."""
    return _b64(hashlib.sha256(verifier.encode("ascii")).digest())


def same_token(presented: str | None, expected: str) -> bool:
    return presented is not None and hmac.compare_digest(presented.encode(), expected.encode())
