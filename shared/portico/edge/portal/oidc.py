"""The portal's sign-in against an OIDC issuer: the authorization request, and the code exchanged for an ID token.

The token endpoint is dialled through the edge's Transport, so the one resolve-and-check path (no metadata or
loopback addresses outside development) applies at connect time as for every other outbound call. The answer is
size-capped before it is parsed, and the ID token is verified with the Issuer's own keys, exact `iss`, `aud` equal to
the portal's client id, and the `nonce` this sign-in sent.
"""

from __future__ import annotations

import base64
from dataclasses import dataclass
from urllib.parse import urlencode, urlsplit

from portico.core.auth.authenticator import KeySources, policy_of
from portico.core.auth.errors import AuthError, UnknownKey
from portico.core.auth.verify import verify
from portico.core.config.documents import Issuer
from portico.core.config.portal import PortalSignIn
from portico.core.headers import Headers
from portico.core.http import Request
from portico.core.portal.session import pkce_challenge
from portico.core.ports import Transport, UpstreamError
from portico.core.untrusted import UntrustedInputError, load_json

MAX_TOKEN_RESPONSE = 64 * 1024
TOKEN_TIMEOUT = 5.0


class SignInError(Exception):
    """Sign-in failed; the message is safe to show (it never carries a token or a code)."""


@dataclass(frozen=True, slots=True)
class SignedIn:
    subject: str
    email: str | None


def authorization_url(issuer: Issuer, sign_in: PortalSignIn, state: str, nonce: str, verifier: str) -> str:
    endpoint = issuer.spec.authorization_endpoint or ""
    query = urlencode(
        {
            "response_type": "code",
            "client_id": sign_in.client_id,
            "redirect_uri": sign_in.redirect_uri,
            "scope": " ".join(sign_in.scopes),
            "state": state,
            "nonce": nonce,
            "code_challenge": pkce_challenge(verifier),
            "code_challenge_method": "S256",
        }
    )
    return f"{endpoint}{'&' if '?' in endpoint else '?'}{query}"


async def exchange_code(
    transport: Transport,
    issuer: Issuer,
    sign_in: PortalSignIn,
    code: str,
    verifier: str,
    client_secret: str | None,
) -> str:
    """POST the code to the token endpoint (RFC 6749 4.1.3 with the RFC 7636 verifier); returns the ID token."""
    url = issuer.spec.token_endpoint or ""
    form = {"grant_type": "authorization_code", "code": code, "redirect_uri": sign_in.redirect_uri}
    form["code_verifier"] = verifier
    headers = Headers(
        [
            ("host", urlsplit(url).netloc),
            ("content-type", "application/x-www-form-urlencoded"),
            ("accept", "application/json"),
        ]
    )
    if client_secret:  # a confidential client (Cognito app client with a secret): client_secret_basic
        pair = f"{sign_in.client_id}:{client_secret}".encode()
        headers.set("authorization", "Basic " + base64.b64encode(pair).decode())
    else:
        form["client_id"] = sign_in.client_id
    body = urlencode(form).encode()
    headers.set("content-length", str(len(body)))
    request = Request(method="POST", path=urlsplit(url).path or "/", headers=headers, body=body)
    try:
        response = await transport.send(request, url, TOKEN_TIMEOUT)
    except UpstreamError as exc:
        raise SignInError(f"the issuer's token endpoint did not answer: {exc}") from None
    if response.status != 200:
        raise SignInError(f"the issuer's token endpoint refused the code (HTTP {response.status})")
    try:
        answer = load_json(response.body, what="the token response", max_bytes=MAX_TOKEN_RESPONSE, max_depth=8)
    except UntrustedInputError as exc:
        raise SignInError(str(exc)) from None
    id_token = answer.get("id_token") if isinstance(answer, dict) else None
    if not isinstance(id_token, str):
        raise SignInError("the token response holds no id_token")
    return id_token


async def verify_id_token(
    sources: KeySources, issuer: Issuer, sign_in: PortalSignIn, id_token: str, nonce: str, now: float
) -> SignedIn:
    # an ID token's audience is the portal's client id; the Issuer's typ rule is for its access tokens
    policy = policy_of(issuer.spec.model_copy(update={"audiences": [sign_in.client_id], "typ": None}))
    source = sources.for_issuer(issuer.spec)
    try:
        try:
            verified = verify(id_token, await source.keys(now), now, policy)
        except UnknownKey:
            if not await source.refresh(now):  # a rotated key: one refetch, rate-limited by the cache
                raise
            verified = verify(id_token, await source.keys(now), now, policy)
    except AuthError as exc:
        raise SignInError(f"the ID token was refused: {exc}") from None
    claims = verified.claims
    if claims.get("nonce") != nonce:
        raise SignInError("the ID token does not carry this sign-in's nonce")
    sub = claims.get("sub")
    if not isinstance(sub, str) or not sub:
        raise SignInError("the ID token has no subject")
    email = claims.get("email")
    return SignedIn(sub, email if isinstance(email, str) else None)
