"""Finding the credentials in a request (RFC 6750 §2): exactly one Bearer token, or exactly one API key."""

from __future__ import annotations

import re

from portico.core.auth.errors import InvalidKey, InvalidRequest, MissingCredentials
from portico.core.http import Request

# RFC 6750 §2.1 b64token: what may follow "Bearer " (a JWT always fits)
_B64TOKEN = re.compile(r"[A-Za-z0-9\-._~+/]+=*")


def bearer_token(request: Request) -> str:
    """The token from `Authorization: Bearer`. Tokens in the URL are refused: they end up in logs and histories."""
    fields = request.headers.get_all("authorization")
    in_query = request.query_get("access_token") is not None
    if in_query and fields:
        raise InvalidRequest("the token was sent both in the Authorization header and in the query")
    if in_query:
        raise InvalidRequest("tokens in the URL are not accepted; send Authorization: Bearer <token>")
    if not fields:
        raise MissingCredentials("a Bearer token is required")
    if len(fields) > 1:
        raise InvalidRequest("more than one Authorization header field")
    scheme, _, rest = fields[0].strip().partition(" ")
    if scheme.lower() != "bearer":
        raise MissingCredentials("a Bearer token is required")
    token = rest.strip()
    if not _B64TOKEN.fullmatch(token):
        raise InvalidRequest("malformed Bearer credentials")
    return token


def api_key(request: Request, header: str) -> str:
    values = request.headers.get_all(header)
    if not values:
        raise MissingCredentials(f"an API key is required in {header}")
    if len(values) > 1:
        raise InvalidRequest(f"more than one {header} header field")
    key = values[0].strip()
    if not key:
        raise InvalidKey("the API key is empty")
    return key
