"""The dev issuer's sign-in: an OIDC authorization endpoint with a login page, and a token endpoint (code + PKCE).

For local development only: whoever types a name is signed in as that subject (there are no passwords), so the
developer portal's sign-in can be tried and tested end to end. Codes are single-use, bound to the client, the
redirect URI and the PKCE challenge (S256 only), and expire after a minute.
"""

from __future__ import annotations

import hashlib
import html
import secrets
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode, urlsplit

from cryptography.hazmat.primitives.asymmetric import rsa

from localdev.issuer import mint

AUTHORIZE_PATH = "/authorize"
TOKEN_PATH = "/token"
CODE_TTL = 60.0
_REQUIRED = ("client_id", "redirect_uri", "state", "nonce", "code_challenge")


class LoginError(ValueError):
    """An authorization or token request the dev issuer refuses; the message is the OAuth error description."""


@dataclass(frozen=True, slots=True)
class _Grant:
    client_id: str
    redirect_uri: str
    challenge: str
    nonce: str
    subject: str
    expires: float


def _b64(data: bytes) -> str:
    import base64

    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


LOOPBACK = frozenset({"127.0.0.1", "localhost", "::1"})


def check_authorize(params: dict[str, str], redirect_hosts: frozenset[str] = LOOPBACK) -> dict[str, str]:
    missing = [name for name in _REQUIRED if not params.get(name)]
    if missing:
        raise LoginError(f"missing {', '.join(missing)}")
    if params.get("response_type", "code") != "code":
        raise LoginError("only response_type=code is supported")
    if params.get("code_challenge_method") != "S256":
        raise LoginError("PKCE with code_challenge_method=S256 is required")
    host = urlsplit(params["redirect_uri"]).hostname or ""
    if host not in redirect_hosts:
        raise LoginError(f"the dev issuer redirects only to {', '.join(sorted(redirect_hosts))}")
    return params


def login_page(params: dict[str, str], issuer_name: str) -> bytes:
    hidden = "".join(
        f'<input type="hidden" name="{html.escape(k)}" value="{html.escape(v)}">'
        for k, v in params.items()
        if k in (*_REQUIRED, "code_challenge_method", "scope", "response_type")
    )
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Sign in: dev issuer</title>
<style>body{{font:16px system-ui,sans-serif;max-width:28rem;margin:4rem auto}}
input,button{{font:inherit;padding:.4rem}}</style>
</head><body>
<h1>Sign in</h1>
<p>Local development issuer at {html.escape(issuer_name)}: any name signs you in as that subject.</p>
<form method="post" action="{AUTHORIZE_PATH}">{hidden}
<label>User name <input id="username" name="username" required pattern="[A-Za-z0-9._@-]{{1,64}}" autofocus></label>
<button id="sign-in" type="submit">Sign in</button>
</form></body></html>""".encode()


class Grants:
    """Issued codes, held in memory by the issuer process."""

    def __init__(
        self,
        key: rsa.RSAPrivateKey,
        issuer: str,
        redirect_hosts: frozenset[str] = LOOPBACK,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._key = key
        self._clock = clock
        self._redirect_hosts = redirect_hosts
        self._issuer = issuer
        self._codes: dict[str, _Grant] = {}
        self._lock = threading.Lock()
        self.exchanged = 0

    def authorize(self, params: dict[str, str]) -> str:
        """The redirect (with a fresh code) for a filled-in login form."""
        check_authorize(params, self._redirect_hosts)
        subject = params.get("username", "")
        if not subject or len(subject) > 64 or not all(c.isalnum() or c in "._@-" for c in subject):
            raise LoginError("a user name is 1-64 letters, digits, '.', '_', '@' or '-'")
        code = secrets.token_urlsafe(32)
        grant = _Grant(
            params["client_id"],
            params["redirect_uri"],
            params["code_challenge"],
            params["nonce"],
            subject,
            time.monotonic() + CODE_TTL,
        )
        with self._lock:
            self._codes = {c: g for c, g in self._codes.items() if g.expires > time.monotonic()}
            self._codes[code] = grant
        query = urlencode({"code": code, "state": params["state"]})
        return f"{params['redirect_uri']}?{query}"

    def token(self, form: dict[str, str], basic_client: str | None) -> dict[str, Any]:
        if form.get("grant_type") != "authorization_code":
            raise LoginError("unsupported_grant_type")
        with self._lock:
            grant = self._codes.pop(form.get("code", ""), None)  # single use, even when the rest is wrong
        client_id = basic_client or form.get("client_id", "")
        if grant is None or grant.expires <= time.monotonic():
            raise LoginError("invalid_grant: unknown, used or expired code")
        if client_id != grant.client_id or form.get("redirect_uri") != grant.redirect_uri:
            raise LoginError("invalid_grant: the code was issued to another client or redirect_uri")
        verifier = form.get("code_verifier", "")
        if _b64(hashlib.sha256(verifier.encode()).digest()) != grant.challenge:
            raise LoginError("invalid_grant: the PKCE verifier does not match")
        self.exchanged += 1
        id_token = mint(
            self._key,
            now=self._clock(),
            sub=grant.subject,
            scope="",
            aud=grant.client_id,
            ttl=300,
            issuer=self._issuer,
            extra={"nonce": grant.nonce, "email": f"{grant.subject}@example.test"},
        )
        return {"id_token": id_token, "token_type": "Bearer", "expires_in": 300}
